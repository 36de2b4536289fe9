"""Property-based fuzzing of a real server on SQLite (hypothesis, derandomized: the same
requests every run): v1 x-image-meta-* headers, query strings of the v1 and v2 lists, v2
JSON bodies (images, members, import, metadefs) and JSON-patch documents, image, member and
tag ids in paths, raw header bytes, and request heads that break HTTP syntax. Every answer
must be below 500, every error the JSON envelope ``{"error": {"code", "title",
"message"}}``, and the server's log free of tracebacks. The number of requests sent is
printed at the end ("requests fuzzed"); the run is bounded by ``max_examples``."""

from __future__ import annotations

import http.client
import json
import socket
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RunningServer, start_server

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck), print_blob=True)

BIG_INTS = [2**63, 2**63 - 1, 2**64, 2**31, 2**31 - 1, -1, -(2**63) - 1, 10**30]
V2_FIELDS = ["name", "id", "visibility", "protected", "os_hidden", "owner", "tags", "min_ram",
             "min_disk", "disk_format", "container_format", "status", "size", "checksum",
             "locations", "self", "file", "schema", "created_at", "os_glance_x", "deleted"]
V1_FIELDS = ["name", "id", "is_public", "protected", "owner", "min_ram", "min_disk", "size",
             "disk_format", "container_format", "status", "checksum", "location", "store",
             "type", "deleted", "created_at", "uri", "copy_from", "virtual_size"]
FILTERS = ["name", "status", "size_min", "size_max", "min_ram", "min_disk", "limit", "marker",
           "sort_key", "sort_dir", "sort", "visibility", "member_status", "tag", "os_hidden",
           "protected", "is_public", "changes-since", "created_at", "updated_at", "owner",
           "checksum", "disk_format", "container_format", "id", "property-foo", "foo"]
METADEF_KEYS = ["namespace", "display_name", "description", "visibility", "protected",
                "owner", "name", "title", "type", "properties", "objects", "tags",
                "resource_type_associations", "prefix", "properties_target", "required",
                "enum", "minimum", "maximum", "minLength", "maxLength", "items", "default",
                "readonly", "created_at", "schema", "self"]
PATCH_TYPES = ["application/openstack-images-v2.1-json-patch",
               "application/openstack-images-v2.0-json-patch", "application/json",
               "application/json-patch+json"]


@dataclass
class Target:
    """The server under fuzz, the images it starts with, and what was sent."""

    server: RunningServer
    images: list[str]
    sent: int = 0
    problems: list[str] = field(default_factory=list)
    conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, headers: dict[str, bytes] | None = None,
                body: bytes | None = None) -> tuple[int, str]:
        """Send one request (raw header bytes allowed); check the answer; its status."""
        self.sent += 1
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
            try:
                self.conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    self.conn.putheader(name, value)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                resp = self.conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            if resp.will_close:
                self.conn.close()
                self.conn = None
            check_answer(method, path, resp.status, resp.getheader("Content-Type", ""), data)
            return resp.status, resp.getheader("Content-Type", "")
        raise AssertionError("unreachable")


def check_answer(method: str, path: str, status: int, ctype: str, data: bytes) -> None:
    where = f"{method} {path[:200]!r} -> {status}: {data[:300]!r}"
    assert status < 500, where
    if status < 400 or method == "HEAD":
        return
    assert ctype.startswith("application/json"), where
    body = json.loads(data)
    assert set(body) == {"error"}, where
    error = body["error"]
    assert error["code"] == status, where
    assert isinstance(error["title"], str) and error["title"], where
    assert isinstance(error["message"], str) and error["message"], where


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[Target]:
    """One SQLite server (showing locations, so PATCH /locations acts) with a queued shared
    image, an active image with properties and a v1 image; the count of requests is reported
    at the end."""
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "data"
    server = start_server(data_dir, ["--image-format-inspection", "false",
                                     "--show-multiple-locations", "true"])
    started = time.monotonic()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            shared = client.post("/v2/images", json={
                "name": "shared", "visibility": "shared", "disk_format": "raw",
                "container_format": "bare", "tags": ["t1"], "foo": "bar"}).json()["id"]
            active = client.post("/v2/images", json={
                "name": "active", "disk_format": "raw", "container_format": "bare"}).json()["id"]
            client.put(f"/v2/images/{active}/file", content=b"x" * 100,
                       headers={"Content-Type": "application/octet-stream"})
            v1 = client.post("/v1/images", headers={
                "x-image-meta-name": "v1", "x-image-meta-property-a": "b"}).json()["image"]["id"]
            client.post("/v2/metadefs/namespaces", json={
                "namespace": "fuzz", "properties": {"p": {"type": "string", "title": "P"}},
                "objects": [{"name": "o", "properties": {}}], "tags": [{"name": "t"}]})
        fuzz = Target(server, [shared, active, v1])
        yield fuzz
    finally:
        if fuzz.conn is not None:
            fuzz.conn.close()
        server.stop()
    elapsed = time.monotonic() - started
    line = f"fuzz: {fuzz.sent} requests fuzzed in {elapsed:.1f} s"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    log = server.log()
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:3000]


