"""The cache API (v2.14+, admin only): this node's cached and queued images, queue one for
prefetching, drop one, clear the cache and/or the queue."""

from __future__ import annotations

from aiohttp import web

from glance.api.util import context, service
from glance.api.v2.bodies import answer, image_id, no_body

CLEAR_TARGET_HEADER = "x-image-cache-clear-target"


async def listing(request: web.Request) -> web.Response:
    no_body(request)
    cached, queued = await service(request).cache_listing(context(request))
    return answer({"cached_images": [
        {"image_id": e.image_id, "hits": e.hits, "last_accessed": e.last_accessed,
         "last_modified": e.last_modified, "size": e.size} for e in cached],
        "queued_images": queued})


async def enqueue(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).cache_enqueue(context(request), image_id(request))
    return web.Response(status=202)


async def remove(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).cache_remove(context(request), image_id(request))
    return web.Response(status=204)


async def clear(request: web.Request) -> web.Response:
    no_body(request)
    target = request.headers.get(CLEAR_TARGET_HEADER, "both").strip().lower()
    await service(request).cache_clear(context(request), target)
    return web.Response(status=204)
