"""Faults an operator meets, injected into a real glance-api: the file store's disk fills
up, an S3 or Swift server goes away in the middle of a transfer, the PostgreSQL server
restarts. Each time: a clear 5xx in the JSON envelope (never a traceback), the image not
active, nothing left behind, and service back once the fault ends."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from glance.testing import PrivatePostgres, start_postgres
from tests.conftest import RunningServer, start_server
from tests.functional._v1 import assert_error
from tests.functional._v2 import OCTET, create, show
from tests.functional.test_scale_out import PausedBody, upload_in_background, wait_saving

MiB = 1 << 20
V1_RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare",
          "x-image-meta-name": "fault", "Content-Type": "application/octet-stream"}


def tracebacks(server: RunningServer) -> list[str]:
    """Log lines of unhandled errors (a 500 with a traceback)."""
    return [line for line in server.log().splitlines()
            if "Traceback" in line or "unhandled error" in line]


def write_config(base: Path, text: str) -> list[str]:
    path = base / "glance.toml"
    path.write_text(text)
    return ["--config", str(path)]


# -- disk full ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs mounted under the test's temporary directory, unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill a disk needs root (CI runs as root)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(mount)],
                   check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk_server(tmp_path: Path, small_disk: Path) -> Iterator[RunningServer]:
    store = small_disk / "images"
    server = start_server(tmp_path / "data", write_config(
        tmp_path, f'[glance]\nfile_store_dir = "{store}"\nfile_store_fsync = true\n'))
    yield server
    server.stop()


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_disk_full_fails_cleanly_and_gives_the_space_back(
        disk_server: RunningServer, small_disk: Path, api: str) -> None:
    store = small_disk / "images"
    free_before = free_bytes(small_disk)
    too_big = os.urandom(free_before + 2 * MiB)
    with httpx.Client(base_url=disk_server.url, timeout=60) as http:
        if api == "v1":
            image_id = str(uuid.uuid4())
            resp = http.post("/v1/images", content=too_big,
                             headers={**V1_RAW, "x-image-meta-id": image_id})
            error = assert_error(resp, 503)
            assert http.head(f"/v1/images/{image_id}").headers[
                "x-image-meta-status"] == "killed"
        else:
            image_id = create(http)["id"]
            resp = http.put(f"/v2/images/{image_id}/file", content=too_big, headers=OCTET)
            error = assert_error(resp, 503)
            shown = show(http, image_id)
            assert shown["status"] == "queued" and shown["size"] is None, shown
        assert "no space" in error["message"].lower(), error
        assert list(store.iterdir()) == []  # no partial file
        assert free_bytes(small_disk) == free_before  # the space is given back

        # service continues: a small upload works, into the same image for v2
        small = os.urandom(MiB)
        if api == "v1":
            resp = http.post("/v1/images", content=small, headers=V1_RAW)
            assert resp.status_code == 201, resp.text
            image_id = resp.json()["image"]["id"]
        else:
            resp = http.put(f"/v2/images/{image_id}/file", content=small, headers=OCTET)
            assert resp.status_code == 204, resp.text
        got = http.get(f"/v2/images/{image_id}/file")
        assert got.status_code == 200 and hashlib.sha256(got.content).digest() == \
            hashlib.sha256(small).digest()
    assert tracebacks(disk_server) == []


# -- the database restarting -----------------------------------------------------------------


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, which it may restart (the machine's shared one
    serves other tests)."""
    postgres = start_postgres()
    yield postgres
    postgres.destroy()


def assert_ok_or_unavailable(resp: httpx.Response, *ok: int) -> bool:
    """``resp`` is a success (one of ``ok``) or a 503 in the envelope; whether it succeeded."""
    if resp.status_code in ok:
        return True
    assert_error(resp, 503)
    return False


