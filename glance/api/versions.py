"""The versions document, served at ``/`` (300), ``/versions`` (200) and unknown prefixes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from glance.api.util import base_url

# (id, status, path prefix): every v2.x we implement (glanceclient looks for exact ids, e.g.
# v2.12 before image-tasks), then v1
VERSIONS: tuple[tuple[str, str, str], ...] = (
    ("v2.17", "CURRENT", "v2"),
    *((f"v2.{minor}", "SUPPORTED", "v2") for minor in range(16, -1, -1)),
    ("v1.1", "SUPPORTED", "v1"),
    ("v1.0", "SUPPORTED", "v1"),
)


def versions_document(request: web.Request) -> dict[str, Any]:
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
    # keystoneauth discovers from the endpoint it is given first: with an endpoint override
    # ending in /v2 (openstacksdk) that is GET /v2
    app.router.add_get("/v2", versions, allow_head=False)
    app.router.add_get("/v2/", versions, allow_head=False)
    # any other version prefix (/v9, /v1.2 …): the versions document; the prefixes we serve
    # are excluded so their unknown paths get 404 and methods 405
    served = r"(?!(?:1(?:\.[01])?|2)(?:/|$))"
    app.router.add_route("*", r"/{version:v" + served + r"\d+(?:\.\d+)?}/{rest:.*}",
                         multiple_choices)
    app.router.add_route("*", r"/{version:v" + served + r"\d+(?:\.\d+)?}", multiple_choices)
