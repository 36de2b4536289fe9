"""One table from errors to HTTP responses, one JSON envelope."""

from __future__ import annotations

import json
import logging
from typing import Awaitable, Callable

from aiohttp import web

from glance.common import exception

LOG = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# exception class → (status, title); the first matching class in MRO order wins
STATUS_TABLE: dict[type[exception.GlanceException], tuple[int, str]] = {
    exception.HeadersTooLarge: (431, "Request Header Fields Too Large"),
    exception.BadRequest: (400, "Bad Request"),
    exception.NotAuthenticated: (401, "Unauthorized"),
    exception.Forbidden: (403, "Forbidden"),
    exception.NotFound: (404, "Not Found"),
    exception.MethodNotAllowed: (405, "Method Not Allowed"),
    exception.Conflict: (409, "Conflict"),
    exception.Gone: (410, "Gone"),
    exception.LimitExceeded: (413, "Request Entity Too Large"),
    exception.UnsupportedMediaType: (415, "Unsupported Media Type"),
    exception.RangeNotSatisfiable: (416, "Requested Range Not Satisfiable"),
    exception.ServiceUnavailable: (503, "Service Unavailable"),
    exception.StoreError: (503, "Service Unavailable"),
    exception.GlanceException: (500, "Internal Server Error"),
}


def status_of(exc: exception.GlanceException) -> tuple[int, str]:
    for cls in type(exc).__mro__:
        if cls in STATUS_TABLE:
            return STATUS_TABLE[cls]  # type: ignore[index]
    return 500, "Internal Server Error"


def error_response(status: int, title: str, message: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The nested JSON error envelope every error uses."""
    body = json.dumps({"error": {"code": status, "title": title, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json",
                        headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except exception.GlanceException as exc:
        status, title = status_of(exc)
        headers = dict(getattr(exc, "headers", None) or {})
        if isinstance(exc, exception.LimitExceeded) and exc.retry_after:
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, exception.UnsupportedMediaType) and exc.accept_patch:
            headers["Accept-Patch"] = exc.accept_patch
        if status >= 500:
            LOG.error("%s %s failed: %s", request.method, request.path, exc)
        return error_response(status, title, exc.message, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") \
            else exc.reason
        if exc.status == 405:
            message = f"Method {request.method} is not allowed on {request.path}"
        elif exc.status == 404:
            message = f"No resource at {request.path}"
        return error_response(exc.status, exc.reason, message, headers)
    except (ConnectionResetError, ConnectionAbortedError):
        raise
    except Exception:
        LOG.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "Internal Server Error",
                              "The server failed to complete the request; see its log")
