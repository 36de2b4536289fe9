"""Health endpoints, open to all (load balancers and orchestrators send no credentials).

- ``GET|HEAD /healthcheck``: as upstream's healthcheck middleware: 200 ``OK`` (text/plain),
  or 503 ``DISABLED BY FILE`` while ``healthcheck_disable_file`` exists. It touches
  nothing else: a load balancer must not take every server out because a store is slow.
- ``GET /readyz``: readiness: the registry and each store, each with its status and
  latency, as JSON; 503 when one does not answer (or the server is disabled by file).
"""

from __future__ import annotations

import os

from aiohttp import web

from glance.api.util import service, settings


def _disabled(request: web.Request) -> bool:
    path = settings(request).healthcheck_disable_file
    return path is not None and os.path.exists(path)


async def healthcheck(request: web.Request) -> web.Response:
    if _disabled(request):
        return web.Response(status=503, text="DISABLED BY FILE")
    return web.Response(status=200, text="OK")


async def readyz(request: web.Request) -> web.Response:
    checks = await service(request).readiness()
    disabled = _disabled(request)
    ready = all(check.ok for check in checks) and not disabled
    body = {
        "status": "ready" if ready else "not ready",
        "disabled_by_file": disabled,
        "checks": [{"name": c.name, "kind": c.kind, "status": "ok" if c.ok else "down",
                    "latency_ms": round(c.seconds * 1000, 3),
                    **({"error": c.error} if c.error else {})} for c in checks],
    }
    return web.json_response(body, status=200 if ready else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthcheck", healthcheck)  # HEAD too (status only)
    app.router.add_get("/readyz", readyz, allow_head=False)
