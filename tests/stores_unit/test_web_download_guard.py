"""The web-download source checks every request, redirect hops included (SSRF guard)."""

from __future__ import annotations

import asyncio
import http.server
import threading

import pytest

from glance.common import exception
from glance.stores import http as http_store


class _Redirecting(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/start":
            self.send_response(302)
            self.send_header("Location", "/private/data")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(200)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"data")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _read(store: http_store.HttpStore, url: str) -> bytes:
    try:
        return b"".join([chunk async for chunk in store.get(url)])
    finally:
        await store.close()


def test_redirect_to_refused_address_fails(origin, monkeypatch):
    async def refuse_private_paths(url: str, allow_private: bool) -> str:
        if "/private" in url:
            raise exception.BadRequest(f"URL {url} points to a non-public address; refused")
        return url
    monkeypatch.setattr(http_store, "check_public_url", refuse_private_paths)
    guarded = http_store.HttpStore("web", allow_private=False)
    with pytest.raises(exception.BadRequest, match="non-public"):
        asyncio.run(_read(guarded, origin + "/start"))
    open_store = http_store.HttpStore("web", allow_private=True)
    assert asyncio.run(_read(open_store, origin + "/start")) == b"data"


def test_loopback_refused_without_monkeypatch(origin):
    guarded = http_store.HttpStore("web", allow_private=False)
    with pytest.raises(exception.BadRequest):
        asyncio.run(_read(guarded, origin + "/data"))
