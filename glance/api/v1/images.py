"""Images API v1: routes and handlers. Handlers translate; the ImageService decides."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from aiohttp import web

from glance.api.transfer import body_chunks, has_body, read_json, send_download
from glance.api.util import base_url, context, service, settings
from glance.api.v1.headers import (MetaHeaders, image_dict, image_headers, image_uri,
                                   parse_bool, parse_meta_headers, parse_nonnegative_int)
from glance.common import exception
from glance.stores.http import check_url
from glance.domain import SORT_KEYS, Image, ImageQuery

PREFIXES: tuple[str, ...] = ("", "/v1", "/v1.0", "/v1.1")
OCTET_STREAM = "application/octet-stream"
EXACT_FILTERS: tuple[str, ...] = ("name", "status", "disk_format", "container_format")
INT_FILTERS: tuple[str, ...] = ("min_ram", "min_disk")


# -- listing ----------------------------------------------------------------------------------

def _parse_query(request: web.Request) -> ImageQuery:
    params = request.query
    conf = settings(request)
    query = ImageQuery(limit=conf.limit_param_default)
    for key in EXACT_FILTERS:
        if key in params:
            query.exact[key] = params[key]
    for key in INT_FILTERS:
        if key in params:
            query.exact[key] = _int_param(params[key], key)
    if "protected" in params:
        query.exact["protected"] = _bool_param(params["protected"], "protected")
    if "size_min" in params:
        query.size_min = _int_param(params["size_min"], "size_min")
    if "size_max" in params:
        query.size_max = _int_param(params["size_max"], "size_max")
    for key, value in params.items():
        if key.startswith("property-") and len(key) > len("property-"):
            query.properties[key[len("property-"):]] = value
    if "is_public" in params:
        value = params["is_public"].strip().lower()
        if value != "none":
            query.is_public = _bool_param(value, "is_public")
    if "changes-since" in params:
        query.changes_since = _time_param(params["changes-since"], "changes-since")
    if "sort_key" in params:
        if params["sort_key"] not in SORT_KEYS:
            raise exception.BadRequest(
                f"Unsupported sort_key {params['sort_key']!r}. Acceptable values: "
                f"{', '.join(SORT_KEYS)}")
        query.sort_key = params["sort_key"]
    if "sort_dir" in params:
        if params["sort_dir"] not in ("asc", "desc"):
            raise exception.BadRequest(
                f"Unsupported sort_dir {params['sort_dir']!r}. Acceptable values: asc, desc")
        query.sort_dir = params["sort_dir"]
    if "limit" in params:
        query.limit = min(_int_param(params["limit"], "limit"), conf.api_limit_max)
    if params.get("marker"):
        query.marker = params["marker"]
    return query


def _int_param(value: str, name: str) -> int:
    try:
        return parse_nonnegative_int(value, name)
    except exception.BadRequest:
        raise exception.BadRequest(
            f"Bad value passed to filter {name}: {value!r} (must be an integer >= 0)") from None


def _bool_param(value: str, name: str) -> bool:
    try:
        return parse_bool(value, name)
    except exception.BadRequest:
        raise exception.BadRequest(
            f"Bad value passed to filter {name}: {value!r} (must be true or false)") from None


def _time_param(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise exception.BadRequest(
            f"Unrecognized {name} value {value!r}: use ISO 8601") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


async def index(request: web.Request) -> web.Response:
    images = await service(request).list_images(context(request), _parse_query(request))
    base = base_url(request)
    return web.json_response({"images": [image_dict(i, base, detail=False) for i in images]})


async def detail(request: web.Request) -> web.Response:
    images = await service(request).list_images(context(request), _parse_query(request))
    base = base_url(request)
    return web.json_response({"images": [image_dict(i, base) for i in images]})


async def detail_other(request: web.Request) -> web.Response:
    raise web.HTTPMethodNotAllowed(request.method, ["GET"])


# -- one image --------------------------------------------------------------------------------

async def meta(request: web.Request) -> web.Response:
    image = await service(request).get(context(request), request.match_info["image_id"])
    return web.Response(status=200, headers=image_headers(image))


async def show(request: web.Request) -> web.StreamResponse:
    download = await service(request).download(context(request), request.match_info["image_id"])
    response = web.StreamResponse(headers=image_headers(download.image))
    response.content_type = OCTET_STREAM
    return await send_download(request, response, download)


def _check_body_type(request: web.Request) -> bool:
    """Whether the request has image data; 400 unless it is application/octet-stream."""
    if not has_body(request):
        return False
    if "Content-Type" not in request.headers or request.content_type != OCTET_STREAM:
        raise exception.BadRequest("Content-Type must be application/octet-stream")
    return True


def _split_meta(meta: MetaHeaders) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split parsed headers into service fields and the upload/identity controls."""
    fields = dict(meta.fields)
    controls = {key: fields.pop(key, None) for key in
                ("id", "type", "size", "checksum", "store", "location", "status")}
    if controls["type"] is None and "type" in meta.properties:
        controls["type"] = meta.properties["type"]  # `type` is a property, validated as one
    if "is_public" in fields:
        is_public = fields.pop("is_public")
        if is_public is not None:
            fields["visibility"] = "public" if is_public else "shared"
    if fields.get("protected") is None:
        fields.pop("protected", None)
    for key in ("min_ram", "min_disk"):
        if key in fields and fields[key] is None:
            fields[key] = 0
    return fields, controls


