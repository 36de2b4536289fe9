"""What a v2 client asks before it works: schemas, import methods, stores, usage."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from glance.api.util import context, service
from glance.api.v2.bodies import answer, no_body
from glance.api.v2.schemas import SCHEMAS
from glance.common import exception

IMPORT_METHODS: tuple[str, ...] = ("glance-direct", "web-download", "copy-image",
                                   "glance-download")


async def schema(request: web.Request) -> web.Response:
    no_body(request)
    return answer(SCHEMAS[request.match_info["name"]])


async def info_import(request: web.Request) -> web.Response:
    no_body(request)
    return answer({"import-methods": {"description": "Import methods available.",
                                      "type": "array", "value": list(IMPORT_METHODS)}})


def _stores(request: web.Request, detail: bool) -> list[dict[str, Any]]:
    stores: list[dict[str, Any]] = []
    for info in service(request).store_infos():
        entry: dict[str, Any] = {"id": info.name, "description": f"{info.driver} store"}
        if info.default:
            entry["default"] = "true"
        if not info.writable:
            entry["read-only"] = "true"
        entry["weight"] = info.weight
        if detail:
            entry.update(type=info.driver, properties={})
        stores.append(entry)
    return stores


async def info_stores(request: web.Request) -> web.Response:
    no_body(request)
    return answer({"stores": _stores(request, detail=False)})


async def info_stores_detail(request: web.Request) -> web.Response:
    no_body(request)
    if not context(request).is_admin:
        raise exception.Forbidden("Store details are for administrators")
    return answer({"stores": _stores(request, detail=True)})


async def info_usage(request: web.Request) -> web.Response:
    """Quota usage of the caller's project; -1: no limit (this server has no quotas on
    image count or bytes)."""
    no_body(request)
    usage = await service(request).usage(context(request))
    mib = 1024 * 1024
    return answer({"usage": {
        "image_size_total": {"limit": -1, "usage": -(-usage["size"] // mib)},
        "image_stage_total": {"limit": -1, "usage": -(-usage["staged"] // mib)},
        "image_count_total": {"limit": -1, "usage": usage["count"]},
        "image_count_uploading": {"limit": -1, "usage": usage["uploading"]},
    }})
