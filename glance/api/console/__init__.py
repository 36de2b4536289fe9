"""The web console: static pages at /console/ and the three small endpoints they need.

The pages are plain files shipped in ``static/`` and talk to the v2 API like any other
client. What the v2 API cannot do for a browser is done here:

- ``GET /console/api/session``: the auth mode (which sign-in form to show) and, for the
  ``X-Auth-Token`` given, who is calling (project, user, roles, admin), so that the pages show
  only what the caller may see and do.
- ``POST /console/api/keystone-token``: under ``auth_mode = keystone``, trade a user name,
  password and project for a Keystone token (the browser never talks to Keystone).
- ``POST /console/api/downloads`` then ``GET /console/download/{ticket}/{image_id}``: a
  download the browser can stream straight to disk with no token in the URL. The ticket is
  random, single-use, bound to one image and to the caller, valid for a minute, and kept
  (as its SHA-256) in the registry, so any worker or server can spend it
  (``glance.service.tickets``); the GET is answered by the v2 download handler itself.

The pages and these endpoints authenticate themselves, so requests routed to them skip the
context middleware (which would answer 401 before the sign-in page could load).
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.typedefs import Middleware

from glance.api.auth import AUTHENTICATOR_KEY, context_middleware
from glance.api.errors import Handler
from glance.api.transfer import read_json
from glance.api.util import SERVICE_KEY, SETTINGS_KEY
from glance.api.v2 import images as v2_images
from glance.common import exception
from glance.context import RequestContext
from glance.service.tickets import TICKET_SECONDS

STATIC_DIR = Path(__file__).with_name("static")
MAX_BODY_BYTES = 8192
MAX_FIELD = 255
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")


@dataclass(frozen=True)
class Asset:
    """One file of the console, as served."""

    body: bytes
    content_type: str
    etag: str


class ConsoleState:
    """What the console keeps on the app: its files, download tickets, a Keystone client."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = load_assets(STATIC_DIR)
        self.keystone: httpx.AsyncClient | None = None
        self.resources: set[web.AbstractResource] = set()


CONSOLE_KEY: web.AppKey[ConsoleState] = web.AppKey("console", ConsoleState)


