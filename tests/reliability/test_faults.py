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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from glance.testing import PrivatePostgres, start_postgres
from tests.conftest import RunningServer, start_server
from tests.functional._v1 import assert_error
from tests.functional._v2 import OCTET, create, show
from tests.functional.test_scale_out import PausedBody, upload_in_background, wait_saving
from tests.reliability._proxy import FaultyProxy
from tests.servers import RgwServer, S3Server, SwiftServer, unique
from tests.stores.test_api_stores import toml_table

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


# -- an object store going away mid-stream --------------------------------------------------

BIG = 24 * MiB  # several S3 parts (5 MiB) and Swift segments (1 MiB)
LEASE = 1.0  # recovery retries failed cleanups once per lease


@dataclass
class FaultyStore:
    """glance-api with a store named ``kind`` reached through ``proxy``, and a look at what
    the real store holds (``held``: not through the proxy)."""

    server: RunningServer
    proxy: FaultyProxy
    kind: str  # the store's name in glance: s3 (on Swift's s3api), swift, rgw (S3 on Ceph)
    held: Callable[[], list[str]]

    def wait_empty(self, timeout: float = 20) -> list[str]:
        """What the store holds once empty, or as it is after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (held := self.held()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return held


def s3_store_settings(s3: S3Server, bucket: str) -> dict[str, Any]:
    return s3.settings(bucket, part_size=5 * MiB, multipart_threshold=5 * MiB,
                       max_concurrency=2, read_timeout=10, connect_timeout=5)


def faulty_glance(base: Path, tables: str) -> RunningServer:
    return start_server(base / "data", write_config(
        base, f"[glance]\nworker_lease_seconds = {LEASE}\n\n" + tables))


@pytest.fixture(scope="module")
def swift_stores(swift_server: SwiftServer,  # noqa: F811
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FaultyStore]]:
    """glance-api with an S3 store (Swift's s3api) and a Swift store, both reached through
    one FaultyProxy in front of the real Swift proxy."""
    proxy = FaultyProxy("127.0.0.1", swift_server.port)
    bucket, container = unique("faults"), unique("faults")
    s3 = S3Server("s3api", proxy.url, swift_server.user, swift_server.key)
    swift = {**swift_server.swift_settings(container, segment_size=MiB, max_concurrency=3),
             "auth_url": proxy.url + "/auth/v1.0", "timeout": 10}
    server = faulty_glance(tmp_path_factory.mktemp("faults-swift"),
                           toml_table("s3", s3_store_settings(s3, bucket))
                           + toml_table("swift", swift))
    try:
        yield {"s3": FaultyStore(server, proxy, "s3", lambda: swift_server.names(bucket)
                                 + swift_server.names(bucket + "+segments")),
               "swift": FaultyStore(server, proxy, "swift", lambda: swift_server.names(
                   container) + swift_server.names(container + "_segments"))}
    finally:
        server.stop()
        proxy.close()


@pytest.fixture(scope="module")
def rgw_store(rgw_server: RgwServer,  # noqa: F811
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyStore]:
    """glance-api with an S3 store on Ceph RGW, reached through a FaultyProxy."""
    proxy = FaultyProxy("127.0.0.1", rgw_server.port)
    bucket = unique("faults")
    direct = rgw_server.s3
    through = S3Server("rgw", proxy.url, direct.access_key, direct.secret_key)
    server = faulty_glance(tmp_path_factory.mktemp("faults-rgw"),
                           toml_table("rgw", s3_store_settings(through, bucket)))
    try:
        yield FaultyStore(server, proxy, "rgw",
                          lambda: direct.names(bucket) + direct.parts(bucket))
    finally:
        server.stop()
        proxy.close()


@pytest.fixture(params=["s3", "swift", "rgw"])
def store(request: pytest.FixtureRequest) -> FaultyStore:
    """Each object store behind a proxy the test controls (its servers start on first use)."""
    if request.param == "rgw":
        return request.getfixturevalue("rgw_store")
    return request.getfixturevalue("swift_stores")[request.param]


@pytest.mark.timeout(900)  # the first user of the store fixtures starts their servers
def test_store_gone_mid_upload(store: FaultyStore) -> None:
    server, proxy, kind = store.server, store.proxy, store.kind
    data = os.urandom(BIG)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        image_id = create(http)["id"]
        proxy.cut_after("up", 8 * MiB)
        try:
            resp = http.put(f"/v2/images/{image_id}/file", content=data,
                            headers={**OCTET, "X-Image-Meta-Store": kind})
            assert proxy.tripped.is_set()
            error = assert_error(resp, resp.status_code)
            assert resp.status_code in (502, 503), resp.text
            assert kind in error["message"], error
            assert str(proxy.port) not in resp.text  # no endpoint in answers
            shown = show(http, image_id)
            assert shown["status"] == "queued" and shown["size"] is None, shown
        finally:
            proxy.up()
        # once the store is back, nothing of the failed upload is left in it
        assert store.wait_empty() == []
        # and a new upload works (409 "being removed" only until recovery has forgotten the
        # failed write's record, a moment after its leftovers went)
        deadline = time.monotonic() + 10
        while (resp := http.put(f"/v2/images/{image_id}/file", content=data, headers={
                **OCTET, "X-Image-Meta-Store": kind})).status_code == 409:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.5)
        assert resp.status_code == 204, resp.text
        got = http.get(f"/v2/images/{image_id}/file")
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
        assert http.delete(f"/v2/images/{image_id}").status_code == 204
        assert store.wait_empty() == []
    assert tracebacks(server) == []


@pytest.mark.timeout(900)  # the first user of the store fixtures starts their servers
def test_store_gone_mid_download(store: FaultyStore) -> None:
    server, proxy, kind = store.server, store.proxy, store.kind
    data = os.urandom(BIG)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        image_id = create(http)["id"]
        resp = http.put(f"/v2/images/{image_id}/file", content=data,
                        headers={**OCTET, "X-Image-Meta-Store": kind})
        assert resp.status_code == 204, resp.text
        proxy.cut_after("down", 6 * MiB)
        received = 0
        try:
            with pytest.raises(httpx.RemoteProtocolError):
                with http.stream("GET", f"/v2/images/{image_id}/file") as stream:
                    assert stream.status_code == 200
                    assert int(stream.headers["Content-Length"]) == BIG
                    for chunk in stream.iter_raw():
                        received += len(chunk)
            assert proxy.tripped.is_set()
            assert received < BIG  # the client knows the body is incomplete
        finally:
            proxy.up()
        got = http.get(f"/v2/images/{image_id}/file")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
        assert show(http, image_id)["status"] == "active"
        assert http.delete(f"/v2/images/{image_id}").status_code == 204
    assert tracebacks(server) == []


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


@pytest.mark.timeout(900)  # the first user of the store fixtures starts their servers
def test_store_down_before_a_transfer(store: FaultyStore) -> None:
    """A store that does not answer at all: uploads and downloads get a 503 in the envelope
    before any byte moves, and work again once it is back."""
    server, proxy, kind = store.server, store.proxy, store.kind
    data = os.urandom(2 * MiB)
    with httpx.Client(base_url=server.url, timeout=120) as http:
        stored = create(http)["id"]
        assert http.put(f"/v2/images/{stored}/file", content=data,
                        headers={**OCTET, "X-Image-Meta-Store": kind}).status_code == 204
        image_id = create(http)["id"]
        proxy.down()
        try:
            resp = http.put(f"/v2/images/{image_id}/file", content=data,
                            headers={**OCTET, "X-Image-Meta-Store": kind})
            assert_error(resp, 503, kind)
            assert str(proxy.port) not in resp.text
            assert show(http, image_id)["status"] == "queued"
            resp = http.get(f"/v2/images/{stored}/file")
            assert_error(resp, 503, kind)
            assert str(proxy.port) not in resp.text
        finally:
            proxy.up()
        deadline = time.monotonic() + 20
        while (resp := http.put(f"/v2/images/{image_id}/file", content=data, headers={
                **OCTET, "X-Image-Meta-Store": kind})).status_code == 409:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.5)
        assert resp.status_code == 204, resp.text
        for one in (stored, image_id):
            assert http.get(f"/v2/images/{one}/file").content == data
            assert http.delete(f"/v2/images/{one}").status_code == 204
        assert store.wait_empty() == []
    assert tracebacks(server) == []


def test_a_database_outage_longer_than_the_lease_breaks_no_upload(
        tmp_path: Path, private_postgres: PrivatePostgres) -> None:
    """Two processes share the database; it is away for longer than the lease while one of
    them uploads. Neither may take the other for gone because nobody could beat meanwhile:
    the upload finishes once the database is back."""
    lease = 1.0
    store = tmp_path / "images"
    servers = [start_server(tmp_path / name / "data", [
        "--database-url", private_postgres.url(), *write_config(
            tmp_path / name, f'[glance]\nfile_store_dir = "{store}"\n'
            f"worker_lease_seconds = {lease}\n")]) for name in ("a", "b")
        if (tmp_path / name).mkdir() is None]
    a, b = servers
    try:
        with httpx.Client(base_url=b.url, timeout=60) as via_b:
            image = create(via_b)
            head, tail = os.urandom(2 * MiB), os.urandom(MiB)
            body = PausedBody(head, tail)
            upload = upload_in_background(a.url, image["id"], body)
            wait_saving(via_b, image["id"])
            private_postgres.stop("fast")
            time.sleep(4 * lease)
            private_postgres.start()
            time.sleep(3 * lease)  # both processes beat, and b runs its recovery
            body.release.set()
            upload["thread"].join(60)
            assert upload["response"].status_code == 204, upload["response"].text
            shown = show(via_b, image["id"])
            assert shown["status"] == "active", shown
            assert via_b.get(f"/v2/images/{image['id']}/file").content == head + tail
    finally:
        for server in servers:
            server.stop()
    assert [tracebacks(server) for server in servers] == [[], []]
