"""What the server tells its operators about each request: Prometheus metrics (and the
``GET /metrics`` exposition) and one access-log line (logger ``glance.access``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from aiohttp import web

from glance.api.errors import Handler
from glance.api.util import service, settings

ACCESS_LOG = logging.getLogger("glance.access")

CLIENT_GONE = 499  # as nginx: the client closed the connection before the answer


def route_of(request: web.Request) -> str:
    """The route template that matched (``/v2/images/{image_id}``), never the raw path (its
    ids would make a series per image); ``unmatched`` for paths no route serves."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count each request by route, method and status and time it (body included); log it."""
    started = time.monotonic()
    status = 500
    request["request_id"] = f"req-{uuid.uuid4()}"
    response: web.StreamResponse | None = None
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
        seconds = time.monotonic() - started
        metrics.request_seconds.labels(route, method).observe(seconds)
        if settings(request).access_log:
            log_access(request, response, status, seconds)


def log_access(request: web.Request, response: web.StreamResponse | None, status: int,
               seconds: float) -> None:
    """One line for the request: id, caller project, method, path, status, bytes received
    and sent, duration (with ``log_format = json`` also as fields)."""
    context = request.get("context")
    project = getattr(context, "project_id", None) or "-"
    received = request.content.total_bytes  # what arrived, even of a body cut short
    sent = request.get("bytes_sent")
    if sent is None:  # a body the handler built whole (JSON, an error): its declared length
        sent = (response.content_length or 0) if response is not None and \
            request.method != "HEAD" else 0
    fields = {"request_id": request["request_id"], "project": project,
              "method": request.method, "path": request.path, "status": status,
              "bytes_in": received, "bytes_out": sent, "duration": round(seconds, 6)}
    ACCESS_LOG.info('%s %s "%s %s" %d in=%d out=%d %.3fs', fields["request_id"], project,
                    request.method, request.path, status, received, sent, seconds,
                    extra={"access": fields})


async def metrics_page(request: web.Request) -> web.Response:
    body, content_type = service(request).metrics.exposition()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_page, allow_head=False)