def load_assets(directory: Path) -> dict[str, Asset]:
    """Every file of ``directory`` by name, read once (a few tens of KiB in all)."""
    assets: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        ctype = {".js": "text/javascript", ".mjs": "text/javascript",
                 ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html",
                 ".webmanifest": "application/manifest+json"}.get(
            path.suffix, mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        if ctype.startswith("text/") or ctype.endswith(("+xml", "+json")):
            ctype += "; charset=utf-8"
        assets[path.name] = Asset(body, ctype, '"' + sha256(body).hexdigest()[:20] + '"')
    return assets


# -- helpers ------------------------------------------------------------------------------------

def _state(request: web.Request) -> ConsoleState:
    return request.app[CONSOLE_KEY]


async def _caller(request: web.Request) -> RequestContext:
    """The caller of ``request`` by the server's auth mode (401 with a challenge if bad)."""
    # (a token that is not UTF-8 was refused before: api.params.text_middleware)
    return await request.app[AUTHENTICATOR_KEY].context(request)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """A small JSON object body (400 for anything else, 413 beyond 8 KiB)."""
    if request.headers.get("Content-Type") and request.content_type != "application/json":
        raise exception.UnsupportedMediaType(
            f"Content-Type {request.content_type} is not supported; use application/json")
    body = await read_json(request, MAX_BODY_BYTES)
    if not isinstance(body, dict):
        raise exception.BadRequest("The body must be a JSON object")
    return body


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(body: dict[str, Any], key: str, default: str | None = None) -> str:
    """A required (or defaulted) string field of 1–255 characters, no control characters."""
    value = body.get(key, default)
    if value is None:
        raise exception.BadRequest(f"'{key}' is required")
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
        raise exception.BadRequest(f"'{key}' must be a string of 1 to {MAX_FIELD} characters")
    if _CONTROL.search(value) or any(unicodedata.category(c) == "Cs" for c in value):
        raise exception.BadRequest(f"'{key}' contains control characters")
    return value


def _filename(name: str | None, image_id: str, disk_format: str | None) -> str:
    """A safe file name for the download: the image's name (or id) and its format."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name or "").strip("._") or image_id
    suffix = f".{disk_format}" if disk_format and not base.endswith(f".{disk_format}") else ""
    return (base[:120] + suffix)[:160]


# -- handlers ------------------------------------------------------------------------------------

async def redirect_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/console/")


async def asset(request: web.Request) -> web.StreamResponse:
    """A file of the console (index.html for /console/); 404 for anything else."""
    name = request.match_info.get("name") or "index.html"
    found = _state(request).assets.get(name)
    if found is None:
        raise exception.NotFound(f"No console file {name!r}")
    headers = {"ETag": found.etag, "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    if name.endswith(".html"):
        headers.update({"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"})
    if request.headers.get("If-None-Match") == found.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers={**headers, "Content-Type": found.content_type})


async def session(request: web.Request) -> web.Response:
    """``{"auth_mode", "caller"}``: caller is null when no token is given under tokens or
    keystone; a bad token is 401."""
    mode = request.app[SETTINGS_KEY].auth_mode
    caller: dict[str, Any] | None = None
    if mode == "noauth" or request.headers.get("X-Auth-Token", "").strip():
        ctx = await _caller(request)
        caller = {"project_id": ctx.project_id, "user_id": ctx.user_id,
                  "owner": ctx.owner, "roles": list(ctx.roles), "is_admin": ctx.is_admin}
    return web.json_response({"auth_mode": mode, "caller": caller},
                             headers={"Cache-Control": "no-store"})


async def keystone_token(request: web.Request) -> web.Response:
    """Password sign-in through Keystone v3: ``{"username", "password", "project",
    "user_domain"?, "project_domain"?}`` → ``{"token", "expires_at", "user", "project"}``
    (the names, for the page to show)."""
    settings = request.app[SETTINGS_KEY]
    if settings.auth_mode != "keystone" or not settings.keystone_url:
        raise exception.NotFound("Keystone sign-in is only offered under auth_mode keystone")
    body = await _json_object(request)
    username, project = _text(body, "username"), _text(body, "project")
    password = body.get("password")
    if not isinstance(password, str) or not password or len(password) > 4096 or any(
            unicodedata.category(c) == "Cs" for c in password):
        raise exception.BadRequest("'password' must be a string of 1 to 4096 characters")
    user_domain = _text(body, "user_domain", "Default")
    project_domain = _text(body, "project_domain", "Default")
    auth = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"name": user_domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": project_domain}}}}}
    state = _state(request)
    if state.keystone is None:
        state.keystone = httpx.AsyncClient(timeout=15)
    url = settings.keystone_url.rstrip("/")
    url = (url if url.endswith("/v3") else url + "/v3") + "/auth/tokens?nocatalog"
    try:
        answer = await state.keystone.post(url, json=auth)
    except httpx.HTTPError as exc:
        raise exception.ServiceUnavailable(f"Keystone is unreachable: {exc}") from None
    if answer.status_code in (400, 401, 403, 404):
        raise exception.NotAuthenticated(
            "Keystone refused the sign-in: check the user name, password and project")
    token = answer.headers.get("X-Subject-Token")
    if answer.status_code != 201 or not token:
        raise exception.ServiceUnavailable(
            f"Keystone answered {answer.status_code} to the sign-in")
    try:
        body = answer.json()["token"]
        names = {"expires_at": body.get("expires_at"), "user": body["user"].get("name"),
                 "project": body["project"].get("name")}
    except (ValueError, KeyError, TypeError, AttributeError):
        names = {"expires_at": None, "user": username, "project": project}
    return web.json_response({"token": token, **names}, headers={"Cache-Control": "no-store"})


async def create_download(request: web.Request) -> web.Response:
    """``{"image_id"}`` → ``{"url", "expires_in"}``: a single-use link to the image's data,
    for the caller of this request (the image must be visible to them and have data)."""
    ctx = await _caller(request)
    body = await _json_object(request)
    image_id = _text(body, "image_id")
    image = await request.app[SERVICE_KEY].get(ctx, image_id)
    if image.status not in ("active", "deactivated"):
        raise exception.Conflict(f"Image {image_id} has no data to download ({image.status})")
    if image.status == "deactivated" and not ctx.is_admin:
        raise exception.Forbidden("The image is deactivated; its data cannot be downloaded")
    ticket_id = await request.app[SERVICE_KEY].tickets.issue(
        ctx, image.id, _filename(image.name, image.id, image.disk_format))
    return web.json_response(
        {"url": f"/console/download/{ticket_id}/{image.id}", "expires_in": int(TICKET_SECONDS)},
        status=201, headers={"Cache-Control": "no-store"})


async def download(request: web.Request) -> web.StreamResponse:
    """Spend a ticket: the v2 download handler answers, as the caller who asked for it."""
    ticket = await request.app[SERVICE_KEY].tickets.spend(request.match_info["ticket"],
                                                          request.match_info["image_id"])
    if ticket is None:
        raise exception.NotFound("This download link is unknown, used or expired; start the "
                                 "download again from the console")
    request["context"] = ticket.context
    request["console_filename"] = ticket.filename
    return await v2_images.download(request)


async def add_download_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Downloads through a ticket are saved under the image's name, never cached."""
    filename = request.get("console_filename")
    if filename and response.status in (200, 206):
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["Cache-Control"] = "no-store"


def _public_middleware(resources: set[web.AbstractResource]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Requests routed to the console go straight to its handlers (which authenticate
        themselves); every other request goes on to the context middleware."""
        if request.match_info.route.resource in resources:
            return await request.match_info.handler(request)
        return await handler(request)

    return middleware


def add_routes(app: web.Application) -> None:
    """Serve the console under /console/ on ``app``."""
    state = app[CONSOLE_KEY] = ConsoleState()
    router = app.router
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/console", redirect_root),
        ("GET", "/console/", asset),
        ("GET", "/console/api/session", session),
        ("POST", "/console/api/keystone-token", keystone_token),
        ("POST", "/console/api/downloads", create_download),
        ("GET", "/console/download/{ticket}/{image_id}", download),
        ("GET", r"/console/{name:[A-Za-z0-9_-]+\.[a-z]+}", asset),
    ]
    for method, path, handler in routes:
        route = router.add_route(method, path, handler)
        if route.resource is not None:
            state.resources.add(route.resource)
    # the context middleware is the last one: insert before it, so only it is skipped
    middlewares = app.middlewares
    position = middlewares.index(context_middleware) if context_middleware in middlewares \
        else len(middlewares)
    middlewares.insert(position, _public_middleware(state.resources))
    app.on_response_prepare.append(add_download_headers)

    async def close(app: web.Application) -> None:
        if state.keystone is not None:
            await state.keystone.aclose()

    app.on_cleanup.append(close)

