"""Graceful shutdown (issue 12): on SIGTERM the server refuses new connections, lets the
transfers in flight finish within ``shutdown_grace_seconds``, aborts the rest as failed
uploads (nothing kept: v2 back to queued, v1 killed) and exits 0."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import OCTET, create, show

MiB = 1 << 20


class PausedBody:
    """A chunked request body: ``head``, then a wait until released, then ``tail``."""

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.head, self.tail = head, tail
        self.sent_head = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.sent_head.set()
        if self.release.wait(60):
            yield self.tail


def in_background(method: str, url: str, body: PausedBody,
                  headers: dict[str, str]) -> dict[str, Any]:
    """Send ``body`` in a thread; the result dict gets "response" or "error"."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = httpx.request(method, url, content=iter(body), timeout=60,
                                               headers=headers)
        except httpx.TransportError as exc:
            result["error"] = exc

    result["thread"] = threading.Thread(target=run, daemon=True)
    result["thread"].start()
    assert body.sent_head.wait(30)
    return result


def wait_status(http: httpx.Client, image_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while show(http, image_id)["status"] != status:
        assert time.monotonic() < deadline, show(http, image_id)
        time.sleep(0.05)


def refuses_connections(server: RunningServer) -> bool:
    """Whether the port refuses connections within a few seconds."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


def start(data_dir: Path, grace: float) -> RunningServer:
    return start_server(data_dir, ["--shutdown-grace-seconds", str(grace),
                                   "--file-store-fsync", "false"])


def test_an_upload_in_flight_at_sigterm_finishes_within_the_grace(tmp_path: Path) -> None:
    server = start(tmp_path / "data", grace=30)
    head, tail = os.urandom(3 * MiB), os.urandom(2 * MiB + 7)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            image = create(http)
            body = PausedBody(head, tail)
            upload = in_background("PUT", f"{server.url}/v2/images/{image['id']}/file", body,
                                   OCTET)
            wait_status(http, image["id"], "saving")
        server.process.send_signal(signal.SIGTERM)
        assert refuses_connections(server)
        assert server.process.poll() is None  # still finishing the upload
        body.release.set()
        upload["thread"].join(30)
        assert upload["response"].status_code == 204, upload
        assert server.process.wait(30) == 0
    finally:
        server.stop()
    assert "glance-api stopped" in server.log()
    server = start(server.data_dir, grace=30)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            shown = show(http, image["id"])
            assert shown["status"] == "active"
            assert shown["checksum"] == hashlib.md5(head + tail).hexdigest()
            assert http.get(f"/v2/images/{image['id']}/file").content == head + tail
    finally:
        server.stop()


def test_uploads_still_running_after_the_grace_are_aborted_and_leave_nothing(
        tmp_path: Path) -> None:
    server = start(tmp_path / "data", grace=1)
    bodies = [PausedBody(os.urandom(3 * MiB), b"never sent") for _ in range(2)]
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            v2 = create(http)
            v2_upload = in_background("PUT", f"{server.url}/v2/images/{v2['id']}/file",
                                      bodies[0], OCTET)
            resp = http.post("/v1/images", headers={
                "x-image-meta-name": "v1", "x-image-meta-disk_format": "raw",
                "x-image-meta-container_format": "bare"})
            v1 = resp.json()["image"]
            v1_upload = in_background("PUT", f"{server.url}/v1/images/{v1['id']}", bodies[1],
                                      OCTET)
            for image in (v1, v2):
                wait_status(http, image["id"], "saving")
            assert server.stored_files() != []  # partial data is on disk
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert refuses_connections(server)
        assert server.process.wait(30) == 0
        assert 1 <= time.monotonic() - started < 15
        for body in bodies:
            body.release.set()
        for upload in (v1_upload, v2_upload):
            upload["thread"].join(30)
            assert "error" in upload or upload["response"].status_code >= 400, upload
    finally:
        for body in bodies:
            body.release.set()
        server.stop()
    assert "aborting 2 connection(s)" in server.log()
    assert server.stored_files() == []
    server = start(server.data_dir, grace=1)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            shown = show(http, v2["id"])
            assert (shown["status"], shown["size"]) == ("queued", None)
            assert show(http, v1["id"])["status"] == "killed"
            resp = http.put(f"/v2/images/{v2['id']}/file", content=b"again", headers=OCTET)
            assert resp.status_code == 204
    finally:
        server.stop()
    assert "was saving when its server process stopped" not in server.log()  # not recovery


def test_an_idle_server_stops_at_once_with_status_0(tmp_path: Path) -> None:
    server = start(tmp_path / "data", grace=30)
    with httpx.Client(base_url=server.url, timeout=30) as http:  # an idle keep-alive one
        assert http.get("/versions").status_code == 200
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(30) == 0
        assert time.monotonic() - started < 5