def test_database_restart(tmp_path: Path, private_postgres: PrivatePostgres) -> None:
    server = start_server(tmp_path / "data", ["--database-url", private_postgres.url(),
                                              *write_config(tmp_path, "[glance]\n"
                                                            "worker_lease_seconds = 1.0\n")])
    answers: dict[int, int] = {}
    stop = threading.Event()

    def client(number: int) -> None:
        """Creates, shows, lists, uploads small images, deletes, until stopped."""
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while not stop.is_set():
                resp = http.post("/v2/images", json={"name": f"db-{number}",
                                                     "disk_format": "raw",
                                                     "container_format": "bare"})
                answers[resp.status_code] = answers.get(resp.status_code, 0) + 1
                if not assert_ok_or_unavailable(resp, 201):
                    continue
                image_id = resp.json()["id"]
                for resp in (http.get(f"/v2/images/{image_id}"), http.get("/v2/images"),
                             http.put(f"/v2/images/{image_id}/file", content=b"x" * 4096,
                                      headers=OCTET),
                             http.delete(f"/v2/images/{image_id}")):
                    answers[resp.status_code] = answers.get(resp.status_code, 0) + 1
                    assert_ok_or_unavailable(resp, 200, 204, 404, 409)

    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            kept = create(http, name="kept")
            assert http.put(f"/v2/images/{kept['id']}/file", content=b"kept data",
                            headers=OCTET).status_code == 204
            # between requests: the database is down, then back
            private_postgres.stop("fast")
            for resp in (http.get("/v2/images"), http.get(f"/v2/images/{kept['id']}"),
                         http.post("/v2/images", json={"name": "during"}),
                         http.get(f"/v1/images/{kept['id']}"), http.get("/v1/images")):
                assert_error(resp, 503, "unavailable")
            private_postgres.start()
            assert show(http, kept["id"])["status"] == "active"
            assert http.get(f"/v2/images/{kept['id']}/file").content == b"kept data"

            # an upload whose data ends while the database is down: 503, and once it is
            # back the image is ready for a new upload, its bytes gone
            image = create(http)
            body = PausedBody(os.urandom(2 * MiB), os.urandom(MiB))
            upload = upload_in_background(server.url, image["id"], body)
            wait_saving(http, image["id"])
            private_postgres.stop("fast")
            body.release.set()
            upload["thread"].join(60)
            assert_error(upload["response"], 503, "unavailable")
            private_postgres.start()
            deadline = time.monotonic() + 20
            while show(http, image["id"])["status"] == "saving":
                assert time.monotonic() < deadline, "the image stays saving"
                time.sleep(0.2)
            assert show(http, image["id"])["status"] != "active"
            assert sorted(p.name for p in server.store_dir.iterdir()) == [kept["id"]]

            # while requests are in flight, twice
            errors: list[BaseException] = []

            def run(number: int) -> None:
                try:
                    client(number)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
            for thread in threads:
                thread.start()
            for _ in range(2):
                time.sleep(1.5)
                private_postgres.stop("fast")
                time.sleep(1.0)
                private_postgres.start()
            time.sleep(1.5)
            stop.set()
            for thread in threads:
                thread.join(60)
            assert errors == [], errors
            assert answers.get(503, 0) > 0, answers  # the outage was seen
            assert not [code for code in answers if code >= 500 and code != 503], answers

            # service is back: nothing stays saving, the store holds the data of the active
            # images and nothing else, and uploads work
            deadline = time.monotonic() + 20
            while [i for i in http.get("/v2/images").json()["images"]
                   if i["status"] == "saving"] and time.monotonic() < deadline:
                time.sleep(0.2)
            images = http.get("/v2/images").json()["images"]
            assert not [i["id"] for i in images if i["status"] == "saving"], images
            assert sorted(p.name for p in server.store_dir.iterdir()) == sorted(
                i["id"] for i in images if i["status"] == "active"), images
            image = create(http)
            assert http.put(f"/v2/images/{image['id']}/file", content=b"after",
                            headers=OCTET).status_code == 204
            assert http.get(f"/v2/images/{image['id']}/file").content == b"after"
    finally:
        server.stop()
    print(f"\ndatabase restarts: answers {sorted(answers.items())}")
    assert tracebacks(server) == []