# -- strategies ---------------------------------------------------------------------------

# text that stresses parsing: controls, surrogates, non-BMP, quotes, separators
nasty_char = (st.characters(exclude_categories=()) | st.characters(categories=["Cs", "Cc"])
              | st.sampled_from(list('"\\/%:,~+&=;é😀\u2028\ufeff')))
nasty_text = st.text(nasty_char, max_size=40) | st.sampled_from(
    ["", " ", "\x00", "\ud800", "a\nb", "\x7f", "é", "😀", "%00", "in:a,b", 'in:"a,b', "gt:x",
     "eq:", "null", "true", "-1", "0", "1e400", "NaN", "2020-01-01T00:00:00Z",
     "9999-12-31T23:59:59-01:00", "../..", "~1", "~", "a/b"])
ints = st.integers() | st.sampled_from(BIG_INTS)
int_text = ints.map(str) | st.sampled_from(["", " 1", "1.5", "0x10", "１", "+3", "-0"])
json_scalar = (st.none() | st.booleans() | ints | st.floats(allow_nan=False) | nasty_text)
json_value = st.recursive(json_scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    nasty_text, inner, max_size=4), max_leaves=12)


def encode_text(text: str) -> bytes:
    """Text as the bytes a client might send: UTF-8, surrogates passed through."""
    return text.encode("utf-8", "surrogatepass")


header_bytes = st.binary(max_size=30) | nasty_text.map(encode_text) | int_text.map(str.encode)
header_bytes = header_bytes.map(lambda raw: raw.replace(b"\r", b"").replace(b"\n", b""))
path_segment = (nasty_text.map(lambda t: quote(encode_text(t), safe="")).filter(bool)
                | st.binary(min_size=1, max_size=12).map(lambda b: quote(b, safe=""))
                | st.sampled_from(["00000000-0000-0000-0000-000000000000", "x" * 300, "%2F",
                                   "..", "."]))
token = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=12)


def image_id(fuzz: Target, draw: st.DrawFn) -> str:
    return draw(st.sampled_from(fuzz.images) | path_segment)


# -- the properties -------------------------------------------------------------------------

@FUZZ
@given(data=st.data())
def test_v1_meta_headers(target: Target, data: st.DataObject) -> None:
    names = data.draw(st.lists(
        st.sampled_from(V1_FIELDS).map(lambda n: "x-image-meta-" + n)
        | token.map(lambda n: "x-image-meta-property-" + n)
        | st.sampled_from(["X-Project-Id", "X-Tenant-Id", "X-Roles", "X-Auth-Token",
                           "x-glance-registry-purge-props", "X-Image-Meta-Store",
                           "x-image-meta-property-", "x-image-meta-"]),
        max_size=5, unique=True))
    headers: dict[str, bytes] = {}
    for name in names:
        if name.endswith(("min_ram", "min_disk", "size")):
            headers[name] = data.draw(int_text.map(str.encode) | header_bytes)
        else:
            headers[name] = data.draw(header_bytes)
    method, path = data.draw(st.sampled_from([
        ("POST", "/v1/images"), ("PUT", "/v1/images/{id}"), ("HEAD", "/v1/images/{id}"),
        ("GET", "/v1/images/{id}"), ("GET", "/v1/images/detail"), ("DELETE", "/v1/images/{id}"),
    ]))
    if "{id}" in path:
        ident = data.draw(path_segment) if method == "DELETE" else image_id(target, data.draw)
        path = path.replace("{id}", ident)
    body = None
    if method in ("POST", "PUT") and data.draw(st.booleans()):
        body = data.draw(st.binary(max_size=64))
        headers["Content-Type"] = b"application/octet-stream"
    target.request(method, path, headers, body)


@FUZZ
@given(data=st.data())
def test_list_query_strings(target: Target, data: st.DataObject) -> None:
    pairs = data.draw(st.lists(st.tuples(
        st.sampled_from(FILTERS) | nasty_text,
        int_text | nasty_text | st.sampled_from(target.images)), max_size=5))
    query = urlencode([(encode_text(k), encode_text(v)) for k, v in pairs])
    if data.draw(st.booleans()):
        query += "&" + "".join(data.draw(st.lists(st.sampled_from(
            ["%", "%zz", "%ff", "%00", "&", "=", ";", "+", "%ED%A0%80"]), max_size=4)))
    path = data.draw(st.sampled_from(["/v1/images", "/v1/images/detail", "/v2/images", "/v1",
                                      "/v2/metadefs/namespaces",
                                      "/v2/metadefs/namespaces/fuzz/objects",
                                      "/v2/metadefs/namespaces/fuzz/properties",
                                      "/v2/metadefs/namespaces/fuzz/tags",
                                      "/v2/metadefs/resource_types", "/v2/info/usage"]))
    target.request("GET", f"{path}?{query}")


