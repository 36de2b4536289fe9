"""Builds the RequestContext of each request, by the auth mode chosen in config.

- ``noauth`` (development default): everyone is admin, unless ``X-Project-Id`` /
  ``X-Tenant-Id`` / ``X-Roles`` headers say who is calling.
- ``tokens``: static tokens from a JSON file holding only their SHA-256 hashes, reloaded
  when the file changes.
- ``keystone``: ``X-Auth-Token`` validated against a Keystone v3 endpoint, with a short cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from glance.api.errors import Handler
from glance.common import exception
from glance.config import Settings
from glance.context import RequestContext

LOG = logging.getLogger(__name__)
AUTH_MODES: tuple[str, ...] = ("noauth", "tokens", "keystone")
# the health checks and the metrics: probes and scrapers send no credentials
UNAUTHENTICATED_PATHS: frozenset[str] = frozenset({"/", "/versions", "/healthcheck", "/readyz",
                                                   "/metrics"})
AUTHENTICATOR_KEY: web.AppKey["Authenticator"] = web.AppKey("authenticator")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator(ABC):
    """Turns a request's credentials into a RequestContext, or raises NotAuthenticated."""

    challenge: str = 'Token realm="glance"'

    @abstractmethod
    async def context(self, request: web.Request) -> RequestContext:
        """The caller of ``request``."""

    async def close(self) -> None:
        """Release connections."""

    def refuse(self, message: str) -> exception.NotAuthenticated:
        """The 401 to raise, carrying this mode's challenge."""
        return exception.NotAuthenticated(message, challenge=self.challenge)

    def _token(self, request: web.Request) -> str:
        token = request.headers.get("X-Auth-Token", "").strip()
        if not token:
            raise self.refuse("This server requires an X-Auth-Token")
        return token


class NoAuth(Authenticator):
    """Development mode: no credentials are checked."""

    async def context(self, request: web.Request) -> RequestContext:
        headers = request.headers
        project = headers.get("X-Project-Id") or headers.get("X-Tenant-Id")
        roles_header = headers.get("X-Roles")
        token = headers.get("X-Auth-Token")
        if project is None and roles_header is None:
            return RequestContext(is_admin=True, auth_token=token)
        roles = _split_roles(roles_header or "")
        return RequestContext(project_id=project, user_id=headers.get("X-User-Id"), roles=roles,
                              is_admin="admin" in roles, auth_token=token)


@dataclass(frozen=True)
class TokenEntry:
    """One static token, as stored (never the token itself)."""

    sha256: str
    project: str
    user: str
    roles: tuple[str, ...]


class StaticTokens(Authenticator):
    """Tokens from a JSON file of SHA-256 hashes: ``{"tokens": [{"sha256", "project",
    "user", "roles"}]}``. The file is re-read when its modification time or size changes
    (looked at in a worker thread, never on the event loop). A file that cannot be read at
    start-up stops it; one that later turns missing, empty or invalid (half written, say)
    keeps the last good tokens in force and logs one error until it changes again."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise exception.ConfigError(f"cannot read tokens_file {path}: "
                                        f"{exc.strerror}") from None
        self._entries: dict[str, TokenEntry] = _by_hash(read_tokens_file(path))
        # what the file was when last looked at
        self._seen: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        self._lock = threading.Lock()

    def _stamp_now(self) -> tuple[int, int] | None:
        """(mtime, size) of the file; None when it cannot be stat'ed."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh(self) -> None:
        """Re-read the file if it changed since last looked at (in a worker thread)."""
        with self._lock:
            stamp = self._stamp_now()
            if stamp == self._seen:
                return
            self._seen = stamp
            try:
                if stamp is None:
                    raise exception.ConfigError(f"tokens_file {self.path} cannot be read")
                if stamp[1] == 0:
                    raise exception.ConfigError(f"tokens_file {self.path} is empty")
                self._entries = _by_hash(read_tokens_file(self.path))
            except exception.ConfigError as exc:
                LOG.error("%s; the last good tokens (%d) stay in force until it is fixed",
                          exc, len(self._entries))
                return
        LOG.info("tokens_file %s reloaded: %d tokens", self.path, len(self._entries))

    async def context(self, request: web.Request) -> RequestContext:
        token = self._token(request)
        await asyncio.to_thread(self._refresh)
        entry = self._entries.get(token_hash(token))
        if entry is None:
            raise self.refuse("The X-Auth-Token is not valid")
        return RequestContext(project_id=entry.project, user_id=entry.user, roles=entry.roles,
                              is_admin="admin" in entry.roles, auth_token=token)


