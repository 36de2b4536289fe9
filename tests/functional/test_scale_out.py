"""Processes that crash, restart or share one catalogue: several glance-api processes on one
PostgreSQL database and one store, where a process that restarts cleans up only after
processes that are gone, never under a live one's feet; and crashes or deletes mid-stage."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import create, show
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)

LEASE = 1.0  # seconds: a short lease so that the tests see periodic recovery


def config(base: Path, store: Path, lease: float = LEASE) -> list[str]:
    path = base / "glance.toml"
    path.write_text(f"[glance]\nfile_store_dir = {json.dumps(str(store))}\n"
                    f"file_store_fsync = false\nworker_lease_seconds = {lease}\n")
    return ["--config", str(path)]


def start(base: Path, name: str, database_url: str, store: Path) -> RunningServer:
    return start_server(base / name, ["--database-url", database_url,
                                      *config(base / name, store)])


@pytest.fixture
def pair(tmp_path: Path, postgres_database: str  # noqa: F811
         ) -> Iterator[tuple[RunningServer, RunningServer, Path]]:
    """Two processes, one PostgreSQL database, one file store directory."""
    store = tmp_path / "images"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = start(tmp_path, "a", postgres_database, store)
    b = start(tmp_path, "b", postgres_database, store)
    servers = [a, b]
    yield a, b, store
    for server in servers:
        server.stop()


class PausedBody:
    """A chunked request body that sends ``head``, waits until released, then the rest."""

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.head, self.tail = head, tail
        self.sent_head = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        self.sent_head.set()
        assert self.release.wait(60)
        yield self.tail


def upload_in_background(url: str, image_id: str, body: PausedBody) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = httpx.put(
                f"{url}/v2/images/{image_id}/file", content=iter(body), timeout=60,
                headers={"Content-Type": "application/octet-stream"})
        except httpx.TransportError as exc:
            result["error"] = exc

    result["thread"] = threading.Thread(target=run, daemon=True)
    result["thread"].start()
    assert body.sent_head.wait(30)
    return result


def wait_saving(http: httpx.Client, image_id: str) -> None:
    deadline = time.monotonic() + 10
    while show(http, image_id)["status"] != "saving":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_restarting_process_leaves_another_process_upload_alone(
        tmp_path: Path, pair: tuple[RunningServer, RunningServer, Path],
        postgres_database: str) -> None:  # noqa: F811
    a, b, store = pair
    head, tail = os.urandom(3 * 1024 * 1024), os.urandom(2 * 1024 * 1024 + 7)
    with httpx.Client(base_url=b.url, timeout=30) as via_b:
        image = create(via_b)
        body = PausedBody(head, tail)
        upload = upload_in_background(a.url, image["id"], body)
        wait_saving(via_b, image["id"])
        # b restarts while a's upload is in flight, then runs its periodic recovery too
        b.stop()
        b2 = start(tmp_path, "b", postgres_database, store)
        pair_servers = (a, b2)
        try:
            with httpx.Client(base_url=b2.url, timeout=30) as via_b2:
                time.sleep(3 * LEASE)
                assert show(via_b2, image["id"])["status"] == "saving"
                body.release.set()
                upload["thread"].join(60)
                assert upload["response"].status_code == 204, upload["response"].text
                shown = show(via_b2, image["id"])
                assert shown["status"] == "active"
                assert shown["checksum"] == hashlib.md5(head + tail).hexdigest()
                assert via_b2.get(f"/v2/images/{image['id']}/file").content == head + tail
        finally:
            for server in pair_servers:
                server.stop()


def test_a_crashed_process_upload_is_cleaned_up_by_a_live_one(
        pair: tuple[RunningServer, RunningServer, Path]) -> None:
    a, b, store = pair
    with httpx.Client(base_url=b.url, timeout=30) as via_b:
        image = create(via_b)
        body = PausedBody(os.urandom(4 * 1024 * 1024), b"never sent")
        upload_in_background(a.url, image["id"], body)
        wait_saving(via_b, image["id"])
        assert any(image["id"] in p.name for p in store.iterdir())  # partial data exists
        os.kill(a.process.pid, signal.SIGKILL)
        a.process.wait(10)
        body.release.set()
        # b notices within a lease or two, without restarting: as after any failed v2
        # upload, the image is queued again with no size, and no bytes are left
        deadline = time.monotonic() + 10 * LEASE
        while show(via_b, image["id"])["status"] != "queued":
            assert time.monotonic() < deadline, show(via_b, image["id"])
            time.sleep(0.1)
        assert show(via_b, image["id"])["size"] is None
        assert not any(image["id"] in p.name for p in store.iterdir())
        assert via_b.get(f"/v2/images/{image['id']}/file").status_code == 204
        assert via_b.put(f"/v2/images/{image['id']}/file", content=b"again", headers={
            "Content-Type": "application/octet-stream"}).status_code == 204


def test_an_import_interrupted_by_a_crash_ends_failed_at_restart(tmp_path: Path) -> None:
    """An import task a crash interrupted is marked failed and its image is queued again."""
    server = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            image = create(http)
            resp = http.put(f"/v2/images/{image['id']}/stage", content=b"staged bytes",
                            headers={"Content-Type": "application/octet-stream"})
            assert resp.status_code == 204
    finally:
        server.stop()
    staged = server.data_dir / "staging" / image["id"]
    assert staged.exists()
    # as a crash in the middle of its glance-direct import would have left it
    with sqlite3.connect(server.data_dir / "glance.sqlite") as con:
        con.execute("update images set status = 'importing' where id = ?", (image["id"],))
        con.execute("insert into tasks (id, image_id, type, status, owner, input, message, "
                    "worker, created_at, updated_at) values ('crashed', ?, 'api_image_import', "
                    "'processing', null, '{}', '', 'elsewhere:1:gone', '2026-01-01', "
                    "'2026-01-01')", (image["id"],))
    server = start_server(server.data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert show(http, image["id"])["status"] == "queued"
            tasks = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
            assert [(t["id"], t["status"]) for t in tasks] == [("crashed", "failure")]
            assert "Interrupted" in tasks[0]["message"]
            assert not staged.exists()
    finally:
        server.stop()


def test_a_crash_while_staging_puts_the_image_back_to_queued(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    staging = server.data_dir / "staging"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        image = create(http)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PUT /v2/images/{image['id']}/stage HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n"
                 .encode())
    sock.sendall(b"x" * (8 << 20))
    deadline = time.monotonic() + 10
    while not (staging.is_dir() and any(p.name.endswith(".part") for p in staging.iterdir())):
        assert time.monotonic() < deadline, "staging never started writing"
        time.sleep(0.05)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    sock.close()
    server = start_server(server.data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert show(http, image["id"])["status"] == "queued"
            assert list(staging.iterdir()) == []
            # and the image can be staged and imported again
            resp = http.put(f"/v2/images/{image['id']}/stage", content=b"second try",
                            headers={"Content-Type": "application/octet-stream"})
            assert resp.status_code == 204, resp.text
            resp = http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}})
            assert resp.status_code == 202
            deadline = time.monotonic() + 30
            while show(http, image["id"])["status"] != "active":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert http.get(f"/v2/images/{image['id']}/file").content == b"second try"
    finally:
        server.stop()


def test_an_image_deleted_while_staging_is_410_and_keeps_no_staged_data(
        tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            image = create(http)
            body = PausedBody(os.urandom(1 << 20), os.urandom(1 << 20))
            result: dict[str, Any] = {}

            def run() -> None:
                result["response"] = httpx.put(
                    f"{server.url}/v2/images/{image['id']}/stage", content=iter(body),
                    timeout=60, headers={"Content-Type": "application/octet-stream"})

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            assert body.sent_head.wait(30)
            deadline = time.monotonic() + 10
            while show(http, image["id"])["status"] != "uploading":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert http.delete(f"/v2/images/{image['id']}").status_code == 204
            body.release.set()
            thread.join(60)
            assert result["response"].status_code == 410, result["response"].text
            assert list((server.data_dir / "staging").iterdir()) == []
    finally:
        server.stop()