def _json_body(data: st.DataObject, shape: st.SearchStrategy[Any]) -> bytes:
    kind = data.draw(st.sampled_from(["json", "json", "json", "raw", "deep"]))
    if kind == "raw":
        return bytes(data.draw(st.binary(max_size=64)))
    if kind == "deep":
        depth = data.draw(st.integers(20, 3000))
        return data.draw(st.sampled_from([b"[" * depth + b"]" * depth,
                                          b'{"a":' * depth + b"1" + b"}" * depth,
                                          b"[" * depth]))
    return json.dumps(data.draw(shape)).encode()


@FUZZ
@given(data=st.data())
def test_v2_json_bodies(target: Target, data: st.DataObject) -> None:
    image = st.dictionaries(st.sampled_from(V2_FIELDS) | nasty_text,
                            json_value | st.sampled_from(BIG_INTS), max_size=6)
    definition = st.dictionaries(st.sampled_from(METADEF_KEYS) | nasty_text,
                                 json_value | st.sampled_from(BIG_INTS), max_size=6)
    method, template, shape = data.draw(st.sampled_from([
        ("POST", "/v2/images", image),
        ("POST", "/v2/images/{id}/members",
         st.fixed_dictionaries({"member": json_value}) | json_value),
        ("PUT", "/v2/images/{id}/members/{member}",
         st.fixed_dictionaries({"status": json_value}) | json_value),
        ("POST", "/v2/images/{id}/import", st.fixed_dictionaries(
            {"method": st.fixed_dictionaries({"name": json_value}) | json_value},
            optional={"stores": json_value, "all_stores": json_value,
                      "all_stores_must_succeed": json_value})),
        ("PUT", "/v1/images/{id}/members", st.fixed_dictionaries(
            {"memberships": st.lists(st.fixed_dictionaries(
                {"member_id": json_value}, optional={"can_share": json_value}), max_size=3)})),
        ("PUT", "/v1/images/{id}/members/{member}",
         st.fixed_dictionaries({"member": st.fixed_dictionaries(
             {}, optional={"can_share": json_value})}) | json_value),
        ("POST", "/v2/images/{id}/locations", st.fixed_dictionaries(
            {"url": json_value | st.sampled_from(["http://127.0.0.1:9/x", "gopher://a"])},
            optional={"validation_data": json_value | st.dictionaries(
                st.sampled_from(["os_hash_algo", "os_hash_value", "checksum"]) | nasty_text,
                json_value, max_size=3)}) | json_value),
        ("POST", "/v2/metadefs/namespaces", definition),
        ("PUT", "/v2/metadefs/namespaces/{ns}", definition),
        ("POST", "/v2/metadefs/namespaces/{ns}/objects", definition),
        ("PUT", "/v2/metadefs/namespaces/{ns}/objects/{member}", definition),
        ("POST", "/v2/metadefs/namespaces/{ns}/properties", definition),
        ("PUT", "/v2/metadefs/namespaces/{ns}/properties/{member}", definition),
        ("POST", "/v2/metadefs/namespaces/{ns}/tags", definition),
        ("PUT", "/v2/metadefs/namespaces/{ns}/tags/{member}", definition),
        ("POST", "/v2/metadefs/namespaces/{ns}/resource_types", definition),
    ]))
    path = template.replace("{id}", image_id(target, data.draw)).replace(
        "{member}", data.draw(path_segment)).replace(
        "{ns}", data.draw(st.just("fuzz") | path_segment))
    ctype = data.draw(st.sampled_from([b"application/json", b"application/json",
                                       b"text/plain", b"application/octet-stream"]))
    target.request(method, path, {"Content-Type": ctype}, _json_body(data, shape))


@FUZZ
@given(data=st.data())
def test_v2_json_patch(target: Target, data: st.DataObject) -> None:
    pointer = st.sampled_from(["/name", "/tags", "/min_ram", "/min_disk", "/foo", "/visibility",
                               "/protected", "/os_hidden", "/owner", "/locations", "/status",
                               "/id", "/a~1b", "/", "", "/foo/bar", "/os_glance_x", "/~2",
                               "/disk_format", "/locations/-", "/locations/0",
                               "/locations/\u0663", "/locations/-1"]) | nasty_text
    op = st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "move", "copy", "test"])
         | json_value, "path": pointer | json_value},
        optional={"value": json_value | st.sampled_from(BIG_INTS), "from": pointer})
    old_style = st.dictionaries(st.sampled_from(["add", "replace", "remove", "value"]),
                                pointer | json_value, max_size=3)
    shape = st.lists(op | old_style, max_size=4) | json_value
    ctype = data.draw(st.sampled_from(PATCH_TYPES)).encode()
    path = f"/v2/images/{image_id(target, data.draw)}"
    target.request("PATCH", path, {"Content-Type": ctype}, _json_body(data, shape))


