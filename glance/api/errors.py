"""Errors to HTTP responses: status, title and headers come from the exception's class; one
JSON envelope."""

from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web

from glance.common import exception

LOG = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: exception.GlanceException) -> web.Response:
    """The nested JSON error envelope every error uses."""
    body = json.dumps({"error": {"code": error.code, "title": error.title,
                                 "message": error.message}})
    return web.Response(status=error.code, text=body, content_type="application/json",
                        headers=error.headers())


def _from_aiohttp(request: web.Request, exc: web.HTTPException) -> exception.GlanceException:
    """The glance error standing for an error aiohttp raised itself (no route, no method)."""
    if exc.status == 404:
        return exception.NotFound(f"No resource at {request.path}")
    if exc.status == 405:
        return exception.MethodNotAllowed(
            f"Method {request.method} is not allowed on {request.path}",
            allow=exc.headers.get("Allow"))
    return exception.from_status(exc.status, exc.reason)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except exception.GlanceException as exc:
        if exc.code >= 500:
            LOG.error("%s %s failed: %s", request.method, request.path, exc)
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_aiohttp(request, exc))
    except ConnectionError:  # the client went away (reset, aborted, a broken pipe)
        raise
    except Exception:
        LOG.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(exception.ServerError(
            "The server failed to complete the request; see its log"))
