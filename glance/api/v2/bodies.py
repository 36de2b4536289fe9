"""How v2 handlers read and write bodies: JSON answers, JSON requests, no body."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from glance.api.transfer import has_body, read_json
from glance.api.util import settings
from glance.common import exception


def answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def no_body(request: web.Request) -> None:
    """400 when a request that takes no body carries one."""
    if has_body(request):
        raise exception.BadRequest("A body is not expected with this request.")


async def json_body(request: web.Request) -> object:
    """The request's JSON body: 415 for another media type, 400 when empty or malformed."""
    ctype = request.headers.get("Content-Type")
    if ctype is not None and request.content_type not in ("application/json", ""):
        raise exception.UnsupportedMediaType(
            f"Content-Type {request.content_type} is not supported; use application/json")
    body = await read_json(request, settings(request).max_json_body_bytes)
    if body is None:
        raise exception.BadRequest("Malformed JSON in request body: the body is empty.")
    return body


def image_id(request: web.Request) -> str:
    return request.match_info["image_id"]
