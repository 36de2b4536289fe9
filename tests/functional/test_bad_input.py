"""Bad input gets a clear 400 in the JSON error envelope, never a 500 (issue 12, finding 3):
deeply nested JSON, integers beyond what the database holds, header bytes that are not
UTF-8, JSON lone surrogates, control characters in metadata (refused on write; stored ones
never break v1's headers), and requests that break HTTP syntax (answered in the envelope,
logged as one line)."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from glance.config import Settings
from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from tests.conftest import RunningServer, start_server
from tests.functional._v2 import PATCH21, assert_error, create
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)

TOO_BIG = str(2**63)
DEEP_LIST = b"[" * 1000 + b"]" * 1000
DEEP_OBJECT = b'{"a":' * 1000 + b"1" + b"}" * 1000


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    """A server on SQLite, then one on PostgreSQL."""
    args: list[str] = []
    if request.param == "postgresql":
        args = ["--database-url", request.getfixturevalue("postgres_database")]
    srv = start_server(tmp_path / "data", args)
    yield srv
    srv.stop()


def envelope(status: int, body: bytes, code: int) -> dict[str, Any]:
    """The error of a JSON envelope answer with ``code``."""
    assert status == code, (status, body[:500])
    error = json.loads(body)["error"]
    assert error["code"] == code and error["title"] and error["message"], error
    return dict(error)


def raw_request(port: int, method: str, path: str, headers: dict[str, bytes] | None = None,
                body: bytes = b"") -> tuple[int, bytes]:
    """One request whose header values are sent as the bytes given (http.client)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def raw_bytes(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """``data`` sent as is on a new connection; the answer parsed."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, dict(resp.getheaders()), resp.read()


# -- 1. deeply nested JSON ------------------------------------------------------------------

def json_endpoints(http: httpx.Client) -> list[tuple[str, str, dict[str, str]]]:
    """(method, path, headers) of every endpoint that reads a JSON body."""
    image = create(http, visibility="shared")["id"]
    js = {"Content-Type": "application/json"}
    return [
        ("POST", "/v2/images", js),
        ("PATCH", f"/v2/images/{image}", PATCH21),
        ("POST", f"/v2/images/{image}/members", js),
        ("PUT", f"/v2/images/{image}/members/someone", js),
        ("POST", f"/v2/images/{image}/import", js),
        ("PUT", f"/v1/images/{image}/members", js),
        ("PUT", f"/v1/images/{image}/members/someone", js),
        ("POST", "/console/api/downloads", js),
    ]


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT], ids=["list", "object"])
def test_deeply_nested_json_is_400_on_every_json_endpoint(server: RunningServer,
                                                          http: httpx.Client,
                                                          body: bytes) -> None:
    for method, path, headers in json_endpoints(http):
        resp = http.request(method, path, content=body, headers=headers)
        assert_error(resp, 400, "nested deeper than")
    assert "RecursionError" not in server.log()


def test_json_nesting_within_the_limit_is_read(http: httpx.Client) -> None:
    """A 30-deep body is parsed (and refused for what it says, not for its depth)."""
    resp = http.post("/v2/images", content=b'{"a":' + b"[" * 29 + b"]" * 29 + b"}",
                     headers={"Content-Type": "application/json"})
    error = assert_error(resp, 400)
    assert "nested" not in error["message"]


# -- 2. integers beyond the database -------------------------------------------------------

def test_integers_beyond_the_database_are_400(any_server: RunningServer) -> None:
    with httpx.Client(base_url=any_server.url, timeout=60) as http:
        image = create(http)["id"]
        for path in ("/v1/images", "/v1/images/detail"):
            for name in ("size_min", "size_max", "min_ram", "min_disk", "limit"):
                for value in (TOO_BIG, "-1", str(2**64)):
                    assert_error(http.get(path, params={name: value}), 400, name)
            for name in ("min_ram", "min_disk"):
                assert_error(http.get(path, params={name: str(2**31)}), 400, name)
        for name in ("size_min", "size_max", "limit", "size", "virtual_size", "min_ram",
                     "min_disk"):
            for value in (TOO_BIG, "-1"):
                assert_error(http.get("/v2/images", params={name: value}), 400, name)
        for name in ("min_ram", "min_disk"):
            assert_error(http.get("/v2/images", params={name: str(2**31)}), 400, name)
        for name in ("min_ram", "min_disk", "size"):
            for value in (TOO_BIG, "-5"):
                resp = http.post("/v1/images", headers={f"x-image-meta-{name}": value,
                                                        "x-image-meta-name": "big"})
                assert_error(resp, 400, name)
        for name in ("min_ram", "min_disk"):
            for value in (2**63, 2**31, -1):
                resp = http.post("/v2/images", json={"name": "big", name: value})
                assert_error(resp, 400, name)
                resp = http.patch(f"/v2/images/{image}", headers=PATCH21, content=json.dumps(
                    [{"op": "replace", "path": f"/{name}", "value": value}]))
                assert_error(resp, 400, name)
            assert http.post("/v2/images", json={name: 2**31 - 1}).status_code == 201
        resp = http.put(f"/v2/images/{image}/file", content=b"x",
                        headers={"Content-Type": "application/octet-stream",
                                 "x-openstack-image-size": TOO_BIG})
        assert_error(resp, 400, "x-openstack-image-size")
        resp = http.put(f"/v2/images/{image}/file", content=b"abc",
                        headers={"Content-Type": "application/octet-stream"})
        assert resp.status_code == 204, resp.text
        for path in (f"/v2/images/{image}/file", f"/v1/images/{image}"):
            for first in ("9" * 5000, "1" + "0" * 25):
                resp = http.get(path, headers={"Range": f"bytes={first}-"})
                assert_error(resp, 416, "not satisfiable")
            for first, last in (("", "9" * 5000), ("0", "9" * 5000), ("0" * 30 + "1", "")):
                resp = http.get(path, headers={"Range": f"bytes={first}-{last}"})
                assert resp.status_code in (200, 206) and resp.content.endswith(b"bc"), resp
        assert "OverflowError" not in any_server.log()
        assert "out of range" not in any_server.log()


def test_text_beyond_the_database_columns_is_400(any_server: RunningServer) -> None:
    """Owners and property names longer than their columns (PostgreSQL enforces them)."""
    with httpx.Client(base_url=any_server.url, timeout=60) as http:
        resp = http.post("/v2/images", json={"name": "x"},
                         headers={"X-Project-Id": "p" * 256, "X-Roles": "member"})
        assert_error(resp, 400, "owner")
        assert_error(http.post("/v2/images", json={"name": "x", "owner": "o" * 256}), 400,
                     "owner")
        resp = http.post("/v1/images", headers={"x-image-meta-property-" + "k" * 256: "v"})
        assert_error(resp, 400, "property name")
        assert http.post("/v2/images", json={"name": "x", "owner": "o" * 255}).status_code == 201
        assert "Traceback" not in any_server.log()


# -- 3. header bytes that are not UTF-8 -----------------------------------------------------

@pytest.mark.parametrize("header", [
    "X-Project-Id", "X-Tenant-Id", "X-Roles", "X-Auth-Token", "X-User-Id", "x-image-meta-name",
    "x-image-meta-property-foo", "x-image-meta-disk_format", "X-Image-Meta-Store"])
def test_header_bytes_that_are_not_utf8_are_400(server: RunningServer, header: str) -> None:
    for method, path in (("POST", "/v1/images"), ("GET", "/v2/images"),
                         ("GET", "/v1/images/detail")):
        for value in (b"\xa0", b"\xe9t\xe9", b"ok\xff"):
            status, body = raw_request(server.port, method, path, {header: value})
            error = envelope(status, body, 400)
            assert header.lower() in error["message"].lower(), error
    assert "UnicodeEncodeError" not in server.log()


def test_utf8_header_values_are_kept(http: httpx.Client, server: RunningServer) -> None:
    status, body = raw_request(server.port, "POST", "/v1/images", {
        "x-image-meta-name": "été".encode(), "x-image-meta-property-ville": "Zürich".encode()})
    assert status == 201, body
    image = json.loads(body)["image"]
    assert (image["name"], image["properties"]["ville"]) == ("été", "Zürich")


# -- 4. JSON lone surrogates ----------------------------------------------------------------

def test_json_lone_surrogates_are_400(http: httpx.Client, server: RunningServer) -> None:
    image = create(http, visibility="shared")["id"]
    js = {"Content-Type": "application/json"}
    cases = [
        ("POST", "/v2/images", js, '{"name": "\\ud800"}'),
        ("POST", "/v2/images", js, '{"name": "x", "foo": "a\\udfffb"}'),
        ("POST", "/v2/images", js, '{"name": "x", "\\ud800": "b"}'),
        ("POST", "/v2/images", js, '{"name": "x", "tags": ["\\udc00"]}'),
        ("POST", "/v2/images", js, '{"name": "x\\u0000"}'),
        ("PATCH", f"/v2/images/{image}", PATCH21,
         '[{"op": "replace", "path": "/name", "value": "\\ud800"}]'),
        ("PATCH", f"/v2/images/{image}", PATCH21,
         '[{"op": "add", "path": "/\\ud800", "value": "x"}]'),
        ("PATCH", f"/v2/images/{image}", PATCH21,
         '[{"op": "add", "path": "/foo", "value": "\\ud83d"}]'),
        ("POST", f"/v2/images/{image}/members", js, '{"member": "\\ud800"}'),
        ("PUT", f"/v1/images/{image}/members", js,
         '{"memberships": [{"member_id": "\\ud800"}]}'),
    ]
    for method, path, headers, body in cases:
        resp = http.request(method, path, content=body.encode(), headers=headers)
        assert_error(resp, 400, "surrogate")
    # a surrogate pair is one character, and is kept
    resp = http.post("/v2/images", content=b'{"name": "\\ud83d\\ude00"}', headers=js)
    assert resp.status_code == 201 and resp.json()["name"] == "\U0001f600"
    assert "UnicodeEncodeError" not in server.log()


def test_unstorable_text_in_paths_and_queries_is_400(http: httpx.Client) -> None:
    for path in ("/v2/images/%00", "/v2/images?name=%00", "/v1/images?name=a%00",
                 "/v1/images/detail?property-a%00=b", "/v2/images?tag=%00"):
        assert_error(http.get(path), 400, "NUL")


# -- 5. control characters ------------------------------------------------------------------

def test_control_characters_are_refused_in_metadata(http: httpx.Client) -> None:
    image = create(http)["id"]
    for body in ({"name": "a\nb"}, {"name": "x", "foo": "a\x1bb"}, {"name": "x", "f\to": "b"},
                 {"name": "x", "tags": ["a\x7f"]}, {"name": "x", "owner": "o\x01"}):
        assert_error(http.post("/v2/images", json=body), 400, "control characters")
    for op in ({"op": "replace", "path": "/name", "value": "a\rb"},
               {"op": "add", "path": "/foo", "value": "a\nb"},
               {"op": "add", "path": "/tags", "value": ["ok", "\x01"]}):
        resp = http.patch(f"/v2/images/{image}", headers=PATCH21, content=json.dumps([op]))
        assert_error(resp, 400, "control characters")
    assert_error(http.put(f"/v2/images/{image}/tags/a%0Ab"), 400, "control characters")
    resp = http.put(f"/v1/images/{image}", headers={"x-image-meta-property-foo": "a\tb"})
    assert_error(resp, 400, "control characters")
    assert_error(http.put(f"/v1/images/{image}/members/a%0Ab"), 400, "control characters")
    resp = http.get(f"/v2/images/{image}").json()
    assert resp["name"] != "a\rb" and "foo" not in resp and resp["tags"] == []


def test_v1_answers_for_stored_control_characters(server: RunningServer,
                                                   http: httpx.Client) -> None:
    """Values written before control characters were refused (an older database) go out
    percent-encoded: v1's HEAD and GET still answer."""
    resp = http.post("/v1/images", content=b"data", headers={
        "Content-Type": "application/octet-stream", "x-image-meta-name": "ok",
        "x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["image"]["id"]
    registry = Registry(create_registry_engine(
        Settings(data_dir=str(server.data_dir)).resolved_database_url))
    try:  # as an older server would have stored them
        registry.change_metadata(image_id, fields={"name": "bad\nname\x7f"}, set_properties={
            "key with:colon\n": "line1\r\nline2", "é": "\x00\ttab"})
    finally:
        registry.close()
    for method in ("HEAD", "GET"):
        resp = http.request(method, f"/v1/images/{image_id}")
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-image-meta-name"] == "bad%0Aname%7F"
        assert resp.headers["x-image-meta-property-key%20with%3Acolon%0A"] == "line1%0D%0Aline2"
        assert resp.headers["x-image-meta-property-%C3%A9"] == "%00\ttab"
        assert resp.headers["x-image-meta-size"] == "4"
    assert http.get(f"/v1/images/{image_id}").content == b"data"
    details = http.get("/v1/images/detail").json()["images"]
    assert any(i["name"] == "bad\nname\x7f" for i in details)  # JSON carries it as is
    v2 = http.get(f"/v2/images/{image_id}").json()
    assert v2["name"] == "bad\nname\x7f" and v2["key with:colon\n"] == "line1\r\nline2"


# -- 6. requests that break HTTP syntax -----------------------------------------------------

BROKEN = {
    "request line": b"GARBAGE\r\n\r\n",
    "method": b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
    "version": b"GET / HTTP/9.x\r\nHost: x\r\n\r\n",
    "header syntax": b"GET /v2/images HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "header value": b"GET /v2/images HTTP/1.1\r\nHost: x\r\nX-Foo: a\x01b\r\n\r\n",
    "content-length": b"POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: x1\r\n\r\n",
    "two lengths": b"POST /v2/images HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                   b"Content-Length: 2\r\n\r\nab",
    "chunk size": b"POST /v2/images HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "path bytes": b"GET /v2/images/\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
}


def test_broken_http_gets_the_envelope_and_one_log_line(fresh_server: RunningServer) -> None:
    for name, data in BROKEN.items():
        status, headers, body = raw_bytes(fresh_server.port, data)
        assert headers.get("Content-Type", "").startswith("application/json"), (name, body)
        error = envelope(status, body, 400)
        assert error["message"].startswith("Bad HTTP request"), (name, error)
    time.sleep(0.2)
    log = fresh_server.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    lines = [line for line in log.splitlines() if "bad HTTP request" in line]
    assert len(lines) == len(BROKEN), lines
    # the server still serves
    assert httpx.get(fresh_server.url + "/versions", timeout=10).status_code in (200, 300)
