"""The server's log as an operator reads it: one access line per request (request id,
project, method, path, status, bytes, duration), text or JSON lines, and no traceback for
a client's mistakes."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server

ACCESS_RE = re.compile(r' INFO glance\.access: (req-[0-9a-f-]+) (\S+) "(\S+) (\S+)" (\d+) '
                       r'in=(\d+) out=(\d+) (\d+\.\d+)s$')
RAW_UPLOAD = (b"POST /v1/images HTTP/1.1\r\nHost: x\r\nx-image-meta-name: cut\r\n"
              b"x-image-meta-disk_format: raw\r\nx-image-meta-container_format: bare\r\n"
              b"Content-Type: application/octet-stream\r\nContent-Length: 10000000\r\n\r\n")


def traffic(srv: RunningServer) -> dict[str, httpx.Response]:
    """Known requests, good and bad; the answers by name."""
    url = srv.url
    member = {"X-Roles": "member", "X-Project-Id": "proj-a"}
    out = {"create": httpx.post(url + "/v2/images", headers=member, json={
        "name": "logged", "disk_format": "raw", "container_format": "bare"})}
    image_id = out["create"].json()["id"]
    data = os.urandom(123457)
    out["upload"] = httpx.put(f"{url}/v2/images/{image_id}/file", content=data, headers={
        **member, "Content-Type": "application/octet-stream"})
    out["download"] = httpx.get(f"{url}/v2/images/{image_id}/file", headers=member)
    out["missing"] = httpx.get(url + "/v2/images/" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
                               headers={"X-Roles": "member", "X-Project-Id": "proj-b"})
    out["bad json"] = httpx.post(url + "/v2/images", content=b"{nope",
                                 headers={"Content-Type": "application/json"})
    out["bad limit"] = httpx.get(url + "/v2/images?limit=many")
    # not HTTP at all: aiohttp answers 400 before our code runs
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert sock.recv(100).split(b" ")[1] == b"400"
    # a client gone in the middle of an upload
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(RAW_UPLOAD + b"x" * 200_000)
        time.sleep(0.5)
    assert out["create"].status_code == 201 and out["upload"].status_code == 204
    assert out["download"].content == data
    assert [out[k].status_code for k in ("missing", "bad json", "bad limit")] == [404, 400, 400]
    return out


def wait_for(srv: RunningServer, pattern: str) -> str:
    deadline = time.monotonic() + 10
    while pattern not in srv.log():
        assert time.monotonic() < deadline, f"{pattern!r} never logged:\n{srv.log()}"
        time.sleep(0.05)
    return srv.log()


@pytest.fixture
def text_server(tmp_path: Path):  # noqa: ANN201
    srv = start_server(tmp_path / "data", ["--log-format", "text"])
    yield srv
    srv.stop()


def test_one_access_line_per_request_and_no_client_tracebacks(text_server: RunningServer
                                                              ) -> None:
    answers = traffic(text_server)
    log = wait_for(text_server, '"POST /v1/images" 400')
    lines = {m.group(1): m.groups()[1:] for m in map(ACCESS_RE.search, log.splitlines()) if m}
    ids = {name: a.headers["x-openstack-request-id"] for name, a in answers.items()}
    assert len(set(ids.values())) == len(ids)
    image_id = answers["create"].json()["id"]
    assert lines[ids["create"]][:4] == ("proj-a", "POST", "/v2/images", "201")
    assert lines[ids["upload"]][:6] == ("proj-a", "PUT", f"/v2/images/{image_id}/file", "204",
                                        "123457", "0")
    assert lines[ids["download"]][:6] == ("proj-a", "GET", f"/v2/images/{image_id}/file",
                                          "200", "0", "123457")
    assert lines[ids["missing"]][:4] == ("proj-b", "GET", answers["missing"].request.url.path,
                                         "404")
    assert int(lines[ids["missing"]][5]) == len(answers["missing"].content)
    assert lines[ids["bad json"]][3] == "400" and lines[ids["bad limit"]][3] == "400"
    # the client that went away: its upload answered 400, what it sent counted
    cut = [fields for fields in lines.values() if fields[1:3] == ("POST", "/v1/images")]
    assert len(cut) == 1 and cut[0][3] == "400" and int(cut[0][4]) >= 200_000
    for name in ids:  # exactly one line per request
        assert log.count(ids[name]) == 1, name
    assert "Traceback" not in log
    assert len(re.findall(r"(?m)^.* (INFO|WARNING) .*127\.0\.0\.1: Invalid header token.*$",
                          log)) == 1


def test_json_log_format_one_object_per_line(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "data", ["--log-format", "json"])
    try:
        answers = traffic(srv)
        wait_for(srv, '"path": "/v1/images", "status": 400')
    finally:
        srv.stop()
    records = [json.loads(line) for line in srv.log().splitlines()]  # every line: an object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    access = {r["request_id"]: r for r in records if r["logger"] == "glance.access"}
    upload = access[answers["upload"].headers["x-openstack-request-id"]]
    assert upload["project"] == "proj-a" and upload["method"] == "PUT"
    assert upload["status"] == 204 and upload["bytes_in"] == 123457
    assert upload["duration"] > 0 and upload["level"] == "INFO"
    download = access[answers["download"].headers["x-openstack-request-id"]]
    assert download["bytes_out"] == 123457
    assert any(r["message"] == "glance-api stopped" for r in records)
    bad = [r for r in records if "Invalid header token" in r["message"]]
    assert len(bad) == 1 and bad[0]["level"] in ("INFO", "WARNING")
    assert not any("traceback" in r for r in records)
