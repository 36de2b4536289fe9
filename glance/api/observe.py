"""What the server tells its operators about each request: Prometheus metrics (and the
``GET /metrics`` exposition)."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from glance.api.errors import Handler
from glance.api.util import service

CLIENT_GONE = 499  # as nginx: the client closed the connection before the answer


def route_of(request: web.Request) -> str:
    """The route template that matched (``/v2/images/{image_id}``), never the raw path (its
    ids would make a series per image); ``unmatched`` for paths no route serves."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each request by route, method and status and time it (body included)."""
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:  # redirects and the like pass through
        status = exc.status
        raise
    except (ConnectionResetError, ConnectionAbortedError, asyncio.CancelledError):
        status = CLIENT_GONE
        raise
    finally:
        metrics = service(request).metrics
        route, method = route_of(request), request.method
        metrics.requests.labels(route, method, str(status)).inc()
        metrics.request_seconds.labels(route, method).observe(time.monotonic() - started)


async def metrics_page(request: web.Request) -> web.Response:
    body, content_type = service(request).metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_page, allow_head=False)
