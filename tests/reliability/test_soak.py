"""The soak: 32+ clients doing a mix of everything, through v1 and v2, for a bounded time
(GLANCE_SOAK_SECONDS, 90 by default), on SQLite with one glance-api process and on
PostgreSQL with two processes sharing the catalogue and the store. Every download is
hash-checked as it happens; at the end the catalogue and the store are audited against what
the clients saw: what went active is active, whole and intact; what was deleted is gone,
bytes included; nothing else lies in the store; and no request answered 5xx."""

from __future__ import annotations

import hashlib
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)

pytestmark = pytest.mark.reliability

SECONDS = float(os.environ.get("GLANCE_SOAK_SECONDS", "90"))
CLIENTS = int(os.environ.get("GLANCE_SOAK_CLIENTS", "32"))
MAX_SIZE = 3 << 20
OCTET = {"Content-Type": "application/octet-stream"}


def image_bytes(seed: int, size: int) -> bytes:
    """The data of an image, made again from its seed whenever it is checked."""
    return random.Random(seed).randbytes(size)


@dataclass
class Known:
    """An image as one client knows it."""

    id: str
    seed: int
    size: int
    api: str
    active: bool = False
    deleted: bool = False

    def data(self) -> bytes:
        return image_bytes(self.seed, self.size)


