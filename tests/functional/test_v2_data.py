"""Images API v2: image data — PUT/GET /v2/images/{id}/file (raw HTTP)."""

from __future__ import annotations

import hashlib
import http.client as httplib
import json
import os
import uuid

import pytest

from tests.functional._v2 import (OCTET, active, as_project, assert_error, create, md5,
                                  new_project, show, upload, validate)


def put_chunked(server, image_id: str, chunks: list[bytes],
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """PUT the chunks with Transfer-Encoding: chunked, as glanceclient does."""
    conn = httplib.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.putrequest("PUT", f"/v2/images/{image_id}/file")
        for name, value in {**OCTET, "Transfer-Encoding": "chunked", **(headers or {})}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for chunk in chunks:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_upload_then_download_with_hashes(server, http):
    data = os.urandom(3 * 1024 * 1024 + 17)
    image = create(http)
    resp = upload(http, image["id"], data)
    assert resp.status_code == 204 and resp.content == b""
    body = show(http, image["id"])
    validate(http, "image", body)
    assert body["status"] == "active" and body["size"] == len(data)
    assert body["checksum"] == md5(data)
    assert body["os_hash_algo"] == "sha512"
    assert body["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert body["stores"] == "file"
    resp = http.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Content-Length"] == str(len(data))
    assert resp.headers["Content-MD5"] == md5(data)
    assert resp.content == data


def test_chunked_upload_with_declared_size(server, http):
    chunks = [os.urandom(100_000) for _ in range(5)]
    image = create(http)
    status, _ = put_chunked(server, image["id"], chunks,
                            {"x-openstack-image-size": str(500_000)})
    assert status == 204
    assert http.get(f"/v2/images/{image['id']}/file").content == b"".join(chunks)
    unsized = create(http)
    status, _ = put_chunked(server, unsized["id"], chunks)
    assert status == 204
    assert show(http, unsized["id"])["size"] == 500_000


@pytest.mark.parametrize("declared", ["499999", "500001", "abc", "-1"])
def test_declared_size_mismatch_is_400_and_image_back_to_queued(server, http, declared):
    chunks = [b"z" * 100_000] * 5
    before = server.stored_files()
    image = create(http)
    status, body = put_chunked(server, image["id"], chunks, {"x-openstack-image-size": declared})
    assert status == 400, body
    assert json.loads(body)["error"]["code"] == 400
    again = show(http, image["id"])
    assert again["status"] == "queued" and again["size"] is None
    assert again["checksum"] is None
    assert server.stored_files() == before
    # and the upload can be retried
    assert upload(http, image["id"], b"second try").status_code == 204
    assert show(http, image["id"])["status"] == "active"


def test_disconnect_mid_upload_leaves_queued_image_and_no_data(server, http):
    import socket
    import time
    before = server.stored_files()
    image = create(http)
    sock = socket.create_connection((server.host, server.port))
    sock.sendall((f"PUT /v2/images/{image['id']}/file HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n")
                 .encode() + b"a" * 1000)
    time.sleep(0.3)
    sock.close()
    deadline = time.monotonic() + 10
    while show(http, image["id"])["status"] != "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert show(http, image["id"])["status"] == "queued"
    assert server.stored_files() == before


def test_image_deleted_during_upload_is_410_and_keeps_no_data(server, http):
    import time
    before = server.stored_files()
    image = create(http)
    conn = httplib.HTTPConnection(server.host, server.port, timeout=60)
    try:
        conn.putrequest("PUT", f"/v2/images/{image['id']}/file")
        for name, value in {**OCTET, "Content-Length": "2000000"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(b"a" * 1_000_000)
        deadline = time.monotonic() + 10
        while show(http, image["id"])["status"] != "saving" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.delete(f"/v2/images/{image['id']}").status_code == 204
        conn.send(b"b" * 1_000_000)
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 410, body
    assert body["error"]["code"] == 410 and "deleted" in body["error"]["message"]
    assert http.get(f"/v2/images/{image['id']}").status_code == 404
    assert server.stored_files() == before


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", None])
def test_upload_wrong_content_type_is_415(server, http, ctype):
    image = create(http)
    headers = {} if ctype is None else {"Content-Type": ctype}
    assert_error(http.put(f"/v2/images/{image['id']}/file", content=b"x", headers=headers), 415)
    assert show(http, image["id"])["status"] == "queued"


def test_upload_preconditions(server, http):
    image = active(http)
    assert_error(upload(http, image["id"], b"again"), 409)
    no_formats = http.post("/v2/images", json={"name": "nf"}).json()
    assert_error(upload(http, no_formats["id"], b"x"), 400, "format")
    assert_error(upload(http, str(uuid.uuid4()), b"x"), 404)
    other = create(http, visibility="public")
    assert_error(upload(http, other["id"], b"x", as_project(new_project())), 403)
    assert_error(upload(http, create(http)["id"], b"x", {"X-Image-Meta-Store": "nope"}), 400)
    assert_error(upload(http, create(http)["id"], b"x", {"X-Image-Meta-Store": "http"}), 400)


def test_upload_to_named_store(server, http):
    image = create(http)
    assert upload(http, image["id"], b"data", {"X-Image-Meta-Store": "file"}).status_code == 204
    assert show(http, image["id"])["stores"] == "file"


def test_a_copy_lost_behind_the_servers_back_is_404_and_logged(server, http):
    """A file removed from the store by someone else (not a delete racing the download):
    404, and an ERROR naming the image, so that an operator hears of the loss."""
    image = active(http, os.urandom(5000))
    [path] = [p for p in server.stored_files() if image["id"] in p.name]
    path.unlink()
    assert_error(http.get(f"/v2/images/{image['id']}/file"), 404)
    assert f"image {image['id']}: none of its copies can be read" in server.log()


def test_download_queued_image_is_204(server, http):
    image = create(http)
    resp = http.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(http.get(f"/v2/images/{uuid.uuid4()}/file"), 404)


def test_empty_image_downloads_empty(server, http):
    image = active(http, b"")
    assert image["size"] == 0 and image["checksum"] == md5(b"")
    resp = http.get(f"/v2/images/{image['id']}/file")
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-9", 0, 9), ("bytes=10-", 10, 99), ("bytes=-5", 95, 99), ("bytes=90-200", 90, 99)])
def test_single_range_is_206(server, http, header, start, end):
    data = bytes(range(100))
    image = active(http, data)
    resp = http.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert resp.status_code == 206
    assert resp.content == data[start:end + 1]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end}/100"
    assert resp.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize("header, status", [("bytes=100-", 416), ("bytes=200-300", 416),
                                            ("bytes=0-1,5-6", 400)])
def test_bad_range(server, http, header, status):
    image = active(http, bytes(range(100)))
    assert_error(http.get(f"/v2/images/{image['id']}/file", headers={"Range": header}), status)
