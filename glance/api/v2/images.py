"""Images API v2 handlers: images, list, json-patch, actions, tags, data, members, info.

Handlers translate JSON and query strings for the ImageService, which decides.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from glance.api.transfer import body_chunks, has_body, read_json, send_download
from glance.api.util import base_url, context, service, settings
from glance.api.v2.patch import PATCH_TYPES, apply_patch
from glance.api.v2.schemas import SCHEMAS
from glance.api.v2.views import create_request, image_view, member_view, task_view
from glance.common import exception
from glance.stores import unique_stores
from glance.domain import (ACTIVE, MEMBER_STATUSES, SORT_KEYS, STATUSES, TIME_OPERATORS,
                           VISIBILITIES, ImageQuery)

OCTET_STREAM = "application/octet-stream"
IMPORT_METHODS: tuple[str, ...] = ("glance-direct", "web-download", "copy-image")
# query keys that are not extra-property filters
_LIST_CONTROLS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
_IN_FILTERS = ("name", "id", "status", "container_format", "disk_format")
_EXACT_FILTERS = ("owner", "checksum", "os_hash_value")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def no_body(request: web.Request) -> None:
    """400 when a request that takes no body carries one."""
    if has_body(request):
        raise exception.BadRequest("A body is not expected with this request.")


async def _json_body(request: web.Request) -> object:
    ctype = request.headers.get("Content-Type")
    if ctype is not None and request.content_type not in ("application/json", ""):
        raise exception.UnsupportedMediaType(
            f"Content-Type {request.content_type} is not supported; use application/json")
    body = await read_json(request, settings(request).max_json_body_bytes)
    if body is None:
        raise exception.BadRequest("Malformed JSON in request body: the body is empty.")
    return body


# -- schemas and discovery ---------------------------------------------------------------------

async def schema(request: web.Request) -> web.Response:
    no_body(request)
    return _json(SCHEMAS[request.match_info["name"]])


async def info_import(request: web.Request) -> web.Response:
    no_body(request)
    return _json({"import-methods": {"description": "Import methods available.",
                                     "type": "array", "value": list(IMPORT_METHODS)}})


def _stores(request: web.Request, detail: bool) -> list[dict[str, Any]]:
    """Each store instance once, under its own name (aliases such as ``file`` are not stores)."""
    by_name = service(request).stores
    default = by_name[settings(request).default_store].name
    stores: list[dict[str, Any]] = []
    for store in unique_stores(by_name):
        name = store.name
        if name.startswith("os_glance_"):
            continue
        entry: dict[str, Any] = {"id": name, "description": f"{store.driver} store"}
        if name == default:
            entry["default"] = "true"
        if not store.writable:
            entry["read-only"] = "true"
        if detail:
            entry.update(type=store.driver, weight=0, properties={})
        stores.append(entry)
    return stores


async def info_stores(request: web.Request) -> web.Response:
    no_body(request)
    return _json({"stores": _stores(request, detail=False)})


async def info_stores_detail(request: web.Request) -> web.Response:
    no_body(request)
    if not context(request).is_admin:
        raise exception.Forbidden("Store details are for administrators")
    return _json({"stores": _stores(request, detail=True)})


async def info_usage(request: web.Request) -> web.Response:
    """Quota usage of the caller's project; -1: no limit (this server has no quotas on
    image count or bytes)."""
    no_body(request)
    usage = await service(request).usage(context(request))
    mib = 1024 * 1024
    return _json({"usage": {
        "image_size_total": {"limit": -1, "usage": -(-usage["size"] // mib)},
        "image_stage_total": {"limit": -1, "usage": -(-usage["staged"] // mib)},
        "image_count_total": {"limit": -1, "usage": usage["count"]},
        "image_count_uploading": {"limit": -1, "usage": usage["uploading"]},
    }})


# -- images ------------------------------------------------------------------------------------

def _image_id(request: web.Request) -> str:
    return request.match_info["image_id"]


async def create(request: web.Request) -> web.Response:
    image_id, fields, properties = create_request(await _json_body(request))
    image = await service(request).create(context(request), fields, properties,
                                          image_id=image_id, property_quota=True)
    headers = {"Location": f"{base_url(request)}/v2/images/{image.id}",
               "OpenStack-image-import-methods": ",".join(IMPORT_METHODS),
               "OpenStack-image-store-ids": ",".join(_writable_stores(request))}
    return _json(image_view(image), 201, headers)


def _writable_stores(request: web.Request) -> list[str]:
    return [name for name, store in service(request).stores.items() if store.writable]


async def show(request: web.Request) -> web.Response:
    no_body(request)
    return _json(image_view(await service(request).get(context(request), _image_id(request))))


async def update(request: web.Request) -> web.Response:
    media_type = request.content_type if "Content-Type" in request.headers else ""
    if media_type not in PATCH_TYPES:
        raise exception.UnsupportedMediaType(
            f"Unsupported Content-Type {media_type or '(none)'} for PATCH; use "
            f"{' or '.join(PATCH_TYPES)}", accept_patch=", ".join(PATCH_TYPES))
    svc, ctx = service(request), context(request)
    image = await svc.get(ctx, _image_id(request))
    body = await read_json(request, settings(request).max_json_body_bytes)
    change = apply_patch(image, body, media_type)
    image = await svc.update(ctx, image.id, change.fields, change.properties, False,
                             remove_properties=change.removed, property_quota=True,
                             based_on=image)
    return _json(image_view(image))


async def delete(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).delete(context(request), _image_id(request))
    return web.Response(status=204)


async def deactivate(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).deactivate(context(request), _image_id(request))
    return web.Response(status=204)


async def reactivate(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).reactivate(context(request), _image_id(request))
    return web.Response(status=204)


async def add_tag(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).add_tag(context(request), _image_id(request),
                                   request.match_info["tag"])
    return web.Response(status=204)


async def remove_tag(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).remove_tag(context(request), _image_id(request),
                                      request.match_info["tag"])
    return web.Response(status=204)


# -- list --------------------------------------------------------------------------------------

def _split_op(value: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """``("gt", "2020-…")`` from ``gt:2020-…``; values without a known operator are ``eq``."""
    head, sep, rest = value.partition(":")
    if sep and head in allowed:
        return head, rest
    return "eq", value


def _in_values(text: str) -> list[str]:
    """Values of ``in:a,"b, c",d`` — double quotes protect commas, backslash escapes."""
    values, current, quoted, escaped, was_quoted = [], [], False, False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted, was_quoted = not quoted, True
        elif char == "," and not quoted:
            values.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
    if quoted:
        raise exception.BadRequest(f"Invalid in: filter value {text!r}: unbalanced quotes")
    values.append("".join(current) if was_quoted else "".join(current).strip())
    return values


def _int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise exception.BadRequest(f"Bad value for {name}: {value!r} (must be an integer >= 0)")
    return number


def _time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise exception.BadRequest(f"Invalid {name} value {value!r}: use ISO 8601") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _sorting(params: MultiMapping[str]) -> list[tuple[str, str]]:
    keys, dirs = params.getall("sort_key", []), params.getall("sort_dir", [])
    if "sort" in params:
        if keys or dirs:
            raise exception.BadRequest("The 'sort' parameter cannot be combined with "
                                       "sort_key or sort_dir")
        order = []
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            order.append((key.strip(), direction.strip() or "desc"))
    else:
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise exception.BadRequest("Number of sort dirs does not match the number of sort "
                                       "keys")
        keys = keys or ["created_at"]
        if len(dirs) <= 1:
            dirs = [dirs[0] if dirs else "desc"] * len(keys)
        order = list(zip(keys, dirs))
    for key, direction in order:
        if key not in SORT_KEYS:
            raise exception.BadRequest(f"Invalid sort key: {key!r}. Acceptable values: "
                                       f"{', '.join(SORT_KEYS)}")
        if direction not in ("asc", "desc"):
            raise exception.BadRequest(f"Invalid sort direction: {direction!r}. Acceptable "
                                       f"values: asc, desc")
    if all(key != "created_at" for key, _ in order):
        order.append(("created_at", order[-1][1]))
    return order


def parse_list_query(request: web.Request) -> ImageQuery:
    """An ImageQuery from GET /v2/images parameters (400 for any bad value)."""
    params = request.query
    conf = settings(request)
    query = ImageQuery(limit=conf.limit_param_default, member_status="accepted",
                       os_hidden=False)
    if "limit" in params:
        query.limit = min(_int(params["limit"], "limit"), conf.api_limit_max)
    query.marker = params.get("marker") or None
    query.sort = _sorting(params)
    for key in _IN_FILTERS:
        if key not in params:
            continue
        value = params[key]
        op, rest = _split_op(value, ("in", "eq", *TIME_OPERATORS))
        if op == "in":
            query.any_of[key] = _in_values(rest)
        elif op == "eq":
            query.exact[key] = rest
        else:
            raise exception.BadRequest(f"Unable to filter on {key} with operator {op}")
        if key == "status":
            for status in query.any_of.get(key, [query.exact.get(key)]):
                if status not in STATUSES:
                    raise exception.BadRequest(f"Invalid status value: {status}")
    for key in _EXACT_FILTERS:
        if key in params:
            query.exact[key] = params[key]
    if "visibility" in params:
        visibility = params["visibility"]
        if visibility not in (*VISIBILITIES, "all"):
            raise exception.BadRequest(f"Invalid visibility value: {visibility}")
        query.visibility = None if visibility == "all" else visibility
    if "member_status" in params:
        status = params["member_status"]
        if status not in (*MEMBER_STATUSES, "all"):
            raise exception.BadRequest(f"Invalid status value: {status}")
        query.member_status = status
    query.tags = params.getall("tag", [])
    if "size_min" in params:
        query.size_min = _int(params["size_min"], "size_min")
    if "size_max" in params:
        query.size_max = _int(params["size_max"], "size_max")
    for key in ("created_at", "updated_at"):
        for value in params.getall(key, []):
            op, rest = _split_op(value, TIME_OPERATORS)
            if ":" in value and op == "eq" and not value.startswith("eq:"):
                head = value.split(":", 1)[0]
                if head.isalpha():
                    raise exception.BadRequest(f"Invalid operator {head!r} for {key}")
            query.times.append((key, op, _time(rest, key)))
    if "os_hidden" in params:
        hidden = params["os_hidden"].lower()
        if hidden not in ("true", "false"):
            raise exception.BadRequest(f"Invalid value for os_hidden: {params['os_hidden']}")
        query.os_hidden = hidden == "true"
    if "protected" in params:
        if params["protected"] not in ("true", "false"):
            raise exception.BadRequest(f"Invalid value for protected: {params['protected']} "
                                       f"(use true or false)")
        query.exact["protected"] = params["protected"] == "true"
    if "changes-since" in params:
        raise exception.BadRequest("The changes-since filter is not available in v2; use "
                                   "updated_at=gte:<time>")
    known = {*_LIST_CONTROLS, *_IN_FILTERS, *_EXACT_FILTERS, "visibility", "member_status",
             "tag", "size_min", "size_max", "created_at", "updated_at", "os_hidden",
             "protected"}
    for key, value in params.items():
        if key not in known:
            query.properties[key] = value
    return query


def _link(params: MultiMapping[str], marker: str | None) -> str:
    """``/v2/images?…`` with every parameter kept (repeated ones too) and ``marker``."""
    items = [(k, v) for k, v in params.items() if k != "marker"]
    if marker is not None:
        items.append(("marker", marker))
    return "/v2/images" + ("?" + urlencode(items) if items else "")


async def index(request: web.Request) -> web.Response:
    no_body(request)
    query = parse_list_query(request)
    images = await service(request).list_images(context(request), query)
    body: dict[str, Any] = {"images": [image_view(i) for i in images],
                            "first": _link(request.query, None),
                            "schema": "/v2/schemas/images"}
    if images and len(images) == query.limit:
        body["next"] = _link(request.query, images[-1].id)
    return _json(body)


# -- data --------------------------------------------------------------------------------------

def _declared_size(request: web.Request) -> int | None:
    value = request.headers.get("x-openstack-image-size")
    if value is None:
        return request.content_length
    try:
        size = int(value.strip())
    except ValueError:
        size = -1
    if size < 0:
        raise exception.BadRequest(f"Invalid x-openstack-image-size {value!r}: must be an "
                                   f"integer >= 0")
    return size


def _data_request(request: web.Request) -> tuple[int | None, str | None]:
    """415 unless octet-stream; the declared size and the requested store."""
    if request.content_type != OCTET_STREAM or "Content-Type" not in request.headers:
        raise exception.UnsupportedMediaType(
            "Image data must be sent as Content-Type: application/octet-stream")
    return _declared_size(request), request.headers.get("X-Image-Meta-Store")


async def upload(request: web.Request) -> web.Response:
    size, store = _data_request(request)
    svc = service(request)
    if store is not None:
        svc.check_store(store)
    await svc.upload(context(request), _image_id(request),
                     body_chunks(request, settings(request).chunk_size), store_name=store,
                     expected_size=size, failed_status="queued")
    return web.Response(status=204)


async def download(request: web.Request) -> web.StreamResponse:
    no_body(request)
    prefer = [name.strip() for name in request.query.get("prefer", "").split(",")
              if name.strip()]
    download = await service(request).download(context(request), _image_id(request),
                                               allow_empty=True, prefer=prefer)
    if download.store is None and download.image.status != ACTIVE:
        return web.Response(status=204)
    if "," in request.headers.get("Range", ""):
        raise exception.BadRequest("Multiple ranges are not supported")
    response = web.StreamResponse()
    response.content_type = OCTET_STREAM
    if download.image.checksum:
        response.headers["Content-MD5"] = download.image.checksum
    return await send_download(request, response, download)


# -- members -----------------------------------------------------------------------------------

async def members(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).member_list(context(request), _image_id(request))
    return _json({"members": [member_view(m) for m in found], "schema": "/v2/schemas/members"})


async def add_member(request: web.Request) -> web.Response:
    body = await _json_body(request)
    member_id = body.get("member") if isinstance(body, dict) else None
    if not isinstance(member_id, str) or not member_id:
        raise exception.BadRequest('The body must be {"member": "<project id>"}')
    member = await service(request).add_member(context(request), _image_id(request), member_id)
    return _json(member_view(member))


async def show_member(request: web.Request) -> web.Response:
    no_body(request)
    member = await service(request).get_member(context(request), _image_id(request),
                                               request.match_info["member_id"])
    return _json(member_view(member))


async def update_member(request: web.Request) -> web.Response:
    body = await _json_body(request)
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        raise exception.BadRequest('The body must be {"status": "accepted|rejected|pending"}')
    member = await service(request).set_member_status(
        context(request), _image_id(request), request.match_info["member_id"], status)
    return _json(member_view(member))


async def remove_member(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).remove_member(context(request), _image_id(request),
                                         request.match_info["member_id"])
    return web.Response(status=204)


# -- import ------------------------------------------------------------------------------------

async def stage(request: web.Request) -> web.Response:
    size, _ = _data_request(request)
    await service(request).stage(context(request), _image_id(request),
                                 body_chunks(request, settings(request).chunk_size), size)
    return web.Response(status=204)


async def import_image(request: web.Request) -> web.Response:
    body = await _json_body(request)
    method = body.get("method") if isinstance(body, dict) else None
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        raise exception.BadRequest('The body must be {"method": {"name": "<import method>"}}')
    assert isinstance(body, dict)
    header = request.headers.get("X-Image-Meta-Store")
    stores = body.get("stores")
    if stores is not None:
        if header is not None:
            raise exception.BadRequest("Use either X-Image-Meta-Store or stores, not both")
        if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
            raise exception.BadRequest("stores must be a list of store ids")
    elif header is not None:
        stores = [header]
    all_stores, must_succeed = body.get("all_stores", False), body.get(
        "all_stores_must_succeed", True)
    if not isinstance(all_stores, bool) or not isinstance(must_succeed, bool):
        raise exception.BadRequest("all_stores and all_stores_must_succeed must be true or "
                                   "false")
    svc, ctx = service(request), context(request)
    if method["name"] == "copy-image":
        await svc.import_image(ctx, _image_id(request), "copy-image", stores=stores,
                               all_stores=all_stores, all_stores_must_succeed=must_succeed)
        return web.Response(status=202)
    if stores is not None and len(stores) != 1:
        raise exception.BadRequest(f"{method['name']} imports into exactly one store")
    if all_stores:
        raise exception.BadRequest(f"all_stores is only supported by copy-image, not by "
                                   f"{method['name']}: name one store")
    await svc.import_image(ctx, _image_id(request), method["name"], method.get("uri"),
                           stores[0] if stores else None)
    return web.Response(status=202)


async def delete_from_store(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).delete_from_store(context(request), request.match_info["store"],
                                             _image_id(request))
    return web.Response(status=204)


async def tasks(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).image_tasks(context(request), _image_id(request))
    return _json({"tasks": [task_view(t) for t in found]})