@dataclass
class Tally:
    """What all clients did and saw (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    surprises: list[str] = field(default_factory=list)
    hash_mismatches: list[str] = field(default_factory=list)
    uploaded: int = 0
    downloaded: int = 0
    images: list[Known] = field(default_factory=list)

    def saw(self, op: str, resp: httpx.Response, *expected: int) -> bool:
        """Count ``resp``; whether its status is one of ``expected`` (else a surprise)."""
        with self.lock:
            self.ops[op] += 1
            self.statuses[resp.status_code] += 1
            if resp.status_code >= 500:
                self.server_errors.append(f"{op} {resp.request.method} {resp.request.url.path}"
                                          f" → {resp.status_code} {_text(resp)}")
            elif resp.status_code not in expected:
                self.surprises.append(f"{op} {resp.request.method} {resp.request.url.path} → "
                                      f"{resp.status_code} {_text(resp)}")
        return resp.status_code in expected

    def add(self, **amounts: int) -> None:
        with self.lock:
            self.uploaded += amounts.get("uploaded", 0)
            self.downloaded += amounts.get("downloaded", 0)


def _text(resp: httpx.Response) -> str:
    try:
        return resp.text[:300]
    except httpx.ResponseNotRead:  # a streamed body (it is not read for a message)
        return "(body not read)"


class Client:
    """One soak client: its own project, its own images, a random mix of operations."""

    def __init__(self, number: int, urls: list[str], tally: Tally, deadline: float) -> None:
        self.number = number
        self.rng = random.Random(number * 7919)
        self.urls = urls
        self.tally = tally
        self.deadline = deadline
        self.project = f"soak-{number:02d}"
        self.headers = {"X-Project-Id": self.project, "X-Roles": "member"}
        self.mine: list[Known] = []
        self.https = [httpx.Client(base_url=url, timeout=120, headers=self.headers)
                      for url in urls]

    @property
    def http(self) -> httpx.Client:
        """Any of the servers (they share one catalogue and store)."""
        return self.rng.choice(self.https)

    def run(self) -> None:
        actions: list[tuple[Callable[[], None], int]] = [
            (self.upload_v2, 8), (self.upload_v1, 5), (self.download, 10),
            (self.range_get, 5), (self.list_images, 5), (self.patch, 4), (self.tag, 3),
            (self.member, 2), (self.delete, 4), (self.abort_upload, 1),
            (self.abort_download, 1), (self.head_v1, 3)]
        functions, weights = zip(*actions, strict=True)
        try:
            while time.monotonic() < self.deadline:
                self.rng.choices(functions, weights)[0]()
        finally:
            for http in self.https:
                http.close()

    # -- the operations -----------------------------------------------------------------------

    def new_known(self, api: str) -> Known:
        size = self.rng.choice([0, 1, self.rng.randrange(1, 64 << 10),
                                self.rng.randrange(1, MAX_SIZE)])
        known = Known("", self.rng.getrandbits(62), size, api)
        return known

    def upload_v2(self) -> None:
        known = self.new_known("v2")
        resp = self.http.post("/v2/images", json={
            "name": f"soak-{self.number}", "disk_format": "raw", "container_format": "bare"})
        if not self.tally.saw("v2 create", resp, 201):
            return
        known.id = resp.json()["id"]
        self.remember(known)
        data = known.data()
        resp = self.http.put(f"/v2/images/{known.id}/file", content=data, headers=OCTET)
        if self.tally.saw("v2 upload", resp, 204):
            known.active = True
            self.tally.add(uploaded=len(data))

    def upload_v1(self) -> None:
        known = self.new_known("v1")
        data = known.data()
        resp = self.http.post("/v1/images", content=data, headers={
            **OCTET, "x-image-meta-name": f"soak-{self.number}",
            "x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"})
        if self.tally.saw("v1 create+upload", resp, 201):
            known.id = resp.json()["image"]["id"]
            # an empty body brings no data: the image stays queued, as v1 always did
            known.active = resp.json()["image"]["status"] == "active"
            if known.active == (not data):
                with self.tally.lock:
                    self.tally.surprises.append(f"{known.id}: v1 create with {len(data)} "
                                                f"bytes is {resp.json()['image']['status']}")
            self.remember(known)
            self.tally.add(uploaded=len(data))

    def remember(self, known: Known) -> None:
        self.mine.append(known)
        with self.tally.lock:
            self.tally.images.append(known)

    def some_active(self) -> Known | None:
        live = [k for k in self.mine if k.active and not k.deleted]
        return self.rng.choice(live) if live else None

    def download(self) -> None:
        known = self.some_active()
        if known is None:
            return
        path = (f"/v2/images/{known.id}/file" if self.rng.random() < 0.5
                else f"/v1/images/{known.id}")
        digest = hashlib.sha256()
        got = 0
        with self.http.stream("GET", path) as resp:
            expected = 204 if known.size == 0 and path.startswith("/v2") else 200
            if not self.tally.saw("download", resp, expected, 200):
                resp.read()
                return
            for chunk in resp.iter_bytes(1 << 20):
                digest.update(chunk)
                got += len(chunk)
        self.tally.add(downloaded=got)
        if digest.digest() != hashlib.sha256(known.data()).digest():
            with self.tally.lock:
                self.tally.hash_mismatches.append(f"{known.id}: {got} of {known.size} bytes")

    def range_get(self) -> None:
        known = self.some_active()
        if known is None or known.size < 2:
            return
        first = self.rng.randrange(known.size)
        last = self.rng.randrange(first, known.size)
        resp = self.http.get(f"/v2/images/{known.id}/file",
                             headers={"Range": f"bytes={first}-{last}"})
        if self.tally.saw("range get", resp, 206):
            self.tally.add(downloaded=len(resp.content))
            if resp.content != known.data()[first:last + 1]:
                with self.tally.lock:
                    self.tally.hash_mismatches.append(f"{known.id}: range {first}-{last}")

    def list_images(self) -> None:
        if self.rng.random() < 0.5:
            resp = self.http.get("/v2/images", params={"limit": 20})
            self.tally.saw("v2 list", resp, 200)
        else:
            resp = self.http.get("/v1/images/detail", params={"limit": 20})
            self.tally.saw("v1 list", resp, 200)

    def head_v1(self) -> None:
        known = self.some_active()
        if known is not None:
            resp = self.http.head(f"/v1/images/{known.id}")
            if self.tally.saw("v1 head", resp, 200) and \
                    int(resp.headers["x-image-meta-size"]) != known.size:
                with self.tally.lock:
                    self.tally.surprises.append(f"{known.id}: HEAD size "
                                                f"{resp.headers['x-image-meta-size']}")

    def patch(self) -> None:
        known = self.some_active()
        if known is None:
            return
        ops = [{"op": "replace", "path": "/name", "value": f"soak-{self.rng.random()}"},
               {"op": "add", "path": f"/soak_{self.rng.randrange(5)}", "value": "x"}]
        resp = self.http.patch(f"/v2/images/{known.id}", content=json.dumps(ops),
                               headers={"Content-Type":
                                        "application/openstack-images-v2.1-json-patch"})
        self.tally.saw("v2 patch", resp, 200)

    def tag(self) -> None:
        known = self.some_active()
        if known is not None:
            resp = self.http.put(f"/v2/images/{known.id}/tags/t{self.rng.randrange(8)}")
            self.tally.saw("v2 tag", resp, 204)

    def member(self) -> None:
        known = self.some_active()
        if known is None:
            return
        member = f"soak-member-{self.rng.randrange(1000)}"
        resp = self.http.post(f"/v2/images/{known.id}/members", json={"member": member})
        self.tally.saw("v2 member add", resp, 200, 409)  # 409: already a member

    def delete(self) -> None:
        left = [k for k in self.mine if not k.deleted]
        known = self.some_active() if self.rng.random() < 0.8 else (
            self.rng.choice(left) if left else None)
        if known is None:
            return
        if known.api == "v1":
            resp = self.http.delete(f"/v1/images/{known.id}")
            ok = self.tally.saw("v1 delete", resp, 200)
        else:
            resp = self.http.delete(f"/v2/images/{known.id}")
            ok = self.tally.saw("v2 delete", resp, 204)
        if ok:
            known.deleted = True
            resp = self.http.get(f"/v2/images/{known.id}")
            self.tally.saw("show deleted", resp, 404)

    def abort_upload(self) -> None:
        """A v2 upload whose client goes away half-way."""
        resp = self.http.post("/v2/images", json={
            "name": f"soak-abort-{self.number}", "disk_format": "raw",
            "container_format": "bare"})
        if not self.tally.saw("v2 create", resp, 201):
            return
        known = Known(resp.json()["id"], 0, 0, "v2")
        self.remember(known)
        url = httpx.URL(self.rng.choice(self.urls))
        declared = 2 << 20
        with socket.create_connection((url.host, url.port or 80), timeout=30) as sock:
            head = (f"PUT /v2/images/{known.id}/file HTTP/1.1\r\nHost: {url.host}\r\n"
                    f"X-Project-Id: {self.project}\r\nX-Roles: member\r\n"
                    f"Content-Type: application/octet-stream\r\n"
                    f"Content-Length: {declared}\r\n\r\n")
            sock.sendall(head.encode() + os.urandom(self.rng.randrange(1, declared)))
        with self.tally.lock:
            self.tally.ops["aborted upload"] += 1

    def abort_download(self) -> None:
        known = self.some_active()
        if known is None or known.size < (256 << 10):
            return
        with self.http.stream("GET", f"/v2/images/{known.id}/file") as resp:
            self.tally.saw("aborted download", resp, 200)
            for _ in resp.iter_raw(64 << 10):
                break  # and the connection is closed mid-body


# -- the audit --------------------------------------------------------------------------------


def settle(http: httpx.Client, images: list[Known], timeout: float = 30) -> None:
    """Wait until no image is saving any more (aborted uploads being undone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        saving = [i for i in all_images(http) if i["status"] == "saving"]
        if not saving:
            return
        time.sleep(0.2)


def all_images(http: httpx.Client) -> list[dict[str, Any]]:
    """Every image in the catalogue (as admin), page by page."""
    found: list[dict[str, Any]] = []
    url: str | None = "/v2/images?limit=1000"
    while url:
        resp = http.get(url)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        found += page["images"]
        url = page.get("next")
    return found


def audit(url: str, store_dir: Path, tally: Tally) -> dict[str, Any]:
    """Check the catalogue and the store against what the clients saw; the findings."""
    findings: dict[str, Any] = {"wrong": [], "bytes_lost": 0, "checked_bytes": 0}
    with httpx.Client(base_url=url, timeout=120) as http:  # noauth: admin
        settle(http, tally.images)
        catalogue = {image["id"]: image for image in all_images(http)}
        expected_files: set[str] = set()
        for known in tally.images:
            image = catalogue.get(known.id)
            if known.deleted:
                resp = http.get(f"/v2/images/{known.id}")
                if resp.status_code != 404 or image is not None:
                    findings["wrong"].append(f"{known.id}: deleted, but {resp.status_code}")
                continue
            if not known.active:
                if image is None or image["status"] == "active":
                    findings["wrong"].append(f"{known.id}: never uploaded, but {image}")
                continue
            data = known.data()
            if image is None or image["status"] != "active" or image["size"] != known.size \
                    or image["checksum"] != hashlib.md5(data).hexdigest():
                findings["wrong"].append(f"{known.id}: saw it active with {known.size} bytes, "
                                         f"now {image}")
                findings["bytes_lost"] += known.size
                continue
            expected_files.add(known.id)  # an empty upload keeps an empty file
            digest = hashlib.sha256()
            with http.stream("GET", f"/v2/images/{known.id}/file") as resp:
                for chunk in resp.iter_bytes(1 << 20):
                    digest.update(chunk)
            findings["checked_bytes"] += known.size
            if digest.digest() != hashlib.sha256(data).digest():
                findings["wrong"].append(f"{known.id}: its data does not match")
                findings["bytes_lost"] += known.size
        findings["catalogue"] = {i: (im["status"], im["size"]) for i, im in catalogue.items()}
        known_ids = {k.id for k in tally.images}
        findings["unknown_images"] = sorted(set(catalogue) - known_ids)
    files = {p.name for p in store_dir.iterdir()} if store_dir.exists() else set()
    findings["orphan_files"] = sorted(files - expected_files)
    findings["missing_files"] = sorted(expected_files - files)
    return findings


def soak(urls: list[str], store_dir: Path, servers: list[RunningServer], label: str) -> None:
    tally = Tally()
    deadline = time.monotonic() + SECONDS
    started = time.monotonic()
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            Client(number, urls, tally, deadline).run()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SECONDS + 300)
    ran = time.monotonic() - started
    findings = audit(urls[0], store_dir, tally)
    tracebacks = [line for server in servers for line in server.log().splitlines()
                  if "Traceback" in line or "unhandled error" in line]
    print(f"\nsoak ({label}, {CLIENTS} clients, {ran:.0f} s + audit "
          f"{time.monotonic() - started - ran:.0f} s): {sum(tally.ops.values())} operations, "
          f"{tally.uploaded / 1e6:.0f} MB uploaded, {tally.downloaded / 1e6:.0f} MB downloaded"
          f", {findings['checked_bytes'] / 1e6:.0f} MB audited; 5xx: "
          f"{len(tally.server_errors)}, hash mismatches: {len(tally.hash_mismatches)}, "
          f"bytes lost: {findings['bytes_lost']}, orphan files: "
          f"{len(findings['orphan_files'])}, tracebacks: {len(tracebacks)}")
    print("  " + ", ".join(f"{op}: {n}" for op, n in sorted(tally.ops.items())))
    print("  statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items())))
    assert errors == [], errors[:5]
    assert tally.server_errors == [], tally.server_errors[:10]
    assert tally.hash_mismatches == [], tally.hash_mismatches[:10]
    assert tally.surprises == [], tally.surprises[:10]
    assert findings["wrong"] == [], findings["wrong"][:10]
    assert findings["bytes_lost"] == 0
    assert findings["orphan_files"] == [] and findings["missing_files"] == [], (
        findings["orphan_files"][:10], findings["missing_files"][:10],
        [(k, catalogue_entry) for k, catalogue_entry in findings["catalogue"].items()
         if any(k in name for name in findings["orphan_files"])][:10],
        [k for k in tally.images if any(k.id in name for name in findings["orphan_files"])][:10])
    assert findings["unknown_images"] == [], findings["unknown_images"][:10]
    assert tracebacks == [], tracebacks[:10]
    assert tally.ops["v2 upload"] and tally.ops["download"] and tally.ops["v2 delete"]


def config(base: Path, store: Path) -> list[str]:
    path = base / "glance.toml"
    path.write_text(f"[glance]\nfile_store_dir = {json.dumps(str(store))}\n"
                    f"file_store_fsync = false\n")
    return ["--config", str(path)]


@pytest.fixture
def one_sqlite_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "data", config(tmp_path, tmp_path / "images"))
    yield server
    server.stop()


@pytest.mark.timeout(SECONDS * 2 + 600)
def test_soak_sqlite_one_process(tmp_path: Path, one_sqlite_server: RunningServer) -> None:
    soak([one_sqlite_server.url], tmp_path / "images", [one_sqlite_server],
         "SQLite, one process")


@pytest.mark.timeout(SECONDS * 2 + 600)
def test_soak_postgres_two_processes(tmp_path: Path, postgres_database: str  # noqa: F811
                                     ) -> None:
    store = tmp_path / "images"
    servers: list[RunningServer] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            servers.append(start_server(tmp_path / name / "data", [
                "--database-url", postgres_database, *config(tmp_path / name, store)]))
        soak([s.url for s in servers], store, servers, "PostgreSQL, two processes")
    finally:
        for server in servers:
            server.stop()
