"""kill -9 in the middle of an upload (v1, v2), of staging, and of an import of staged data;
then a restart on the same data directory and database: each image ends where a failed
upload of its kind leaves it (v1 killed; v2, staging and import queued with no size or
hashes), no byte is left in the store or the staging directory, and uploads work again. On
SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.conftest import start_server
from tests.functional._v2 import OCTET, create, show
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)

DECLARED = 100 << 20  # what the interrupted request says it will send
SENT = 8 << 20  # what it sends before the crash


@pytest.fixture(params=["sqlite", "postgresql"])
def database_args(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "sqlite":
        return []
    return ["--database-url", request.getfixturevalue("postgres_database")]


class Crashable:
    """A server that a test kills with SIGKILL and starts again on the same data."""

    def __init__(self, data_dir: Path, args: list[str]) -> None:
        self.data_dir, self.args = data_dir, args
        self.server = start_server(data_dir, args)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def staging(self) -> Path:
        return self.data_dir / "staging"

    def kill_and_restart(self) -> None:
        os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(10)
        self.server = start_server(self.data_dir, self.args)

    def leftovers(self) -> list[Path]:
        """Every file in the file store and the staging directory."""
        return [*self.server.stored_files(),
                *(sorted(self.staging.iterdir()) if self.staging.is_dir() else [])]

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def crashable(tmp_path: Path, database_args: list[str]) -> Iterator[Crashable]:
    server = Crashable(tmp_path / "data", [*database_args, "--image-format-inspection",
                                           "false"])
    yield server
    server.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


def has_part(directory: Path) -> bool:
    return directory.is_dir() and any(p.name.endswith(".part") for p in directory.iterdir())


def crash_mid_request(crashable: Crashable, request_line: str, headers: str,
                      writing_into: Path) -> None:
    """Send the start of a large body, wait until the server writes it into
    ``writing_into``, then kill the server and start it again."""
    sock = socket.create_connection(("127.0.0.1", crashable.server.port))
    try:
        sock.sendall(f"{request_line} HTTP/1.1\r\nHost: x\r\n{headers}"
                     f"Content-Type: application/octet-stream\r\n"
                     f"Content-Length: {DECLARED}\r\n\r\n".encode())
        sock.sendall(b"x" * SENT)
        wait_for(lambda: has_part(writing_into), f"the server writes into {writing_into}")
        crashable.kill_and_restart()
    finally:
        sock.close()


def assert_v2_upload_works(http: httpx.Client, image_id: str) -> None:
    data = os.urandom(3 << 20)
    resp = http.put(f"/v2/images/{image_id}/file", content=data, headers=OCTET)
    assert resp.status_code == 204, resp.text
    image = show(http, image_id)
    assert (image["status"], image["size"]) == ("active", len(data))
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert http.get(f"/v2/images/{image_id}/file").content == data


def assert_queued_with_nothing(image: dict[str, object]) -> None:
    assert image["status"] == "queued", image
    assert [image[k] for k in ("size", "virtual_size", "checksum", "os_hash_algo",
                               "os_hash_value")] == [None] * 5, image


def test_v1_upload_killed_mid_stream_ends_killed(crashable: Crashable) -> None:
    created = httpx.post(crashable.url + "/v1/images", headers={
        "x-image-meta-name": "crash-v1", "x-image-meta-disk_format": "raw",
        "x-image-meta-container_format": "bare"}, timeout=30)
    assert created.status_code == 201, created.text
    image_id = created.json()["image"]["id"]
    crash_mid_request(crashable, f"PUT /v1/images/{image_id}", "",
                      crashable.server.store_dir)
    head = httpx.head(f"{crashable.url}/v1/images/{image_id}", timeout=30)
    assert head.headers["x-image-meta-status"] == "killed"
    assert crashable.leftovers() == []
    again = httpx.post(crashable.url + "/v1/images", content=b"after the crash", timeout=30,
                       headers={"x-image-meta-name": "after", "x-image-meta-disk_format": "raw",
                                "x-image-meta-container_format": "bare",
                                "Content-Type": "application/octet-stream"})
    assert again.status_code == 201 and again.json()["image"]["status"] == "active"


def test_v2_upload_killed_mid_stream_goes_back_to_queued(crashable: Crashable) -> None:
    """The size the upload declared (its Content-Length, recorded when it started) is
    forgotten with the rest, and a new upload is accepted."""
    with httpx.Client(base_url=crashable.url, timeout=60) as http:
        image = create(http)
    crash_mid_request(crashable, f"PUT /v2/images/{image['id']}/file", "",
                      crashable.server.store_dir)
    with httpx.Client(base_url=crashable.url, timeout=60) as http:
        assert_queued_with_nothing(show(http, image["id"]))
        assert crashable.leftovers() == []
        assert "marked queued" in crashable.server.log()
        assert_v2_upload_works(http, image["id"])


def stage_and_import(http: httpx.Client, image_id: str, data: bytes) -> None:
    resp = http.put(f"/v2/images/{image_id}/stage", content=data, headers=OCTET)
    assert resp.status_code == 204, resp.text
    resp = http.post(f"/v2/images/{image_id}/import", json={"method": {"name": "glance-direct"}})
    assert resp.status_code == 202, resp.text


def test_staging_killed_mid_stream_goes_back_to_queued(crashable: Crashable) -> None:
    with httpx.Client(base_url=crashable.url, timeout=60) as http:
        image = create(http)
    crash_mid_request(crashable, f"PUT /v2/images/{image['id']}/stage", "",
                      crashable.staging)
    with httpx.Client(base_url=crashable.url, timeout=60) as http:
        assert_queued_with_nothing(show(http, image["id"]))
        assert crashable.leftovers() == []
        stage_and_import(http, image["id"], b"staged again")
        wait_for(lambda: show(http, image["id"])["status"] == "active", "the import ends")
        assert http.get(f"/v2/images/{image['id']}/file").content == b"staged again"


def test_import_of_staged_data_killed_mid_stream_goes_back_to_queued(
        crashable: Crashable) -> None:
    """The process dies while its glance-direct import writes the staged data into the
    store: after the restart the image is queued, its task failed, the staged data and the
    partial copy are gone, and the image can be staged and imported anew."""
    block = os.urandom(1 << 20)
    with httpx.Client(base_url=crashable.url, timeout=120) as http:
        image = create(http)
        resp = http.put(f"/v2/images/{image['id']}/stage", headers=OCTET,
                        content=iter([block] * 320))  # long enough to catch mid-import
        assert resp.status_code == 204, resp.text
        resp = http.post(f"/v2/images/{image['id']}/import",
                         json={"method": {"name": "glance-direct"}})
        assert resp.status_code == 202, resp.text
    wait_for(lambda: has_part(crashable.server.store_dir), "the import writes into the store")
    crashable.kill_and_restart()
    with httpx.Client(base_url=crashable.url, timeout=60) as http:
        assert_queued_with_nothing(show(http, image["id"]))
        tasks = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
        assert [t["status"] for t in tasks] == ["failure"]
        assert crashable.leftovers() == []
        stage_and_import(http, image["id"], b"imported again")
        wait_for(lambda: show(http, image["id"])["status"] == "active", "the import ends")
        assert http.get(f"/v2/images/{image['id']}/file").content == b"imported again"
