"""Images API v1: routes and handlers. Handlers translate; the ImageService decides."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web

from glance.api.params import (
    OCTET_STREAM,
    has_octet_stream,
    nonnegative_int,
    sort_dir,
    sort_key,
    timestamp,
)
from glance.api.transfer import body_chunks, read_json, send_download
from glance.api.util import base_url, context, service, settings
from glance.api.v1.headers import (
    CHECKS,
    CONTROLS,
    image_dict,
    image_headers,
    image_uri,
    parse_bool,
    parse_meta_headers,
)
from glance.common import exception
from glance.domain import BY_NAME, FIELDS, Image, ImageQuery
from glance.service import Change, Claims, NewImage, Source

PREFIXES: tuple[str, ...] = ("", "/v1", "/v1.0", "/v1.1")


# -- listing ----------------------------------------------------------------------------------

def _parse_query(request: web.Request) -> ImageQuery:
    params = request.query
    conf = settings(request)
    query = ImageQuery(limit=conf.limit_param_default)
    for field in FIELDS:
        if field.v1_filter and field.name in params:
            value = params[field.name]
            query.exact[field.name] = (nonnegative_int(value, field.name, field.maximum)
                                       if field.kind == "int"
                                       else _bool_param(value, field.name)
                                       if field.kind == "bool" else value)
    largest = BY_NAME["size"].maximum
    if "size_min" in params:
        query.size_min = nonnegative_int(params["size_min"], "size_min", largest)
    if "size_max" in params:
        query.size_max = nonnegative_int(params["size_max"], "size_max", largest)
    for key, value in params.items():
        if key.startswith("property-") and len(key) > len("property-"):
            query.properties[key[len("property-"):]] = value
    if "is_public" in params:
        value = params["is_public"].strip().lower()
        if value != "none":
            query.is_public = _bool_param(value, "is_public")
    if "changes-since" in params:
        query.changes_since = timestamp(params["changes-since"], "changes-since")
    if "sort_key" in params:
        query.sort_key = sort_key(params["sort_key"])
    if "sort_dir" in params:
        query.sort_dir = sort_dir(params["sort_dir"])
    if "limit" in params:
        query.limit = min(nonnegative_int(params["limit"], "limit"), conf.api_limit_max)
    if params.get("marker"):
        query.marker = params["marker"]
    return query


def _bool_param(value: str, name: str) -> bool:
    try:
        return parse_bool(value, name)
    except exception.BadRequest:
        raise exception.BadRequest(
            f"Bad value passed to filter {name}: {value!r} (must be true or false)") from None


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


def _request(request: web.Request) -> tuple[Change, Source, dict[str, Any]]:
    """What a create or update says: its metadata (the service's names), the source of its
    data, and the claims (``id``, ``status``) it makes."""
    meta = parse_meta_headers(request.headers)
    fields = dict(meta.fields)
    controls = {key: fields.pop(key, None) for key in CHECKS | CONTROLS}
    if controls["type"] is None and "type" in meta.properties:
        controls["type"] = meta.properties["type"]  # `type` is a property, validated as one
    if "is_public" in fields:  # a boolean header is never None (`None` reads as false)
        fields["visibility"] = "public" if fields.pop("is_public") else "shared"
    for key in ("min_ram", "min_disk"):
        if key in fields and fields[key] is None:
            fields[key] = 0
    body = has_octet_stream(request)
    source = Source(body=body_chunks(request, settings(request).chunk_size) if body else None,
                    location=controls["location"],
                    copy_from=request.headers.get("x-glance-api-copy-from"),
                    store=controls["store"], size=controls["size"],
                    checksum=controls["checksum"])
    purge = not body and request.headers.get(
        "x-glance-registry-purge-props", "true").strip().lower() != "false"
    change = Change(fields, meta.properties, purge_properties=purge,
                    image_type=controls["type"])
    return change, source, controls


def _image_response(request: web.Request, image: Image, status: int) -> web.Response:
    headers = {"Location": image_uri(base_url(request), image.id)}
    if image.checksum:
        headers["ETag"] = image.checksum
    return web.json_response({"image": image_dict(image, base_url(request))}, status=status,
                             headers=headers)


async def create(request: web.Request) -> web.Response:
    change, source, controls = _request(request)
    image = await service(request).register(
        context(request), NewImage(change.fields, change.properties, controls["id"],
                                   change.image_type), source, controls["status"])
    return _image_response(request, image, 201)


async def update(request: web.Request) -> web.Response:
    change, source, controls = _request(request)
    image = await service(request).revise(
        context(request), request.match_info["image_id"], change, source,
        Claims(controls["id"], controls["status"]))
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
    found = await service(request).sharing.members(context(request),
                                                   request.match_info["image_id"])
    return web.json_response({"members": [
        {"member_id": m.member_id, "can_share": m.can_share} for m in found]})


async def replace_members(request: web.Request) -> web.Response:
    body = await read_json(request, settings(request).max_json_body_bytes)
    await service(request).sharing.replace_members(
        context(request), request.match_info["image_id"], _membership_list(body))
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
    await service(request).sharing.set_member(
        context(request), request.match_info["image_id"], request.match_info["member_id"],
        can_share)
    return web.Response(status=204)


async def delete_member(request: web.Request) -> web.Response:
    await service(request).sharing.delete_member(
        context(request), request.match_info["image_id"], request.match_info["member_id"])
    return web.Response(status=204)


async def shared_images(request: web.Request) -> web.Response:
    found = await service(request).sharing.shared_with(context(request),
                                                       request.match_info["member_id"])
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
