"""The per-node image cache against real object stores: glance-api with ``cold`` (S3, on
Swift's s3api and on Ceph RGW) and ``archive`` (Swift), each reached through a TCP proxy
that counts the bytes the store sends and can be shut, so that a download served from the
cache is proven not to touch the store."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.servers import S3Server, SwiftServer, unique

SIZE = (3 << 20) + 12345
NON_ADMIN = {"X-Roles": "member", "X-Project-Id": "someone"}


class Proxy:
    """A TCP forwarder to 127.0.0.1:``target``: counts what the store sends back; ``shut``
    drops every connection and refuses new ones until ``reopen``."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.received = 0  # bytes from the store
        self.is_open = True
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.is_open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
                if count:
                    with self.lock:
                        self.received += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def shut(self) -> None:
        self.is_open = False
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets = []

    def reopen(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.shut()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()


def _proxied(url: str, proxy: Proxy) -> str:
    head, _, rest = url.partition("://")
    path = rest.partition("/")[2]
    return f"{head}://127.0.0.1:{proxy.port}" + (f"/{path}" if path else "")


class Node:
    """Everything one cache test needs: the store proxies and a way to start glance-api
    processes on them with the cache on."""

    def __init__(self, base: Path, s3: S3Server, swift: SwiftServer) -> None:
        self.base = base
        self.s3_proxy = Proxy(int(s3.endpoint.rsplit(":", 1)[1]))
        self.swift_proxy = Proxy(swift.port)
        self.bucket, self.container = unique("cache"), unique("cache")
        self.s3, self.swift = s3, swift
        self.servers: list[RunningServer] = []

    def config(self, name: str, **cache: Any) -> Path:
        settings = {"image_cache_enabled": True,
                    "image_cache_dir": str(self.base / "cache"), **cache}
        stores = {
            "cold": self.s3.settings(self.bucket,
                                     endpoint_url=_proxied(self.s3.endpoint, self.s3_proxy)),
            "archive": self.swift.swift_settings(
                self.container, auth_url=_proxied(self.swift.auth_url, self.swift_proxy)),
        }
        lines = ["[glance]", 'default_store = "cold"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        for store, table in stores.items():
            lines.append(f"[stores.{store}]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        path = self.base / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, name: str = "a", **cache: Any) -> RunningServer:
        """A glance-api on the shared registry and cache directory of this node."""
        server = start_server(self.base / "data", ["--config", str(self.config(name, **cache))])
        self.servers.append(server)
        return server

    @property
    def cache_dir(self) -> Path:
        return self.base / "cache"

    def cached(self) -> list[str]:
        data = self.cache_dir / "data"
        return sorted(p.name for p in data.iterdir()) if data.exists() else []

    def partial(self) -> list[str]:
        parts = self.cache_dir / "incomplete"
        return sorted(p.name for p in parts.iterdir()) if parts.exists() else []

    def received(self) -> int:
        return self.s3_proxy.received + self.swift_proxy.received

    def shut_stores(self) -> None:
        self.s3_proxy.shut()
        self.swift_proxy.shut()

    def reopen_stores(self) -> None:
        self.s3_proxy.reopen()
        self.swift_proxy.reopen()

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        self.s3_proxy.close()
        self.swift_proxy.close()


@pytest.fixture
def node(s3_server: S3Server, swift_server: SwiftServer, tmp_path: Path) -> Iterator[Node]:
    node = Node(tmp_path, s3_server, swift_server)
    try:
        yield node
    finally:
        node.close()


S3API_ONLY = pytest.mark.parametrize("s3_server", ["s3api"], indirect=True)


def upload(url: str, data: bytes, store: str = "cold") -> str:
    image = httpx.post(url + "/v2/images", json={"name": "cached", "disk_format": "raw",
                                                 "container_format": "bare"}).json()
    resp = httpx.put(f"{url}/v2/images/{image['id']}/file", content=data, timeout=120,
                     headers={"Content-Type": "application/octet-stream",
                              "X-Image-Meta-Store": store})
    assert resp.status_code == 204, resp.text
    assert httpx.get(f"{url}/v2/images/{image['id']}").json()["stores"] == store
    return str(image["id"])


def download(url: str, image_id: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{url}/v2/images/{image_id}/file", headers=headers, timeout=120)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def cache_list(url: str) -> dict[str, Any]:
    resp = httpx.get(url + "/v2/cache")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


@pytest.mark.parametrize("store", ["cold", "archive"])
def test_first_download_fills_later_ones_never_touch_the_store(node: Node, store: str) -> None:
    if store == "archive" and node.s3.kind != "s3api":
        pytest.skip("Swift once is enough")
    server = node.start()
    data = os.urandom(SIZE)
    iid = upload(server.url, data, store)
    assert node.cached() == []  # an upload does not fill the cache
    before = node.received()
    first = download(server.url, iid)
    assert first.status_code == 200 and first.content == data
    assert node.received() - before >= SIZE  # the first one came from the store
    wait_for(lambda: node.cached() == [iid], "the cache fill")
    assert node.partial() == []
    assert (node.cache_dir / "data" / iid).read_bytes() == data

    before = node.received()
    second = download(server.url, iid)
    assert second.status_code == 200 and second.content == data
    assert second.headers["Content-MD5"] == first.headers["Content-MD5"]
    assert node.received() - before == 0  # the store sent nothing
    node.shut_stores()  # and with the store unreachable, whole and ranges still work
    try:
        assert download(server.url, iid).content == data
        ranged = download(server.url, iid, Range="bytes=1000-2000999")
        assert ranged.status_code == 206 and ranged.content == data[1000:2001000]
        assert ranged.headers["Content-Range"] == f"bytes 1000-2000999/{SIZE}"
        tail = download(server.url, iid, Range="bytes=-10")
        assert tail.status_code == 206 and tail.content == data[-10:]
    finally:
        node.reopen_stores()
    listed = cache_list(server.url)["cached_images"]
    assert [(e["image_id"], e["size"], e["hits"]) for e in listed] == [(iid, SIZE, 4)]


@S3API_ONLY
def test_a_range_miss_reads_only_the_range_and_does_not_fill(node: Node) -> None:
    server = node.start()
    data = os.urandom(SIZE)
    iid = upload(server.url, data)
    before = node.received()
    ranged = download(server.url, iid, Range="bytes=10-109")
    assert ranged.status_code == 206 and ranged.content == data[10:110]
    assert node.received() - before < SIZE // 2
    time.sleep(0.5)
    assert node.cached() == [] and node.partial() == []


@S3API_ONLY
def test_least_recently_used_is_evicted_at_the_size_bound(node: Node) -> None:
    server = node.start(image_cache_max_size=SIZE * 5 // 2)  # room for two
    images = {name: os.urandom(SIZE) for name in "abc"}
    ids = {name: upload(server.url, data) for name, data in images.items()}
    for name in ("a", "b"):
        assert download(server.url, ids[name]).content == images[name]
        wait_for(lambda name=name: ids[name] in node.cached(), f"{name} cached")
    time.sleep(0.05)
    assert download(server.url, ids["a"]).content == images["a"]  # a hit: a is now recent
    assert download(server.url, ids["c"]).content == images["c"]
    wait_for(lambda: ids["c"] in node.cached(), "c cached")
    assert node.cached() == sorted([ids["a"], ids["c"]])  # b, least recently used, went
    total = sum(p.stat().st_size for p in (node.cache_dir / "data").iterdir())
    assert total <= SIZE * 5 // 2


@S3API_ONLY
def test_deactivate_and_delete_drop_the_entry_on_next_access(node: Node) -> None:
    server = node.start()
    other = node.start("b")  # a second process on the same node, sharing the cache
    data = os.urandom(SIZE)
    iid = upload(server.url, data)
    download(server.url, iid)
    wait_for(lambda: node.cached() == [iid], "the cache fill")
    assert httpx.post(f"{other.url}/v2/images/{iid}/actions/deactivate").status_code == 204
    before = node.received()
    assert download(server.url, iid).content == data  # an admin still may: from the store
    assert node.received() - before >= SIZE
    time.sleep(0.5)
    assert node.cached() == []  # dropped on that access, and not filled again
    assert httpx.post(f"{other.url}/v2/images/{iid}/actions/reactivate").status_code == 204
    before = node.received()
    assert download(server.url, iid).content == data
    assert node.received() - before >= SIZE  # from the store again, and refilled
    wait_for(lambda: node.cached() == [iid], "the refill")

    # deleted through the other process: the first one's next access drops the entry
    assert httpx.delete(f"{other.url}/v2/images/{iid}").status_code == 204
    assert download(server.url, iid).status_code == 404
    assert node.cached() == []


@S3API_ONLY
def test_a_corrupted_cache_file_is_detected_and_bypassed(node: Node) -> None:
    server = node.start()
    data = os.urandom(SIZE)
    iid = upload(server.url, data)
    download(server.url, iid)
    wait_for(lambda: node.cached() == [iid], "the cache fill")
    path = node.cache_dir / "data" / iid

    def corrupt(offset: int, keep_mtime: bool) -> None:
        st = path.stat()
        with open(path, "r+b") as fobj:
            fobj.seek(offset)
            fobj.write(b"\xff" * 16 if data[offset:offset + 16] != b"\xff" * 16 else b"\0" * 16)
        if keep_mtime:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    # a byte changed in the middle (the mtime says so), then one at the start with the
    # mtime put back (the sampled digest says so)
    for offset, keep_mtime in ((SIZE // 2 + 7, False), (0, True)):
        corrupt(offset, keep_mtime)
        before = node.received()
        got = download(server.url, iid)
        assert got.status_code == 200 and got.content == data
        assert node.received() - before >= SIZE  # bypassed: read from the store
        assert "cached file is corrupt" in server.log()
        wait_for(lambda: path.exists() and path.read_bytes() == data, "the refill")


@S3API_ONLY
def test_kill_9_mid_fill_leaves_nothing_served_and_the_restart_refills(node: Node) -> None:
    server = node.start()
    big = 48 << 20
    data = os.urandom(big)
    iid = upload(server.url, data)
    with httpx.stream("GET", f"{server.url}/v2/images/{iid}/file", timeout=60) as resp:
        stream = resp.iter_bytes()
        next(stream)
        wait_for(lambda: bool(node.partial()), "a partial file")
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
    assert node.cached() == [] and node.partial()
    restarted = node.start()
    assert node.partial() == []  # cleaned at start
    got = download(restarted.url, iid)
    assert got.status_code == 200 and hashlib.sha256(got.content).digest() == \
        hashlib.sha256(data).digest()
    wait_for(lambda: node.cached() == [iid], "the refill")
    assert node.partial() == []


@S3API_ONLY
def test_a_stalled_fill_is_dropped_and_the_client_still_gets_everything(node: Node) -> None:
    server = node.start(image_cache_stall_time=1)
    big = 48 << 20
    data = os.urandom(big)
    iid = upload(server.url, data)
    got = hashlib.sha256()
    with httpx.stream("GET", f"{server.url}/v2/images/{iid}/file", timeout=60) as resp:
        stream = resp.iter_bytes()
        got.update(next(stream))
        wait_for(lambda: bool(node.partial()), "a partial file")
        time.sleep(3)  # the client pauses: the fill gets nothing for longer than the stall time
        wait_for(lambda: not node.partial(), "the stalled fill dropped")
        for chunk in stream:
            got.update(chunk)
    assert got.digest() == hashlib.sha256(data).digest()
    assert "stalled" in server.log()
    time.sleep(0.5)
    assert node.cached() == [] and node.partial() == []


@S3API_ONLY
def test_two_processes_share_one_cache_and_fill_it_once(node: Node) -> None:
    first, second = node.start(), node.start("b")
    data = os.urandom(SIZE)
    iid = upload(first.url, data)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda url=url: results.append(download(url, iid).content))
               for url in (first.url, second.url, first.url)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [data] * 3
    wait_for(lambda: node.cached() == [iid], "the cache fill")
    logs = first.log() + second.log()
    assert logs.count(f"{iid} cached") == 1  # filled once
    before = node.received()
    assert download(second.url, iid).content == data
    assert download(first.url, iid).content == data
    assert node.received() - before == 0


@S3API_ONLY
def test_cache_api_queue_prefetch_list_and_clear(node: Node) -> None:
    server = node.start()
    url = server.url
    assert httpx.get(url + "/v2/cache", headers=NON_ADMIN).status_code == 403
    assert httpx.put(url + "/v2/cache/x", headers=NON_ADMIN).status_code == 403
    assert httpx.delete(url + "/v2/cache", headers=NON_ADMIN).status_code == 403
    assert httpx.put(url + "/v2/cache/no-such-image").status_code == 404
    queued = httpx.post(url + "/v2/images", json={"name": "q"}).json()
    assert httpx.put(f"{url}/v2/cache/{queued['id']}").status_code == 400
    data = [os.urandom(SIZE), os.urandom(1000)]
    ids = [upload(url, data[0]), upload(url, data[1], "archive")]
    before = node.received()
    for iid in ids:
        assert httpx.put(f"{url}/v2/cache/{iid}").status_code == 202
    wait_for(lambda: {e["image_id"] for e in cache_list(url)["cached_images"]} == set(ids),
             "the prefetcher")
    assert cache_list(url)["queued_images"] == []
    assert node.received() - before >= SIZE
    before = node.received()
    assert download(url, ids[0]).content == data[0]
    assert node.received() == before

    assert httpx.delete(f"{url}/v2/cache/{ids[1]}").status_code == 204
    assert [e["image_id"] for e in cache_list(url)["cached_images"]] == [ids[0]]
    assert httpx.delete(url + "/v2/cache",
                        headers={"x-image-cache-clear-target": "bogus"}).status_code == 400

    def clear(target: str) -> dict[str, Any]:
        resp = httpx.delete(url + "/v2/cache", headers={"x-image-cache-clear-target": target})
        assert resp.status_code == 204
        return cache_list(url)

    node.shut_stores()  # while the store is away, a queued image stays queued
    assert httpx.put(f"{url}/v2/cache/{ids[1]}").status_code == 202
    time.sleep(1.5)
    assert cache_list(url)["queued_images"] == [ids[1]]
    listed = clear("queue")
    assert listed["queued_images"] == [] and len(listed["cached_images"]) == 1
    assert httpx.put(f"{url}/v2/cache/{ids[1]}").status_code == 202
    listed = clear("cache")
    assert listed["queued_images"] == [ids[1]] and listed["cached_images"] == []
    server.stop()  # the queue survives a restart; the prefetcher then fills it
    node.reopen_stores()
    server = node.start()
    url = server.url
    wait_for(lambda: [e["image_id"] for e in cache_list(url)["cached_images"]] == [ids[1]],
             "the prefetch after the restart")
    node.shut_stores()
    assert httpx.put(f"{url}/v2/cache/{ids[0]}").status_code == 202
    time.sleep(1.5)
    listed = cache_list(url)
    assert listed["queued_images"] == [ids[0]] and len(listed["cached_images"]) == 1
    assert clear("both") == {"cached_images": [], "queued_images": []}
    node.reopen_stores()