@FUZZ
@given(data=st.data())
def test_ids_in_paths(target: Target, data: st.DataObject) -> None:
    method, template = data.draw(st.sampled_from([
        ("GET", "/v2/images/{id}"), ("DELETE", "/v2/images/{fuzz}"),
        ("GET", "/v2/images/{id}/members"), ("GET", "/v2/images/{id}/members/{member}"),
        ("DELETE", "/v2/images/{id}/members/{member}"), ("PUT", "/v2/images/{id}/tags/{tag}"),
        ("DELETE", "/v2/images/{id}/tags/{tag}"), ("GET", "/v2/images/{id}/file"),
        ("POST", "/v2/images/{id}/actions/deactivate"), ("GET", "/v2/images/{id}/tasks"),
        ("PUT", "/v1/images/{id}/members/{member}"), ("GET", "/v1/images/{id}/members"),
        ("DELETE", "/v1/images/{id}/members/{member}"), ("GET", "/v1/shared-images/{member}"),
        ("DELETE", "/v2/stores/{tag}/{fuzz}"), ("HEAD", "/v1/images/{id}"),
        ("GET", "/{fuzz}"), ("GET", "/v2/schemas/{tag}"),
        ("GET", "/v2/metadefs/namespaces/{fuzz}"), ("DELETE", "/v2/metadefs/namespaces/{fuzz}"),
        ("GET", "/v2/metadefs/namespaces/fuzz/objects/{tag}"),
        ("GET", "/v2/metadefs/namespaces/fuzz/properties/{tag}"),
        ("POST", "/v2/metadefs/namespaces/fuzz/tags/{tag}"),
        ("DELETE", "/v2/metadefs/namespaces/{fuzz}/resource_types/{tag}"),
    ]))
    path = (template.replace("{id}", image_id(target, data.draw))
            .replace("{fuzz}", data.draw(path_segment))
            .replace("{member}", data.draw(path_segment))
            .replace("{tag}", data.draw(path_segment)))
    headers = {}
    if data.draw(st.booleans()):
        headers["Range"] = data.draw(header_bytes | st.sampled_from(
            [b"bytes=0-", b"bytes=-0", b"bytes=5-1", b"bytes=99999999999999999999999-",
             b"bytes=" + b"9" * 5000 + b"-", b"bytes=-" + b"9" * 5000, b"bytes=\xd9\xa1-"]))
    target.request(method, path, headers, b"" if method in ("PUT", "POST") else None)


@settings(FUZZ, max_examples=80)
@given(data=st.data())
def test_broken_http(target: Target, data: st.DataObject) -> None:
    """Request heads that may break HTTP syntax (bodyless, so that none waits for a body)."""
    method = data.draw(st.sampled_from([b"GET", b"HEAD", b"DELETE", b"G ET", b"get", b"",
                                        b"\xe9", b"GET\x00"]) | st.binary(max_size=8))
    target_path = data.draw(st.sampled_from([b"/v2/images", b"/v1/images/detail", b"*", b"",
                                             b"http://x/v2/images", b"/v2/images?a=\xff"])
                            | st.binary(max_size=20).map(lambda raw: b"/" + raw))
    version = data.draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"HTTP/1.1x",
                                         b"", b"http/1.1"]))
    header_lines = data.draw(st.lists(st.binary(max_size=30) | st.sampled_from(
        [b"Host: x", b"Host:", b": v", b"X-A:\x01", b" folded", b"X-B: \xff\xfe",
         b"Expect: 100-continue", b"Connection: keep-alive, close"]), max_size=4))
    head = b" ".join(part for part in (method, target_path, version) if part)
    lines = [line.replace(b"\r", b"").replace(b"\n", b"") for line in header_lines]
    lines = [line for line in lines
             if not line.lower().lstrip().startswith((b"content-length", b"transfer-encoding"))]
    raw = head + b"\r\n" + b"".join(line + b"\r\n" for line in lines) \
        + b"Connection: close\r\n\r\n"
    target.sent += 1
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=30) as sock:
        sock.sendall(raw)
        resp = http.client.HTTPResponse(sock, method="HEAD" if method == b"HEAD" else "GET")
        resp.begin()  # every head gets an answer
        body = resp.read()
    check_answer(method.decode("latin-1"), repr(raw), resp.status,
                 resp.getheader("Content-Type", ""), body)
