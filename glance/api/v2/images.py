"""Images API v2 handlers of one image: create, show, patch, delete, actions, tags, data,
stage and import, tasks, locations. Handlers translate JSON, query strings and headers for the
ImageService, which decides."""

from __future__ import annotations

from aiohttp import web

from glance.api.params import OCTET_STREAM, is_octet_stream, nonnegative_int
from glance.api.transfer import body_chunks, read_json, send_download
from glance.api.util import base_url, context, service, settings
from glance.api.v2.bodies import answer, image_id, json_body, no_body
from glance.api.v2.discovery import IMPORT_METHODS
from glance.api.v2.patch import PATCH_TYPES, apply_patch, new_location
from glance.api.v2.views import create_request, image_view, task_view
from glance.common import exception
from glance.domain import ACTIVE, Image
from glance.service import Change, NewImage, Upload


async def create(request: web.Request) -> web.Response:
    new_id, fields, properties = create_request(await json_body(request))
    svc = service(request)
    new = NewImage(fields, properties, new_id, amazon_pairs=False)  # v1's rule, not v2's
    image = await svc.create(context(request), new, property_quota=True)
    headers = {"Location": f"{base_url(request)}/v2/images/{image.id}",
               "OpenStack-image-import-methods": ",".join(IMPORT_METHODS),
               "OpenStack-image-store-ids": ",".join(svc.writable_store_names())}
    return answer(image_view(image, svc.store_weights(), svc.shown_locations(image)), 201,
                  headers)


async def show(request: web.Request) -> web.Response:
    no_body(request)
    svc = service(request)
    image = await svc.get(context(request), image_id(request))
    return answer(image_view(image, svc.store_weights(), svc.shown_locations(image)))


async def update(request: web.Request) -> web.Response:
    media_type = request.content_type if "Content-Type" in request.headers else ""
    if media_type not in PATCH_TYPES:
        raise exception.UnsupportedMediaType(
            f"Unsupported Content-Type {media_type or '(none)'} for PATCH; use "
            f"{' or '.join(PATCH_TYPES)}", accept_patch=", ".join(PATCH_TYPES))

    async def change(image: Image) -> Change:
        body = await read_json(request, settings(request).max_json_body_bytes)
        return apply_patch(image, body, media_type)

    svc = service(request)
    image = await svc.patch(context(request), image_id(request), change)
    return answer(image_view(image, svc.store_weights(), svc.shown_locations(image)))


async def delete(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).delete(context(request), image_id(request))
    return web.Response(status=204)


async def deactivate(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).deactivate(context(request), image_id(request))
    return web.Response(status=204)


async def reactivate(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).reactivate(context(request), image_id(request))
    return web.Response(status=204)


async def add_tag(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).add_tag(context(request), image_id(request),
                                   request.match_info["tag"])
    return web.Response(status=204)


async def remove_tag(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).remove_tag(context(request), image_id(request),
                                      request.match_info["tag"])
    return web.Response(status=204)


# -- data --------------------------------------------------------------------------------------

def _declared_size(request: web.Request) -> int | None:
    value = request.headers.get("x-openstack-image-size")
    if value is None:
        return request.content_length
    return nonnegative_int(value, "x-openstack-image-size")


def _upload(request: web.Request) -> Upload:
    """The request's data: 415 unless octet-stream; its declared size and store."""
    if not is_octet_stream(request):
        raise exception.UnsupportedMediaType(
            f"Image data must be sent as Content-Type: {OCTET_STREAM}")
    return Upload(body_chunks(request, settings(request).chunk_size),
                  store=request.headers.get("X-Image-Meta-Store"),
                  size=_declared_size(request))


async def upload(request: web.Request) -> web.Response:
    await service(request).upload(context(request), image_id(request), _upload(request))
    return web.Response(status=204)


async def download(request: web.Request) -> web.StreamResponse:
    no_body(request)
    prefer = [name.strip() for name in request.query.get("prefer", "").split(",")
              if name.strip()]
    download = await service(request).download(context(request), image_id(request),
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


# -- import ------------------------------------------------------------------------------------

async def stage(request: web.Request) -> web.Response:
    data = _upload(request)
    await service(request).stage(context(request), image_id(request), data.chunks, data.size)
    return web.Response(status=204)


async def import_image(request: web.Request) -> web.Response:
    body = await json_body(request)
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
    await service(request).import_image(
        context(request), image_id(request), method["name"], method.get("uri"), stores=stores,
        all_stores=all_stores, all_stores_must_succeed=must_succeed, params=method)
    return web.Response(status=202)


async def delete_from_store(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).delete_from_store(context(request), request.match_info["store"],
                                             image_id(request))
    return web.Response(status=204)


async def tasks(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).image_tasks(context(request), image_id(request))
    return answer({"tasks": [task_view(t) for t in found]})


# -- locations (v2.17) -------------------------------------------------------------------------

async def locations(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).list_locations(context(request), image_id(request))
    return answer([{"url": loc.url, "metadata": loc.metadata} for loc in found])


async def add_location(request: web.Request) -> web.Response:
    new = new_location(await json_body(request))
    await service(request).add_location(context(request), image_id(request), new)
    return web.Response(status=202)
