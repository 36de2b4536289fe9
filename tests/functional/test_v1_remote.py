"""v1 images whose data lives elsewhere: ``x-image-meta-location`` (registered, read through
on download) and ``x-glance-api-copy-from`` (fetched into our store), against a real HTTP
server the test starts on loopback."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server

RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain HTTP file server on loopback: its base URL and its directory."""
    root = tmp_path_factory.mktemp("remote")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def server_with(tmp_path: Path, allow_private: bool) -> RunningServer:
    config = tmp_path / "glance.toml"
    config.write_text(f"[glance]\nweb_download_allow_private = {json.dumps(allow_private)}\n"
                      f"file_store_fsync = false\n")
    return start_server(tmp_path / "data", ["--config", str(config)])


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server allowed to read from loopback (web_download_allow_private = true)."""
    server = server_with(tmp_path_factory.mktemp("trusting"), allow_private=True)
    yield server
    server.stop()


def publish(remote: tuple[str, Path], data: bytes) -> str:
    base, root = remote
    name = f"{uuid.uuid4().hex}.img"
    (root / name).write_bytes(data)
    return f"{base}/{name}"


def named(server: RunningServer, name: str) -> list[dict]:
    resp = httpx.get(f"{server.url}/v1/images/detail?name={name}")
    assert resp.status_code == 200
    return resp.json()["images"]


def test_location_is_registered_and_read_through(trusting, remote) -> None:
    data = os.urandom(300_000)
    url = publish(remote, data)
    resp = httpx.post(f"{trusting.url}/v1/images", headers={
        **RAW, "x-image-meta-name": "linked", "x-image-meta-location": url})
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["status"] == "active" and image["size"] == len(data)
    got = httpx.get(f"{trusting.url}/v1/images/{image['id']}")
    assert got.status_code == 200 and got.content == data
    assert trusting.stored_files() == []  # nothing copied into our store


def test_copy_from_fetches_into_the_store(trusting, remote) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    url = publish(remote, data)
    resp = httpx.post(f"{trusting.url}/v1/images", timeout=60, headers={
        **RAW, "x-image-meta-name": "copied", "x-glance-api-copy-from": url})
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["status"] == "active"
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    (Path(remote[1]) / url.rsplit("/", 1)[1]).unlink()  # ours now: the source may go
    assert httpx.get(f"{trusting.url}/v1/images/{image['id']}").content == data


def test_unreadable_location_is_400_and_leaves_no_record(trusting, remote) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    resp = httpx.post(f"{trusting.url}/v1/images", headers={
        **RAW, "x-image-meta-name": name, "x-image-meta-location": f"{remote[0]}/nothing.img"})
    assert resp.status_code == 400 and "not readable" in resp.text
    assert named(trusting, name) == []


def test_copy_from_a_missing_source_is_400_with_nothing_stored(trusting, remote) -> None:
    name = f"nosource-{uuid.uuid4().hex[:8]}"
    resp = httpx.post(f"{trusting.url}/v1/images", headers={
        **RAW, "x-image-meta-name": name,
        "x-glance-api-copy-from": f"{remote[0]}/nothing.img"})
    assert resp.status_code == 400, resp.text
    # as in Glance, the record of a failed copy-from stays, killed, without data
    killed = httpx.get(f"{trusting.url}/v1/images/detail?name={name}&status=killed").json()
    assert [i["status"] for i in killed["images"]] == ["killed"]
    assert not [p for p in trusting.stored_files() if killed["images"][0]["id"] in p.name]


def test_loopback_sources_are_refused_by_default(tmp_path: Path, remote) -> None:
    """Without web_download_allow_private, v1 location and copy-from cannot be used to make
    the server read internal addresses (as v2 web-download): 400, and no record."""
    url = publish(remote, b"internal data")
    server = server_with(tmp_path, allow_private=False)
    try:
        for header in ("x-image-meta-location", "x-glance-api-copy-from"):
            name = f"ssrf-{uuid.uuid4().hex[:8]}"
            resp = httpx.post(f"{server.url}/v1/images", headers={
                **RAW, "x-image-meta-name": name, header: url})
            assert resp.status_code == 400 and "non-public" in resp.text, resp.text
            assert named(server, name) == []
        assert server.stored_files() == []
    finally:
        server.stop()
