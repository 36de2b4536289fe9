"""Connections a server must not keep forever (issue 12, finding 6), over real sockets: idle
keep-alive connections, request heads sent a byte at a time, stalled bodies, and more
connections than ``max_connections`` — while normal and slow-but-steady clients are served."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import OCTET, create, show

GET_VERSIONS = b"GET /versions HTTP/1.1\r\nHost: glance\r\n\r\n"


def serve(tmp_path: Path, **options: object) -> RunningServer:
    args = [a for name, value in options.items()
            for a in (f"--{name.replace('_', '-')}", str(value))]
    return start_server(tmp_path / "data", [*args, "--file-store-fsync", "false"])


@pytest.fixture
def servers() -> Iterator[list[RunningServer]]:
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.stop()


def read_response(sock: socket.socket) -> bytes:
    """One whole response (with Content-Length) from ``sock``; its status line."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed mid-response: {data!r}"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0]


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """How long until the server closes ``sock`` (fails after ``limit`` seconds)."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the connection was still open after {limit}s")
    return time.monotonic() - started


def connect(server: RunningServer) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=10)


def test_an_idle_keep_alive_connection_is_closed_after_keepalive_timeout(
        tmp_path: Path, servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, keepalive_timeout=1, client_header_timeout=30))
    with connect(server) as sock:
        sock.sendall(GET_VERSIONS)
        assert read_response(sock) == b"HTTP/1.1 200 OK"
        time.sleep(0.5)  # within the timeout, the connection still serves
        sock.sendall(GET_VERSIONS)
        assert read_response(sock) == b"HTTP/1.1 200 OK"
        assert 0.5 < seconds_until_closed(sock, 10) < 3


def test_a_request_head_sent_a_byte_a_second_is_cut(
        tmp_path: Path, servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, keepalive_timeout=30, client_header_timeout=1.5))
    with connect(server) as slow, connect(server) as silent, connect(server) as later:
        later.sendall(GET_VERSIONS)
        assert read_response(later) == b"HTTP/1.1 200 OK"
        started = time.monotonic()
        closed_after = None
        for byte in b"GET /versions HTTP/1.1\r\nHost: glance\r\nX-Padding: " + b"x" * 40:
            try:
                slow.sendall(bytes([byte]))
                later.sendall(bytes([byte]))  # the same, on a connection that served one
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            time.sleep(0.25)
        assert closed_after is not None and closed_after < 4, closed_after
        assert seconds_until_closed(silent, 3) < 3  # and one that sends nothing at all
    assert "client_header_timeout" in server.log()
    assert httpx.get(server.url + "/versions").status_code == 200


def test_connections_beyond_max_connections_wait_in_the_backlog(
        tmp_path: Path, servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, max_connections=3, client_header_timeout=30))
    holding = [connect(server) for _ in range(3)]  # accepted, no request yet
    try:
        time.sleep(0.3)
        with connect(server) as waiting:  # the kernel completes the handshake: backlog
            waiting.sendall(GET_VERSIONS)
            waiting.settimeout(1.5)
            with pytest.raises(TimeoutError):
                waiting.recv(1)
            holding.pop().close()  # room for one: the waiting connection is served
            waiting.settimeout(5)
            assert read_response(waiting) == b"HTTP/1.1 200 OK"
    finally:
        for sock in holding:
            sock.close()


def test_at_the_cap_idle_keep_alive_connections_make_room(
        tmp_path: Path, servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, max_connections=3))
    idle = [connect(server) for _ in range(3)]
    try:
        for sock in idle:
            sock.sendall(GET_VERSIONS)
            assert read_response(sock) == b"HTTP/1.1 200 OK"
        with connect(server) as newcomer:
            newcomer.sendall(GET_VERSIONS)
            assert read_response(newcomer) == b"HTTP/1.1 200 OK"
        assert seconds_until_closed(idle[0], 5) < 5  # the longest idle one gave way
    finally:
        for sock in idle:
            sock.close()


def slow_body(data: bytes, piece: int, pause: float) -> Iterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start:start + piece]
        time.sleep(pause)


def test_a_slow_but_steady_upload_is_not_cut(tmp_path: Path,
                                            servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, keepalive_timeout=1, client_header_timeout=1,
                                   client_body_timeout=1))
    data = os.urandom(12 * 64 * 1024)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        image = create(http)
        started = time.monotonic()
        resp = http.put(f"/v2/images/{image['id']}/file", headers=OCTET,
                        content=slow_body(data, 64 * 1024, 0.4))
        assert time.monotonic() - started > 4  # longer than every timeout
        assert resp.status_code == 204, resp.text
        shown = show(http, image["id"])
        assert shown["status"] == "active"
        assert shown["checksum"] == hashlib.md5(data).hexdigest()
        assert http.get(f"/v2/images/{image['id']}/file").content == data


def test_a_stalled_upload_is_answered_408_and_leaves_nothing(
        tmp_path: Path, servers: list[RunningServer]) -> None:
    servers.append(server := serve(tmp_path, client_body_timeout=1))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        image = create(http)
        with connect(server) as sock:
            sock.sendall(f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: glance\r\n"
                         f"Content-Type: application/octet-stream\r\n"
                         f"Content-Length: {10 << 20}\r\n\r\n".encode() + b"x" * (1 << 20))
            started = time.monotonic()
            assert read_response(sock) == b"HTTP/1.1 408 Request Timeout"
            assert 0.8 < time.monotonic() - started < 5
        shown = show(http, image["id"])
        assert shown["status"] == "queued" and shown["size"] is None
        assert server.stored_files() == []
        resp = http.put(f"/v2/images/{image['id']}/file", content=b"again", headers=OCTET)
        assert resp.status_code == 204