def _check_sources(request: web.Request, body: bool, controls: dict[str, Any]) -> str | None:
    """400 unless at most one of body, location and copy-from is given; the copy-from URL."""
    copy_from = request.headers.get("x-glance-api-copy-from")
    for url in (controls["location"], copy_from):
        if url is not None:
            check_url(url)
    if sum([body, controls["location"] is not None, copy_from is not None]) > 1:
        raise exception.BadRequest("It's invalid to provide multiple image sources.")
    return copy_from


async def _add_data(request: web.Request, image: Image, body: bool, copy_from: str | None,
                    controls: dict[str, Any]) -> Image:
    """Fill a queued image from whichever source the request names (if any)."""
    svc, ctx = service(request), context(request)
    if body:
        return await _upload(request, image, controls)
    if controls["location"] is not None:
        return await svc.register_location(ctx, image.id, controls["location"])
    if copy_from is not None:
        return await svc.copy_from(ctx, image.id, copy_from, controls["store"],
                                   controls["size"], controls["checksum"])
    return image


async def _upload(request: web.Request, image: Image, controls: dict[str, Any]) -> Image:
    conf = settings(request)
    return await service(request).upload(
        context(request), image.id, body_chunks(request, conf.chunk_size),
        store_name=controls["store"], expected_size=controls["size"],
        expected_checksum=controls["checksum"])


def _image_response(request: web.Request, image: Image, status: int) -> web.Response:
    headers = {"Location": image_uri(base_url(request), image.id)}
    if image.checksum:
        headers["ETag"] = image.checksum
    return web.json_response({"image": image_dict(image, base_url(request))}, status=status,
                             headers=headers)


async def create(request: web.Request) -> web.Response:
    meta_headers = parse_meta_headers(request.headers)
    fields, controls = _split_meta(meta_headers)
    body = _check_body_type(request)
    copy_from = _check_sources(request, body, controls)
    if controls["status"] not in (None, "queued"):
        raise exception.Forbidden("Attribute 'status' is read-only")
    svc = service(request)
    if controls["store"] is not None:
        svc.check_store(controls["store"])
    # a source we will not read from is refused before any record exists
    if controls["location"] is not None:
        await svc.check_source(controls["location"], readable=True)
    elif copy_from is not None:
        await svc.check_source(copy_from)
    image = await svc.create(context(request), fields, meta_headers.properties,
                             image_id=controls["id"], image_type=controls["type"])
    image = await _add_data(request, image, body, copy_from, controls)
    return _image_response(request, image, 201)


