"""The versions document, served at ``/`` (300), ``/versions`` (200) and unknown prefixes."""

from __future__ import annotations

from aiohttp import web

from glance.api.util import base_url

# (id, status, path prefix)
VERSIONS: tuple[tuple[str, str, str], ...] = (
    ("v1.1", "SUPPORTED", "v1"),
    ("v1.0", "SUPPORTED", "v1"),
)


def versions_document(request: web.Request) -> dict:
    base = base_url(request)
    return {"versions": [
        {"id": vid, "status": status,
         "links": [{"rel": "self", "href": f"{base}/{prefix}/"}]}
        for vid, status, prefix in VERSIONS]}


async def multiple_choices(request: web.Request) -> web.Response:
    return web.json_response(versions_document(request), status=300)


async def versions(request: web.Request) -> web.Response:
    return web.json_response(versions_document(request), status=200)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", multiple_choices, allow_head=False)
    app.router.add_get("/versions", versions, allow_head=False)
    # any other version prefix (/v2 until it exists, /v9, /v1.2 …): the versions document;
    # the prefixes we serve are excluded so their unknown paths get 404 and methods 405
    served = r"(?!1(?:\.[01])?(?:/|$))"
    app.router.add_route("*", r"/{version:v" + served + r"\d+(?:\.\d+)?}/{rest:.*}",
                         multiple_choices)
    app.router.add_route("*", r"/{version:v" + served + r"\d+(?:\.\d+)?}", multiple_choices)
