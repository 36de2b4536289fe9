"""Read-only http(s) store: images registered by location, and the source of copy-from."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import AsyncGenerator, AsyncIterator
from urllib.parse import urlsplit

import httpx

from glance.common import exception
from glance.stores.base import (
    Chunk,
    Doing,
    Store,
    StoredObject,
    StoreNotFound,
    StoreWriteError,
    range_header,
)

MAX_URL_BYTES = 2048  # a URL is a location's key, in a unique index


def check_url(url: str) -> str:
    """Return ``url`` if it is an http(s) URL with a host, a valid port and no credentials
    (nor spaces or control characters), at most ``MAX_URL_BYTES`` long, else BadRequest
    naming it."""
    try:
        encoded = url.encode("utf-8")
    except UnicodeEncodeError:
        raise exception.BadRequest(f"Invalid location {url[:60]!r}: not valid text") from None
    if len(encoded) > MAX_URL_BYTES:
        raise exception.BadRequest(f"Invalid location {url[:60]!r}…: longer than "
                                   f"{MAX_URL_BYTES} bytes")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = urlsplit(""), False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or \
            any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise exception.BadRequest(f"Invalid location {url!r}: only http(s) URLs with a host "
                                   f"are accepted")
    if parts.username or parts.password:
        raise exception.BadRequest("A location must not carry credentials")
    return url


async def check_public_url(url: str, allow_private: bool) -> str:
    """``check_url``, and unless ``allow_private``, BadRequest when the host resolves to a
    loopback, private, link-local, reserved or multicast address."""
    check_url(url)
    if allow_private:
        return url
    parts = urlsplit(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise exception.BadRequest(f"Cannot resolve the host of {url}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise exception.BadRequest(
                f"URL {url} does not pass filtering: it points to a non-public address "
                f"({address})")
    return url


async def _refuse_private(request: httpx.Request) -> None:
    await check_public_url(str(request.url), allow_private=False)


class HttpStore(Store):
    """Keys are http(s) URLs. Nothing is ever written or deleted remotely."""

    driver = "http"
    writable = False
    keys_are_urls = True
    vendor_errors = (httpx.HTTPError,)

    def __init__(self, name: str, timeout: float = 60.0, chunk_size: int = 1 << 20,
                 allow_private: bool = True) -> None:
        """With ``allow_private`` False, every request — each redirect hop included — to a
        host resolving to a non-public address fails with BadRequest."""
        super().__init__(name)
        self.chunk_size = chunk_size
        hooks = {} if allow_private else {"request": [_refuse_private]}
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=True,
                                         event_hooks=hooks)

    def valid_key(self, key: str) -> str:
        return check_url(key)

    def translate(self, exc: BaseException, key: str | None,
                  doing: Doing) -> exception.GlanceException:
        if doing == "stat":  # an address that does not answer is as good as missing
            return StoreNotFound(f"Cannot reach {key}: {exc}")
        return self.failed(doing, f"cannot read {key}: {exc}")

    async def close(self) -> None:
        await self._client.aclose()

    async def _put(self, key: str, chunks: AsyncIterator[Chunk],
                   size_hint: int | None) -> StoredObject:
        raise StoreWriteError(f"Store {self.name} is read-only")

    async def _get(self, key: str, offset: int,
                   length: int | None) -> AsyncGenerator[bytes, None]:
        wanted = range_header(offset, length)
        headers = {"Range": wanted} if wanted else {}
        async with self._client.stream("GET", key, headers=headers) as response:
            if response.status_code == 404:
                raise StoreNotFound(f"{key} answered 404")
            if response.status_code >= 400:
                raise self.failed("read", f"{key} answered {response.status_code}")
            skip = offset if (wanted and response.status_code == 200) else 0  # Range ignored
            async for chunk in response.aiter_bytes(self.chunk_size):
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                yield chunk

    async def _stat(self, key: str) -> StoredObject:
        response = await self._client.head(key)
        if response.status_code >= 400:
            raise StoreNotFound(f"{key} answered {response.status_code}")
        length = response.headers.get("Content-Length")
        return StoredObject(key=key, size=int(length) if length and length.isdigit() else 0)

    async def _delete(self, key: str) -> bool:
        return False  # the data is not ours to delete