async def update(request: web.Request) -> web.Response:
    image_id = request.match_info["image_id"]
    svc = service(request)
    ctx = context(request)
    current = await svc.get(ctx, image_id)
    meta_headers = parse_meta_headers(request.headers)
    fields, controls = _split_meta(meta_headers)
    body = _check_body_type(request)
    copy_from = _check_sources(request, body, controls)
    if controls["id"] is not None and controls["id"] != current.id:
        raise exception.Forbidden("Attribute 'id' is read-only")
    if controls["status"] is not None and controls["status"] != current.status:
        raise exception.Forbidden("Attribute 'status' is read-only")
    if body and current.status != "queued":
        raise exception.Conflict("Cannot upload to an unqueued image")
    if controls["store"] is not None:
        svc.check_store(controls["store"])
    purge = not body and request.headers.get(
        "x-glance-registry-purge-props", "true").strip().lower() != "false"
    image = await svc.update(ctx, image_id, fields, meta_headers.properties, purge,
                             image_type=controls["type"])
    image = await _add_data(request, image, body, copy_from, controls)
    return _image_response(request, image, 200)


async def delete(request: web.Request) -> web.Response:
    await service(request).delete(context(request), request.match_info["image_id"])
    return web.Response(status=200)


# -- members ----------------------------------------------------------------------------------

def _membership_list(body: object) -> dict[str, bool | None]:
    if isinstance(body, dict) and "memberships" in body:
        body = body["memberships"]
    elif isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise exception.BadRequest("Invalid membership association: expected "
                                   '{"memberships": [{"member_id": …, "can_share": …}]}')
    members: dict[str, bool | None] = {}
    for entry in body:
        if not isinstance(entry, dict) or not isinstance(entry.get("member_id"), str) \
                or not entry["member_id"]:
            raise exception.BadRequest(
                f"Invalid membership association: {entry!r} has no member_id")
        can_share = entry.get("can_share")
        if can_share is not None and not isinstance(can_share, bool):
            raise exception.BadRequest(
                f"Invalid membership association: can_share of {entry['member_id']} must be "
                f"true or false")
        members[entry["member_id"]] = can_share
    return members


async def members(request: web.Request) -> web.Response:
    found = await service(request).members(context(request), request.match_info["image_id"])
    return web.json_response({"members": [
        {"member_id": m.member_id, "can_share": m.can_share} for m in found]})


async def replace_members(request: web.Request) -> web.Response:
    body = await read_json(request, settings(request).max_json_body_bytes)
    await service(request).replace_members(context(request), request.match_info["image_id"],
                                           _membership_list(body))
    return web.Response(status=204)


async def add_member(request: web.Request) -> web.Response:
    body = await read_json(request, settings(request).max_json_body_bytes)
    can_share: bool | None = None
    if body is not None:
        member = body.get("member") if isinstance(body, dict) else None
        if not isinstance(member, dict) or not isinstance(member.get("can_share", False), bool):
            raise exception.BadRequest(
                'Invalid membership association: expected {"member": {"can_share": true|false}}')
        can_share = member.get("can_share")
    await service(request).set_member(context(request), request.match_info["image_id"],
                                      request.match_info["member_id"], can_share)
    return web.Response(status=204)


async def delete_member(request: web.Request) -> web.Response:
    await service(request).delete_member(context(request), request.match_info["image_id"],
                                         request.match_info["member_id"])
    return web.Response(status=204)


async def shared_images(request: web.Request) -> web.Response:
    found = await service(request).shared_with(context(request), request.match_info["member_id"])
    return web.json_response({"shared_images": [
        {"image_id": m.image_id, "can_share": m.can_share} for m in found]})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Routes are data: (path, {method: handler}) relative to each prefix.
ROUTES: tuple[tuple[str, dict[str, Handler]], ...] = (
    ("", {"GET": index}),
    ("/", {"GET": index}),
    ("/images", {"GET": index, "POST": create}),
    ("/images/detail", {"GET": detail, "*": detail_other}),
    ("/images/{image_id}", {"HEAD": meta, "GET": show, "PUT": update, "DELETE": delete}),
    ("/images/{image_id}/members", {"GET": members, "PUT": replace_members}),
    ("/images/{image_id}/members/{member_id}", {"PUT": add_member, "DELETE": delete_member}),
    ("/shared-images/{member_id}", {"GET": shared_images}),
)


def add_routes(app: web.Application) -> None:
    """Serve v1 at the root and under /v1, /v1.0 and /v1.1."""
    for prefix in PREFIXES:
        for path, methods in ROUTES:
            if not prefix and path in ("", "/"):
                continue  # GET / is the versions document
            resource = app.router.add_resource(prefix + path)
            for method, handler in methods.items():
                resource.add_route(method, handler)
