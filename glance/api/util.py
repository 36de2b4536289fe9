"""Small request helpers shared by the API versions."""

from __future__ import annotations

from typing import cast

from aiohttp import web

from glance.config import Settings
from glance.context import RequestContext
from glance.service import ImageService

SETTINGS_KEY = web.AppKey("settings", Settings)
SERVICE_KEY = web.AppKey("service", ImageService)


def settings(request: web.Request) -> Settings:
    return request.app[SETTINGS_KEY]


def service(request: web.Request) -> ImageService:
    return request.app[SERVICE_KEY]


def context(request: web.Request) -> RequestContext:
    return cast(RequestContext, request["context"])  # set by the auth middleware


def base_url(request: web.Request) -> str:
    """Public base URL of the service: configured, or from the request's Host."""
    configured = request.app[SETTINGS_KEY].public_endpoint
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request.host}"