def _by_hash(entries: list[TokenEntry]) -> dict[str, TokenEntry]:
    return {e.sha256: e for e in entries}


class KeystoneAuth(Authenticator):
    """Validates tokens with ``GET /v3/auth/tokens`` and caches answers briefly."""

    def __init__(self, url: str, cache_seconds: float, service_token: str | None) -> None:
        self.url = url.rstrip("/")
        self.cache_seconds = cache_seconds
        self.service_token = service_token
        self.challenge = f'Keystone uri="{self.url}"'
        self._client = httpx.AsyncClient(timeout=10)
        self._cache: dict[str, tuple[float, RequestContext]] = {}

    async def close(self) -> None:
        await self._client.aclose()

    async def context(self, request: web.Request) -> RequestContext:
        token = self._token(request)
        key = token_hash(token)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        ctx = await self._validate(token)
        if len(self._cache) > 10000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.cache_seconds, ctx)
        return ctx

    async def _validate(self, token: str) -> RequestContext:
        url = self.url if self.url.endswith("/v3") else self.url + "/v3"
        try:
            response = await self._client.get(url + "/auth/tokens", headers={
                "X-Auth-Token": self.service_token or token, "X-Subject-Token": token})
        except httpx.HTTPError as exc:
            raise exception.ServiceUnavailable(f"Keystone is unreachable: {exc}") from None
        if response.status_code in (401, 403, 404):
            raise self.refuse("The X-Auth-Token is not valid")
        if response.status_code != 200:
            raise exception.ServiceUnavailable(
                f"Keystone answered {response.status_code} while validating a token")
        body: dict[str, Any] = response.json().get("token", {})
        roles = tuple(r["name"] for r in body.get("roles", []) if "name" in r)
        project = (body.get("project") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        return RequestContext(project_id=project, user_id=user, roles=roles,
                              is_admin="admin" in roles, auth_token=token)


def build_authenticator(settings: Settings) -> Authenticator:
    """The authenticator of ``settings.auth_mode``; a bad setting stops start-up."""
    if settings.auth_mode == "noauth":
        return NoAuth()
    if settings.auth_mode == "tokens":
        if not settings.tokens_file:
            raise exception.ConfigError("auth_mode tokens needs tokens_file")
        return StaticTokens(settings.tokens_file)
    if settings.auth_mode == "keystone":
        if not settings.keystone_url:
            raise exception.ConfigError("auth_mode keystone needs keystone_url")
        return KeystoneAuth(settings.keystone_url, settings.keystone_cache_seconds,
                            settings.keystone_service_token)
    raise exception.ConfigError(f"unknown auth_mode {settings.auth_mode!r} "
                                f"(choose one of {', '.join(AUTH_MODES)})")


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Build the request's context; 401 with a challenge when credentials are missing or bad."""
    authenticator = request.app[AUTHENTICATOR_KEY]
    if request.path in UNAUTHENTICATED_PATHS:
        request["context"] = RequestContext()
        return await handler(request)
    ctx = await authenticator.context(request)
    # the id the response carries (api/app.py), known now so that tasks can record it
    request_id = request.setdefault("request_id", f"req-{uuid.uuid4()}")
    request["context"] = dataclasses.replace(ctx, request_id=request_id)
    return await handler(request)


def _split_roles(text: str) -> tuple[str, ...]:
    return tuple(r.strip() for r in text.split(",") if r.strip())


# -- the tokens file ------------------------------------------------------------------------

def read_tokens_file(path: str) -> list[TokenEntry]:
    """Entries of a tokens file (an absent file has none)."""
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise exception.ConfigError(f"cannot read tokens file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise exception.ConfigError(f"tokens file {path} is not valid JSON: {exc}") from None
    try:
        return [TokenEntry(sha256=e["sha256"], project=e["project"], user=e.get("user", ""),
                           roles=tuple(e.get("roles", ()))) for e in data.get("tokens", [])]
    except (AttributeError, KeyError, TypeError) as exc:
        raise exception.ConfigError(f"tokens file {path} is not a tokens document "
                                    f"({type(exc).__name__}: {exc})") from None


def add_token(path: str, project: str, user: str, roles: tuple[str, ...]) -> str:
    """Create a random token for (project, user, roles); store its hash; return the token."""
    token = secrets.token_urlsafe(32)
    entries = read_tokens_file(path)
    entries.append(TokenEntry(token_hash(token), project, user, roles))
    document = {"tokens": [{"sha256": e.sha256, "project": e.project, "user": e.user,
                            "roles": list(e.roles)} for e in entries]}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".tokens-")
    with os.fdopen(fd, "w") as fh:
        json.dump(document, fh, indent=2)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return token
