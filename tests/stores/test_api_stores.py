"""glance-api with named stores: local (file, default), cold (S3: on Swift's s3api and on
Ceph RGW, through the ``s3_server`` fixture), archive (Swift). Uploads through every store
name and alias, deletes, failed uploads, no secrets.

Tests that put bytes into ``cold`` run on both S3 servers; the others on s3api only."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, free_port, start_server
from tests.servers import S3_KINDS, S3Server, SwiftServer, unique

RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare",
       "Content-Type": "application/octet-stream"}
PART = 5 << 20
SEGMENT = 1 << 20
BIG = 2 * PART + 4321  # three S3 parts, eleven Swift segments
S3_STORES = {"s3", "cold"}


def on_s3(argnames: str, cases: list[tuple]) -> pytest.MarkDecorator:
    """Parametrize ``argnames`` plus the S3 server: the cases whose first value names an S3
    store run on every S3 implementation, the others on s3api only."""
    rows = [(*case, kind) for case in cases
            for kind in (S3_KINDS if case[0] in S3_STORES else ["s3api"])]
    return pytest.mark.parametrize(f"{argnames},s3_server", rows, indirect=["s3_server"])


S3API_ONLY = pytest.mark.parametrize("s3_server", ["s3api"], indirect=True)


def toml_table(name: str, settings: dict) -> str:
    lines = [f"[stores.{name}]"]
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


class Deployment:
    def __init__(self, server: RunningServer, s3: S3Server, swift: SwiftServer, bucket: str,
                 container: str, local_dir: Path) -> None:
        self.server, self.s3, self.swift = server, s3, swift
        self.bucket, self.container, self.local_dir = bucket, container, local_dir

    def leftovers(self) -> dict[str, list[str]]:
        return {"bucket": self.s3.names(self.bucket),
                "bucket+segments": self.s3.parts(self.bucket),
                "container": self.swift.names(self.container),
                "container_segments": self.swift.names(self.container + "_segments"),
                "local": sorted(p.name for p in self.local_dir.iterdir())
                if self.local_dir.exists() else []}

    def db_rows(self) -> list[tuple]:
        con = sqlite3.connect(self.server.data_dir / "glance.sqlite")
        try:
            rows = []
            for (table,) in con.execute("select name from sqlite_master where type='table'"):
                rows += [(table, *row) for row in con.execute(f'select * from "{table}"')]
            return rows
        finally:
            con.close()


@pytest.fixture(scope="module")
def deployment(s3_server: S3Server, swift_server: SwiftServer,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = tmp_path_factory.mktemp("glance-stores")
    bucket, container = unique("cold"), unique("archive")
    local_dir = base / "local-images"
    config = base / "glance.toml"
    config.write_text(
        '[glance]\ndefault_store = "local"\n\n'
        + toml_table("local", {"driver": "file", "directory": str(local_dir), "fsync": False})
        + toml_table("cold", s3_server.settings(
            bucket, part_size=PART, multipart_threshold=PART, max_concurrency=3))
        + toml_table("archive", swift_server.swift_settings(
            container, segment_size=SEGMENT, max_concurrency=3)))
    server = start_server(base / "data", ["--config", str(config)])
    try:
        yield Deployment(server, s3_server, swift_server, bucket, container, local_dir)
    finally:
        server.stop()


def post(url: str, data: bytes, store: str | None = None, **headers: str) -> httpx.Response:
    extra = {"x-image-meta-store": store} if store else {}
    return httpx.post(url + "/v1/images", content=data, timeout=120,
                      headers={**RAW, "x-image-meta-name": "img", **extra, **headers})


@on_s3("store,instance", [
    ("s3", "cold"), ("swift", "archive"), ("file", "local"), ("cold", "cold"),
    ("archive", "archive"), ("local", "local"), (None, "local")])
@pytest.mark.parametrize("size", [1000, BIG])
def test_upload_download_delete_through_each_store(deployment: Deployment, store: str | None,
                                                   instance: str, size: int) -> None:
    url = deployment.server.url
    data = os.urandom(size)
    response = post(url, data, store)
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["status"] == "active" and image["size"] == size
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    got = httpx.get(f"{url}/v1/images/{image['id']}", timeout=120)
    assert got.status_code == 200 and got.content == data
    assert got.headers["x-image-meta-checksum"] == hashlib.md5(data).hexdigest()
    if size > 10:
        ranged = httpx.get(f"{url}/v1/images/{image['id']}", timeout=60,
                           headers={"Range": f"bytes=3-{size - 2}"})
        assert ranged.status_code == 206
        assert ranged.content == data[3:size - 1]

    rows = [r for r in deployment.db_rows() if image["id"] in r and r[0] == "images"]
    assert rows, "the image has a row"
    held = deployment.leftovers()
    if size:
        where = {"cold": "bucket", "archive": "container", "local": "local"}[instance]
        assert image["id"] in held[where], held
        con = sqlite3.connect(deployment.server.data_dir / "glance.sqlite")
        stored = con.execute("select store, key, status from image_locations where image_id = ?",
                             (image["id"],)).fetchall()
        con.close()
        # the store instance's name (never the alias) and the key, no URL
        assert stored == [(instance, image["id"], "active")]

    assert httpx.delete(f"{url}/v1/images/{image['id']}").status_code == 200
    held = deployment.leftovers()
    assert all(image["id"] not in "\n".join(names) for names in held.values()), held


def test_segments_and_parts_really_used(deployment: Deployment) -> None:
    """A big image is an SLO in Swift and a multipart object through S3 (three parts: the
    ETag says so, and s3api shows them as segments)."""
    url = deployment.server.url
    ids = {}
    for store in ("archive", "cold"):
        response = post(url, os.urandom(BIG), store)
        assert response.status_code == 201, response.text
        ids[store] = response.json()["image"]["id"]
    held = deployment.leftovers()
    segments = [n for n in held["container_segments"] if n.startswith(ids["archive"] + "/")]
    assert len(segments) == -(-BIG // SEGMENT)
    assert deployment.s3.part_count(deployment.bucket, ids["cold"]) == 3
    if deployment.s3.kind == "s3api":
        parts = [n for n in held["bucket+segments"] if n.startswith(ids["cold"] + "/")]
        assert len(parts) == 3, held["bucket+segments"]
    for image_id in ids.values():
        assert httpx.delete(f"{url}/v1/images/{image_id}").status_code == 200
    held = deployment.leftovers()
    assert not any(i in "\n".join(names) for i in ids.values() for names in held.values())


@S3API_ONLY
def test_unknown_store_is_400(deployment: Deployment) -> None:
    before = deployment.leftovers()
    response = post(deployment.server.url, b"data", "nowhere")
    assert response.status_code == 400
    assert "nowhere" in response.text
    assert deployment.leftovers() == before


@on_s3("store", [("cold",), ("archive",), ("local",)])
@pytest.mark.parametrize("declared", [BIG - 100_000, BIG + 1])
def test_size_mismatch_leaves_nothing(deployment: Deployment, store: str, declared: int) -> None:
    before = deployment.leftovers()
    response = post(deployment.server.url, os.urandom(BIG), store,
                    **{"x-image-meta-size": str(declared)})
    assert response.status_code == 400, response.text
    assert deployment.leftovers() == before
    killed = httpx.get(deployment.server.url + "/v1/images/detail?status=killed").json()
    assert killed["images"]


def test_no_credentials_in_the_database_or_answers(deployment: Deployment) -> None:
    url = deployment.server.url
    response = post(url, b"secretless", "cold")
    assert response.status_code == 201
    image_id = response.json()["image"]["id"]
    swift_copy = post(url, b"secretless too", "archive")
    assert swift_copy.status_code == 201
    assert httpx.get(f"{url}/v1/images/{swift_copy.json()['image']['id']}").content == \
        b"secretless too"
    # nor in the log: swiftclient's request lines at INFO show the token's start
    assert "X-Auth-Token" not in deployment.server.log()
    assert "AUTH_tk" not in deployment.server.log()
    texts = [response.text, json.dumps(dict(response.headers))]
    for path in (f"/v1/images/{image_id}", "/v1/images/detail"):
        answer = httpx.head(url + path) if path.endswith(image_id) else httpx.get(url + path)
        texts += [answer.text, json.dumps(dict(answer.headers))]
    rows = json.dumps(deployment.db_rows(), default=str)
    for secret in ("testing", deployment.swift.auth_url, "auth/v1.0", deployment.swift.url,
                   *deployment.s3.secrets):
        assert secret not in rows
        assert all(secret not in text for text in texts)


def test_stores_from_the_environment(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = unique("envs3")
    stores = {"envcold": s3_server.settings(bucket, part_size=PART)}
    server = start_server(tmp_path / "data", env={"GLANCE_STORES": json.dumps(stores),
                                                  "GLANCE_DEFAULT_STORE": "s3"})
    try:
        data = os.urandom(PART + 10)
        response = post(server.url, data)
        assert response.status_code == 201, response.text
        assert s3_server.names(bucket) == [response.json()["image"]["id"]]
        assert httpx.get(server.url + f"/v1/images/{response.json()['image']['id']}",
                         timeout=60).content == data
        assert post(server.url, b"x", "file").status_code == 201  # the built-in file store
    finally:
        server.stop()


def test_swift_store_with_keystone_v3_through_the_seed_client(swift_server: SwiftServer,
                                                               tmp_path: Path) -> None:
    """A Swift store that authenticates with a real Keystone v3: the seed's add/get/delete,
    segments for a big image, nothing left after delete, no password in any answer."""
    from glance.client import Client
    container = unique("ks")
    config = tmp_path / "glance.toml"
    config.write_text(toml_table("vault", swift_server.keystone_settings(
        container, segment_size=SEGMENT)))
    server = start_server(tmp_path / "data", ["--config", str(config)])
    try:
        client = Client(server.host, server.port)
        data = os.urandom(BIG)
        meta = client.add_image({"name": "ks", "disk_format": "raw", "container_format": "bare",
                                 "store": "vault"}, iter([data[:PART], data[PART:]]))
        assert meta["status"] == "active" and meta["size"] == BIG
        assert meta["checksum"] == hashlib.md5(data).hexdigest()
        assert swift_server.names(container, keystone=True) == [meta["id"]]
        assert len(swift_server.names(container + "_segments", keystone=True)) == 11
        _, chunks = client.get_image(meta["id"])
        assert b"".join(chunks) == data
        answers = httpx.get(server.url + f"/v2/images/{meta['id']}").text + json.dumps(
            client.get_image_meta(meta["id"]))
        assert "glance-secret" not in answers and str(swift_server.keystone_port) not in answers
        client.delete_image(meta["id"])
        assert swift_server.names(container, keystone=True) == []
        assert swift_server.names(container + "_segments", keystone=True) == []
    finally:
        server.stop()


def test_swift_store_with_a_wrong_keystone_password_stops_startup(swift_server: SwiftServer,
                                                                  tmp_path: Path) -> None:
    err = _start_fails(tmp_path, toml_table("vault", {
        **swift_server.keystone_settings(unique("ks")), "key": "wrong"}))
    assert "vault" in err and "wrong" not in err


def _start_fails(tmp_path: Path, config: str) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(config)
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--config", str(path), "--data-dir",
         str(tmp_path / "data"), "--port", str(free_port())],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("GLANCE_")})
    assert result.returncode != 0
    return result.stderr


def test_bad_store_configuration_stops_startup_naming_the_store(tmp_path: Path) -> None:
    err = _start_fails(tmp_path, '[stores.frozen]\ndriver = "tape"\n')
    assert "frozen" in err and "tape" in err
    err = _start_fails(tmp_path, '[stores.cold]\ndriver = "s3"\nendpoint_url = "http://x"\n')
    assert "cold" in err and "bucket" in err
    err = _start_fails(tmp_path, '[stores.arch]\ndriver = "swift"\nauth_url = "http://x"\n'
                                 'user = "u"\nkey = "k"\ncontainer = "c"\ncolour = "blue"\n')
    assert "arch" in err and "colour" in err
    err = _start_fails(tmp_path, '[stores.cold]\ndriver = "s3"\nbucket = "b"\n'
                                 'part_size = "big"\n')
    assert "cold" in err and "part_size" in err


@on_s3("store", [("cold",), ("archive",)])
def test_crash_mid_upload_is_cleaned_up_on_restart(s3_server: S3Server, swift_server: SwiftServer,
                                                   tmp_path: Path, store: str) -> None:
    """kill -9 while parts/segments are in the store; the restart aborts and deletes them."""
    import signal
    import socket
    import time

    bucket, container = unique("crash"), unique("crash")
    config = tmp_path / "glance.toml"
    config.write_text(
        toml_table("cold", s3_server.settings(bucket, part_size=PART,
                                              multipart_threshold=PART))
        + toml_table("archive", swift_server.swift_settings(container, segment_size=SEGMENT)))
    data_dir = tmp_path / "data"
    server = start_server(data_dir, ["--config", str(config)])

    def parts() -> list[str]:
        if store == "cold":
            return s3_server.parts(bucket)
        return swift_server.names(container + "_segments")
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        sock.sendall(b"POST /v1/images HTTP/1.1\r\nHost: x\r\nx-image-meta-name: crash\r\n"
                     b"x-image-meta-disk_format: raw\r\nx-image-meta-container_format: bare\r\n"
                     b"x-image-meta-store: " + store.encode() + b"\r\n"
                     b"Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n"
                     b"\r\n")
        sock.sendall(os.urandom(3 * PART))
        deadline = time.monotonic() + 30
        while not parts():
            assert time.monotonic() < deadline, "no part reached the store"
            time.sleep(0.1)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
    finally:
        sock.close()
        server.stop()
    assert parts()

    restarted = start_server(data_dir, ["--config", str(config)])
    try:
        images = httpx.get(restarted.url + "/v1/images/detail?name=crash&status=killed").json()
        assert [i["status"] for i in images["images"]] == ["killed"]
        assert parts() == []
        assert s3_server.names(bucket) == [] and swift_server.names(container) == []
        if store == "cold":
            assert s3_server.uploads(bucket) == []
    finally:
        restarted.stop()


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@on_s3("store", [("cold",), ("archive",)])
def test_memory_stays_flat_for_a_big_image(deployment: Deployment, store: str) -> None:
    """128 MiB through 5 MiB parts / 1 MiB segments: glance-api's peak RSS grows by far less
    than the image (about part size × (concurrency + 1) plus buffers)."""
    size = 128 << 20
    block = os.urandom(1 << 20)
    md5 = hashlib.md5()

    def body():
        for _ in range(size >> 20):
            md5.update(block)
            yield block

    url = deployment.server.url
    before = _vm_hwm_mib(deployment.server.process.pid)
    response = httpx.post(url + "/v1/images", content=body(), timeout=300, headers={
        **RAW, "x-image-meta-name": "big", "x-image-meta-store": store})
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["checksum"] == md5.hexdigest()
    got = hashlib.md5()
    with httpx.stream("GET", f"{url}/v1/images/{image['id']}", timeout=300) as answer:
        for chunk in answer.iter_bytes(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == md5.hexdigest()
    growth = _vm_hwm_mib(deployment.server.process.pid) - before
    assert growth < 64, f"glance-api grew by {growth:.0f} MiB"
    assert httpx.delete(f"{url}/v1/images/{image['id']}").status_code == 200
