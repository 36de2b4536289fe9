"""The application factory: one app object holds all state, built from Settings."""

from __future__ import annotations

import uuid
from typing import TypedDict

from aiohttp import web
from aiohttp.typedefs import Middleware

from glance.api import console, health, observe, versions
from glance.api.auth import AUTHENTICATOR_KEY, build_authenticator, context_middleware
from glance.api.errors import Handler, error_middleware
from glance.api.params import text_middleware
from glance.api.util import SERVICE_KEY, SETTINGS_KEY
from glance.api.v1 import images as v1_images
from glance.api.v2 import routes as v2_routes
from glance.cache import build_image_cache
from glance.common import exception
from glance.config import Settings
from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import is_current, upgrade_engine
from glance.service import ImageService
from glance.stores import build_staging_store, build_stores, build_web_download_store


def header_budget_middleware(limit: int) -> Middleware:
    """431 for requests whose headers together exceed ``limit`` bytes."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        total = sum(len(name) + len(value) + 4 for name, value in request.raw_headers)
        if total > limit:
            raise exception.HeadersTooLarge(
                f"Request headers total {total} bytes; this server accepts at most {limit} "
                f"(max_header_bytes)")
        return await handler(request)

    return middleware


REQUEST_ID_HEADER = "x-openstack-request-id"


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response carries ``x-openstack-request-id: req-<uuid>``, as OpenStack clients
    log it; one id per request, also available to handlers as ``request["request_id"]``."""
    request_id = request.get("request_id")
    if request_id is None:
        request_id = request["request_id"] = f"req-{uuid.uuid4()}"
    response.headers[REQUEST_ID_HEADER] = request_id


def build_service(settings: Settings) -> ImageService:
    engine = create_registry_engine(settings.resolved_database_url)
    if settings.auto_migrate:
        upgrade_engine(engine)
    elif not is_current(engine):
        engine.dispose()
        raise exception.ConfigError("the registry schema is missing or out of date; run "
                                    "`glance db upgrade` (or start with --auto-migrate true)")
    return ImageService(settings, Registry(engine), build_stores(settings),
                        build_staging_store(settings), build_web_download_store(settings),
                        build_image_cache(settings))


def create_app(settings: Settings) -> web.Application:
    """Build the HTTP application for ``settings`` (no module-level state)."""
    app = web.Application(middlewares=[
        observe.observe_middleware, error_middleware,
        header_budget_middleware(settings.max_header_bytes), text_middleware, context_middleware])
    app[SETTINGS_KEY] = settings
    app[AUTHENTICATOR_KEY] = build_authenticator(settings)
    app[SERVICE_KEY] = build_service(settings)

    async def on_startup(app: web.Application) -> None:
        await app[SERVICE_KEY].start()

    async def on_cleanup(app: web.Application) -> None:
        await app[AUTHENTICATOR_KEY].close()
        await app[SERVICE_KEY].close()

    app.on_response_prepare.append(add_request_id)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    v1_images.add_routes(app)
    v2_routes.add_routes(app)
    versions.add_routes(app)
    health.add_routes(app)
    observe.add_routes(app)
    console.add_routes(app)
    return app


class ServerLimits(TypedDict):
    """Parser limits of the HTTP server (``web.AppRunner`` keywords)."""

    max_line_size: int
    max_field_size: int
    max_headers: int


def server_args(settings: Settings) -> ServerLimits:
    """Parser limits of the HTTP server, well above the budget, so that our middleware (not
    the parser) answers oversized requests with 431 and the JSON envelope."""
    generous = max(16 * settings.max_header_bytes, 1 << 20)
    return {"max_line_size": generous, "max_field_size": generous, "max_headers": 16384}
