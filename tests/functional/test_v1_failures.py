"""Images API v1: uploads that fail half-way — the client goes away mid-stream.

The image must end ``killed``, nothing may be left in the store (no data file, no temp
part), and the server must keep serving.
"""

from __future__ import annotations

import socket
import struct
import time
import uuid

import httpx
import pytest

from tests.functional._v1 import create_ok, md5, meta_headers, unique, wait_status

MIB = 1024 * 1024


def request_head(server, method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}:{server.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def abandon(sock: socket.socket, reset: bool) -> None:
    """Close ``sock`` abruptly: with an RST when ``reset``, else with a plain FIN."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def upload_meta(image_id: str) -> dict[str, str]:
    return meta_headers({"id": image_id, "name": unique("abort"), "disk_format": "raw",
                         "container_format": "bare"})


def wait_for_no_files(server, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    files = server.stored_files()
    while files and time.monotonic() < deadline:
        time.sleep(0.1)
        files = server.stored_files()
    return files


def assert_still_serving(server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/versions").status_code == 200
        data = b"after the storm" * 1000
        image = create_ok(http, data=data)
        assert image["status"] == "active" and image["checksum"] == md5(data)
        assert http.get(f"/v1/images/{image['id']}").content == data
        assert http.delete(f"/v1/images/{image['id']}").status_code == 200


def start_upload(server, method: str, path: str, headers: dict[str, str],
                 first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=30)
    sock.sendall(request_head(server, method, path, headers))
    sock.sendall(first_bytes)
    return sock


def wait_until_saving(server, image_id: str, timeout: float = 5.0) -> None:
    """Give the server a moment to start streaming into the store."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.url, timeout=10) as http:
        while time.monotonic() < deadline:
            resp = http.head(f"/v1/images/{image_id}")
            if resp.status_code == 200 and resp.headers["x-image-meta-status"] == "saving":
                return
            time.sleep(0.05)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_disconnect_mid_upload_with_content_length(fresh_server, reset):
    image_id = str(uuid.uuid4())
    headers = {**upload_meta(image_id), "Content-Type": "application/octet-stream",
               "Content-Length": str(10 * MIB)}
    sock = start_upload(fresh_server, "POST", "/v1/images", headers, b"\x01" * MIB)
    wait_until_saving(fresh_server, image_id)
    abandon(sock, reset)

    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        assert wait_status(http, image_id, "killed") == "killed"
        assert http.get(f"/v1/images/{image_id}").status_code == 404
    assert wait_for_no_files(fresh_server) == []
    assert_still_serving(fresh_server)


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_disconnect_mid_chunked_upload(fresh_server, reset):
    image_id = str(uuid.uuid4())
    headers = {**upload_meta(image_id), "Content-Type": "application/octet-stream",
               "Transfer-Encoding": "chunked"}
    chunk = b"\x02" * (256 * 1024)
    framed = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 4
    sock = start_upload(fresh_server, "POST", "/v1/images", headers, framed)
    wait_until_saving(fresh_server, image_id)
    # half of a chunk, then gone (no terminating 0-length chunk)
    sock.sendall(b"%x\r\n" % len(chunk) + chunk[: len(chunk) // 2])
    abandon(sock, reset)

    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        assert wait_status(http, image_id, "killed") == "killed"
        assert http.get(f"/v1/images/{image_id}").status_code == 404
    assert wait_for_no_files(fresh_server) == []
    assert_still_serving(fresh_server)


def test_disconnect_mid_put_upload_into_queued_image(fresh_server):
    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        image = create_ok(http, {"name": unique("putabort")})
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(8 * MIB)}
    sock = start_upload(fresh_server, "PUT", f"/v1/images/{image['id']}", headers,
                        b"\x03" * (2 * MIB))
    wait_until_saving(fresh_server, image["id"])
    abandon(sock, reset=False)
    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        assert wait_status(http, image["id"], "killed") == "killed"
    assert wait_for_no_files(fresh_server) == []
    assert_still_serving(fresh_server)


def test_disconnect_right_after_headers(fresh_server):
    image_id = str(uuid.uuid4())
    headers = {**upload_meta(image_id), "Content-Type": "application/octet-stream",
               "Content-Length": str(4 * MIB)}
    sock = start_upload(fresh_server, "POST", "/v1/images", headers, b"")
    time.sleep(0.3)
    abandon(sock, reset=False)
    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        # either never created or killed; never left "saving" or "active"
        deadline = time.monotonic() + 10
        while True:
            resp = http.head(f"/v1/images/{image_id}")
            status = resp.headers.get("x-image-meta-status") if resp.status_code == 200 else None
            if status in (None, "killed") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status in (None, "killed"), status
    assert wait_for_no_files(fresh_server) == []
    assert_still_serving(fresh_server)


def test_many_aborted_uploads_leave_nothing_and_server_serves(fresh_server):
    image_ids = []
    socks = []
    for i in range(6):
        image_id = str(uuid.uuid4())
        image_ids.append(image_id)
        if i % 2:
            headers = {**upload_meta(image_id), "Content-Type": "application/octet-stream",
                       "Transfer-Encoding": "chunked"}
            body = b"%x\r\n" % (512 * 1024) + b"\x04" * (256 * 1024)
        else:
            headers = {**upload_meta(image_id), "Content-Type": "application/octet-stream",
                       "Content-Length": str(5 * MIB)}
            body = b"\x05" * (512 * 1024)
        socks.append(start_upload(fresh_server, "POST", "/v1/images", headers, body))
    for image_id in image_ids:
        wait_until_saving(fresh_server, image_id, timeout=2)
    for i, sock in enumerate(socks):
        abandon(sock, reset=bool(i % 3 == 0))
    with httpx.Client(base_url=fresh_server.url, timeout=10) as http:
        for image_id in image_ids:
            assert wait_status(http, image_id, "killed") == "killed", image_id
    assert wait_for_no_files(fresh_server) == []
    assert_still_serving(fresh_server)


def test_client_that_stops_reading_a_download_does_not_break_the_server(fresh_server):
    data = b"\x06" * (8 * MIB)
    with httpx.Client(base_url=fresh_server.url, timeout=30) as http:
        image = create_ok(http, data=data)
    for reset in (False, True):
        sock = socket.create_connection((fresh_server.host, fresh_server.port), timeout=30)
        sock.sendall(request_head(fresh_server, "GET", f"/v1/images/{image['id']}", {}))
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        abandon(sock, reset)
    with httpx.Client(base_url=fresh_server.url, timeout=30) as http:
        resp = http.get(f"/v1/images/{image['id']}")
        assert resp.status_code == 200 and md5(resp.content) == md5(data)
        assert http.head(f"/v1/images/{image['id']}").headers["x-image-meta-status"] == "active"
    assert_still_serving(fresh_server)
