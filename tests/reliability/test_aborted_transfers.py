"""Clients that go away mid-transfer: the server keeps no memory for them (its RSS stays
flat over rounds of aborted uploads and downloads) and logs each as one INFO line, never an
ERROR with a traceback."""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

import httpx

from tests.conftest import RunningServer
from tests.functional._v2 import OCTET, create, show

ROUNDS = 4
PER_ROUND = 40
SENT = 4 << 20  # what an aborted upload sends of the 64 MiB it declares
MAX_GROWTH_KIB = 16 * 1024  # RSS growth allowed between round 2 and the last


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that crashes does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def aborted_upload(server: RunningServer, image_id: str) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: {64 << 20}\r\n"
                 f"\r\n".encode() + b"x" * SENT)
    reset(sock)


def aborted_download(server: RunningServer, image_id: str) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"GET /v2/images/{image_id}/file HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    reset(sock)


def wait_until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def went_away(server: RunningServer) -> list[str]:
    return [line for line in server.log().splitlines() if "went away" in line]


def test_aborted_transfers_keep_no_memory_and_log_one_info_line_each(
        fresh_server: RunningServer) -> None:
    big = os.urandom(32 << 20)  # far more than the socket buffers hold
    with httpx.Client(base_url=fresh_server.url, timeout=60) as http:
        image = create(http)
        assert http.put(f"/v2/images/{image['id']}/file", content=big,
                        headers=OCTET).status_code == 204
        rss: list[int] = []
        for _ in range(ROUNDS):
            for _ in range(PER_ROUND):
                queued = create(http)
                logged = len(went_away(fresh_server))
                aborted_upload(fresh_server, queued["id"])
                aborted_download(fresh_server, image["id"])
                # each abort is settled (and logged) before the next
                wait_until(lambda before=logged: len(went_away(fresh_server)) == before + 2,
                           "both aborts are logged")
                assert show(http, queued["id"])["status"] == "queued"
            rss.append(rss_kib(fresh_server.process.pid))
        assert http.get(f"/v2/images/{image['id']}/file").content == big
    print("RSS per round (MiB):", [round(r / 1024, 1) for r in rss])
    assert rss[-1] - rss[1] < MAX_GROWTH_KIB, rss
    log = fresh_server.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    lines = went_away(fresh_server)
    assert len(lines) == 2 * ROUNDS * PER_ROUND
    assert all(" INFO " in line for line in lines)
    assert sum("download" in line for line in lines) == ROUNDS * PER_ROUND
    assert fresh_server.stored_files() == [fresh_server.store_dir / image["id"]]
