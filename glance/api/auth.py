"""Builds the RequestContext of each request (noauth: development default)."""

from __future__ import annotations

from aiohttp import web

from glance.api.errors import Handler
from glance.context import RequestContext


def noauth_context(request: web.Request) -> RequestContext:
    """Everyone is admin, unless X-Project-Id / X-Tenant-Id / X-Roles say who is calling."""
    headers = request.headers
    project = headers.get("X-Project-Id") or headers.get("X-Tenant-Id")
    roles_header = headers.get("X-Roles")
    if project is None and roles_header is None:
        return RequestContext(is_admin=True, auth_token=headers.get("X-Auth-Token"))
    roles = tuple(r.strip() for r in (roles_header or "").split(",") if r.strip())
    return RequestContext(project_id=project, user_id=headers.get("X-User-Id"), roles=roles,
                          is_admin="admin" in roles, auth_token=headers.get("X-Auth-Token"))


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request["context"] = noauth_context(request)
    return await handler(request)
