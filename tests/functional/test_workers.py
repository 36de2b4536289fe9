"""``--workers N`` (issue 15): N processes serve one port; the parent restarts a worker that
dies (what it had in flight is recovered, other requests never see a 5xx); SIGTERM to the
parent stops every worker gracefully and exits 0."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, free_port, start_server
from tests.functional._v2 import OCTET, create, show

MiB = 1 << 20


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def wait_children(pid: int, count: int, not_: int | None = None) -> list[int]:
    deadline = time.monotonic() + 30
    while True:
        found = children(pid)
        if len(found) == count and not_ not in found:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def holder(server: RunningServer, workers: list[int], client: socket.socket) -> int:
    """The worker whose end of the connection ``client`` is."""
    client_port = client.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server.port and \
                int(remote.split(":")[1], 16) == client_port:
            inode = fields[9]
    assert inode is not None
    return next(pid for pid in workers if inode in socket_inodes(pid))


def wait_ready(server: RunningServer, pid: int, since: int) -> None:
    """Until the worker ``pid`` logs that it serves (its log line after offset ``since``)."""
    deadline = time.monotonic() + 30
    while f"as worker pid {pid}" not in server.log()[since:]:
        assert time.monotonic() < deadline, server.log()[since:]
        time.sleep(0.05)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "data", ["--workers", "2", "--file-store-fsync", "false",
                                              "--shutdown-grace-seconds", "10"])
    workers = wait_children(server.process.pid, 2)
    for pid in workers:
        wait_ready(server, pid, 0)
    yield server
    server.stop()


def test_two_workers_share_the_port_and_a_killed_one_is_replaced(
        two_workers: RunningServer) -> None:
    server = two_workers
    parent = server.process.pid
    workers = wait_children(parent, 2)
    # both accept: keep connections open until each worker holds some
    held: list[socket.socket] = []
    try:
        while {holder(server, workers, s) for s in held} != set(workers):
            assert len(held) < 200, "one worker accepted every connection"
            held.append(socket.create_connection((server.host, server.port)))
            time.sleep(0.01)
    finally:
        for sock in held:
            sock.close()
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: httpx.post(
            server.url + "/v2/images", json={"name": "w", "disk_format": "raw",
                                             "container_format": "bare"}).status_code,
            range(64)))
    assert statuses == [201] * 64

    # an upload in flight in one worker when it is killed
    with httpx.Client(base_url=server.url, timeout=30) as http:
        image = create(http)
    upload = socket.create_connection((server.host, server.port))
    upload.sendall(f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: glance\r\n"
                   f"Content-Type: application/octet-stream\r\n"
                   f"Content-Length: {100 * MiB}\r\n\r\n".encode() + os.urandom(4 * MiB))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        deadline = time.monotonic() + 10
        while show(http, image["id"])["status"] != "saving":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    victim = holder(server, workers, upload)
    errors: list[object] = []
    stop = threading.Event()

    def keep_asking() -> None:  # other clients, all along: never a 5xx
        while not stop.is_set():
            try:
                status = httpx.get(server.url + "/v2/images?limit=1", timeout=30).status_code
                if status >= 500:
                    errors.append(status)
            except httpx.TransportError as exc:  # only ever the killed worker's
                errors.append(exc)
            time.sleep(0.01)

    askers = [threading.Thread(target=keep_asking) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        log_size = len(server.log())
        os.kill(victim, signal.SIGKILL)
        replaced = wait_children(parent, 2, not_=victim)
        (newcomer,) = set(replaced) - set(workers)
        wait_ready(server, newcomer, log_size)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in askers:
            thread.join(30)
        upload.close()
    assert [e for e in errors if not isinstance(e, httpx.TransportError)] == []
    assert len(errors) <= 4, errors  # at most a request each on the killed worker
    assert f"(pid {victim}) was killed by signal 9" in server.log()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # recovery (in the replacement, at its start) leaves no partial upload behind
        deadline = time.monotonic() + 10
        while show(http, image["id"])["status"] == "saving":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert show(http, image["id"])["status"] in ("queued", "killed")
        assert [p for p in server.stored_files() if image["id"] in p.name] == []
        data = os.urandom(MiB)
        fresh = create(http)
        assert http.put(f"/v2/images/{fresh['id']}/file", content=data,
                        headers=OCTET).status_code == 204
        assert show(http, fresh["id"])["checksum"] == hashlib.md5(data).hexdigest()


def test_sigterm_to_the_parent_stops_every_worker_gracefully(
        two_workers: RunningServer) -> None:
    server = two_workers
    workers = wait_children(server.process.pid, 2)
    head, tail = os.urandom(2 * MiB), os.urandom(MiB + 3)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        image = create(http)
    upload = socket.create_connection((server.host, server.port))
    upload.sendall(f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: glance\r\n"
                   f"Content-Type: application/octet-stream\r\n"
                   f"Content-Length: {len(head + tail)}\r\n\r\n".encode() + head)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        deadline = time.monotonic() + 10
        while show(http, image["id"])["status"] != "saving":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while True:  # no new connections ...
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.05)
    upload.sendall(tail)  # ... but the upload in flight finishes
    upload.settimeout(30)
    assert upload.recv(4096).startswith(b"HTTP/1.1 204")
    upload.close()
    assert server.process.wait(30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    server = start_server(server.data_dir)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            shown = show(http, image["id"])
            assert shown["status"] == "active"
            assert shown["checksum"] == hashlib.md5(head + tail).hexdigest()
    finally:
        server.stop()


def test_workers_that_cannot_start_stop_the_parent_with_1(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLANCE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--port", str(free_port()), "--data-dir",
         str(tmp_path / "data"), "--workers", "2", "--auto-migrate", "false"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "cannot start (configuration): stopping" in proc.stderr


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (a zombie waiting for its new parent counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_workers_stop_when_their_parent_is_killed(two_workers: RunningServer) -> None:
    server = two_workers
    workers = wait_children(server.process.pid, 2)
    server.process.kill()
    server.process.wait(10)
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers outlived their parent"
        time.sleep(0.1)
    assert "the parent process" in server.log() and "is gone: stopping" in server.log()
