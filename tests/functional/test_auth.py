"""Auth modes against a real glance-api: static tokens (hashed at rest) and Keystone."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from glance.client import Client
from glance.common import exception
from tests.conftest import RunningServer, start_server

RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"}


def token_add(tokens_file: Path, project: str, roles: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.main", "token-add", "--tokens-file", str(tokens_file),
         "--project", project, "--user", f"user-of-{project}", "--roles", roles],
        capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, dict, Path]]:
    base = tmp_path_factory.mktemp("auth")
    tokens_file = base / "tokens.json"
    issued = {"admin": token_add(tokens_file, "admin-project", "admin,member"),
              "p1": token_add(tokens_file, "p1", "member"),
              "p2": token_add(tokens_file, "p2", "member")}
    server = start_server(base / "data", ["--auth-mode", "tokens",
                                          "--tokens-file", str(tokens_file)])
    yield server, issued, tokens_file
    server.stop()


def call(server: RunningServer, method: str, path: str, token: str | None = None,
         **kwargs) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["X-Auth-Token"] = token
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kwargs)


def create(server: RunningServer, token: str, name: str, **headers: str) -> dict:
    response = call(server, "POST", "/v1/images", token,
                    headers={"x-image-meta-name": name, **RAW, **headers})
    assert response.status_code == 201, response.text
    return response.json()["image"]


def test_missing_or_bad_token_is_401_with_challenge(tokens) -> None:
    server, _, _ = tokens
    for token in (None, "not-a-token"):
        response = call(server, "GET", "/v1/images", token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Token")
        assert response.json()["error"]["code"] == 401
    assert call(server, "GET", "/versions").status_code == 200  # discovery needs no token


def test_tokens_are_hashed_at_rest(tokens) -> None:
    _, issued, tokens_file = tokens
    stored = tokens_file.read_text()
    for token in issued.values():
        assert token not in stored
    assert len(json.loads(stored)["tokens"]) >= 3
    assert oct(tokens_file.stat().st_mode & 0o777) == "0o600"


def test_owner_is_the_callers_project_and_privacy_holds(tokens) -> None:
    server, issued, _ = tokens
    image = create(server, issued["p1"], "p1-private")
    assert image["owner"] == "p1"
    path = f"/v1/images/{image['id']}"
    assert call(server, "HEAD", path, issued["p1"]).status_code == 200
    # another project can neither see nor touch it: 404, never 403
    assert call(server, "HEAD", path, issued["p2"]).status_code == 404
    assert call(server, "PUT", path, issued["p2"],
                headers={"x-image-meta-name": "stolen"}).status_code == 404
    assert call(server, "DELETE", path, issued["p2"]).status_code == 404
    listed = call(server, "GET", "/v1/images?name=p1-private", issued["p2"]).json()["images"]
    assert listed == []
    assert call(server, "HEAD", path, issued["admin"]).status_code == 200


def test_only_admins_publicize_or_set_owner(tokens) -> None:
    server, issued, _ = tokens
    response = call(server, "POST", "/v1/images", issued["p1"],
                    headers={"x-image-meta-name": "pub", "x-image-meta-is_public": "true"})
    assert response.status_code == 403
    response = call(server, "POST", "/v1/images", issued["p1"],
                    headers={"x-image-meta-name": "x", "x-image-meta-owner": "p2"})
    assert response.status_code == 403
    public = create(server, issued["admin"], "admin-public", **{"x-image-meta-is_public": "true"})
    path = f"/v1/images/{public['id']}"
    assert call(server, "HEAD", path, issued["p2"]).status_code == 200  # visible to all
    assert call(server, "DELETE", path, issued["p2"]).status_code == 403  # but not theirs
    assert call(server, "PUT", path, issued["p1"],
                headers={"x-image-meta-name": "mine"}).status_code == 403


def test_sharing_makes_an_image_visible_not_writable(tokens) -> None:
    server, issued, _ = tokens
    image = create(server, issued["p1"], "shared-one")
    path = f"/v1/images/{image['id']}"
    assert call(server, "PUT", path + "/members/p2", issued["p1"]).status_code == 204
    assert call(server, "HEAD", path, issued["p2"]).status_code == 200
    assert call(server, "PUT", path, issued["p2"],
                headers={"x-image-meta-name": "mine"}).status_code == 403
    shared = call(server, "GET", "/v1/shared-images/p2", issued["p2"]).json()["shared_images"]
    assert image["id"] in [s["image_id"] for s in shared]


def test_new_tokens_work_without_restart(tokens) -> None:
    server, _, tokens_file = tokens
    token = token_add(tokens_file, "p3", "member")
    assert call(server, "GET", "/v1/images", token).status_code == 200


def test_seed_client_passes_its_token(tokens) -> None:
    server, issued, _ = tokens
    with Client(server.host, server.port, auth_tok=issued["p1"]) as client:
        image = client.add_image({"name": "via-client", **{"disk_format": "raw",
                                                           "container_format": "bare"}}, b"abc")
        assert image["owner"] == "p1" and image["status"] == "active"
    with Client(server.host, server.port) as anonymous:
        with pytest.raises(exception.NotAuthenticated):
            anonymous.get_images()


# -- Keystone ---------------------------------------------------------------------------------

class FakeKeystone(BaseHTTPRequestHandler):
    """``GET /v3/auth/tokens`` answered the way Keystone v3 answers it."""

    tokens: dict[str, dict] = {}
    calls: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        subject = self.headers.get("X-Subject-Token", "")
        FakeKeystone.calls.append(subject)
        if self.path.rstrip("/") != "/v3/auth/tokens" or not self.headers.get("X-Auth-Token"):
            self.send_response(401)
            self.end_headers()
            return
        token = self.tokens.get(subject)
        if token is None:
            body = json.dumps({"error": {"code": 404, "title": "Not Found",
                                         "message": "Could not find token"}}).encode()
            self.send_response(404)
        else:
            body = json.dumps({"token": token}).encode()
            self.send_response(200)
            self.send_header("X-Subject-Token", subject)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def keystone_token(project: str, roles: list[str]) -> dict:
    return {"methods": ["password"], "user": {"id": f"u-{project}", "name": f"u-{project}",
                                              "domain": {"id": "default", "name": "Default"}},
            "project": {"id": project, "name": project,
                        "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": f"r-{r}", "name": r} for r in roles],
            "expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00Z"}


@pytest.fixture(scope="module")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    FakeKeystone.tokens = {"tok-p1": keystone_token("kp1", ["member"]),
                           "tok-admin": keystone_token("kadmin", ["admin"])}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeKeystone)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v3"
    server = start_server(tmp_path_factory.mktemp("ks") / "data",
                          ["--auth-mode", "keystone", "--keystone-url", url,
                           "--keystone-cache-seconds", "300"])
    yield server, url
    server.stop()
    httpd.shutdown()
    httpd.server_close()


def test_keystone_tokens_build_the_context(keystone) -> None:
    server, _ = keystone
    image = create(server, "tok-p1", "ks-image")
    assert image["owner"] == "kp1"
    admin_view = call(server, "HEAD", f"/v1/images/{image['id']}", "tok-admin")
    assert admin_view.status_code == 200


def test_keystone_rejects_unknown_tokens_with_challenge(keystone) -> None:
    server, url = keystone
    response = call(server, "GET", "/v1/images", "tok-unknown")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{url}"'
    assert call(server, "GET", "/v1/images").status_code == 401


def test_keystone_answers_are_cached(keystone) -> None:
    server, _ = keystone
    FakeKeystone.tokens["tok-cached"] = keystone_token("kc", ["member"])
    FakeKeystone.calls.clear()
    for _ in range(5):
        assert call(server, "GET", "/v1/images", "tok-cached").status_code == 200
    assert FakeKeystone.calls.count("tok-cached") == 1


# -- quotas -----------------------------------------------------------------------------------

@pytest.fixture
def quota_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "data", ["--project-image-quota", "3",
                                              "--project-storage-quota", str(10 * 1024 * 1024)])
    yield server
    server.stop()


def as_project(project: str) -> dict[str, str]:
    return {"X-Project-Id": project, "X-Roles": "member"}


def upload_as(server: RunningServer, project: str, data: bytes, **headers: str) -> httpx.Response:
    return httpx.post(server.url + "/v1/images", content=data, timeout=60, headers={
        **as_project(project), **RAW, "x-image-meta-name": "q",
        "Content-Type": "application/octet-stream", **headers})


def test_image_count_quota_at_the_boundary(quota_server: RunningServer) -> None:
    for _ in range(3):
        response = httpx.post(quota_server.url + "/v1/images", headers=as_project("qa"))
        assert response.status_code == 201
    response = httpx.post(quota_server.url + "/v1/images", headers=as_project("qa"))
    assert response.status_code == 413
    assert "quota" in response.json()["error"]["message"]
    # another project has its own count
    assert httpx.post(quota_server.url + "/v1/images",
                      headers=as_project("qb")).status_code == 201


def test_storage_quota_exactly_full_then_one_byte_over(quota_server: RunningServer) -> None:
    quota = 10 * 1024 * 1024
    first = upload_as(quota_server, "qs", b"a" * (quota - 1024))
    assert first.status_code == 201
    exact = upload_as(quota_server, "qs", b"b" * 1024)
    assert exact.status_code == 201  # exactly at the quota is allowed
    over = upload_as(quota_server, "qs", b"c")
    assert over.status_code == 413
    # nothing of the refused upload is left: two files in the store, the third image killed
    assert len(quota_server.stored_files()) == 2
    killed = httpx.get(quota_server.url + "/v1/images/detail?status=killed",
                       headers=as_project("qs")).json()["images"]
    assert len(killed) == 1


def test_storage_quota_stops_a_streaming_upload(quota_server: RunningServer) -> None:
    sent = 0

    def body():  # chunked, no size declared: the server must stop it while streaming
        nonlocal sent
        for _ in range(40):
            sent += 1 << 20
            yield b"x" * (1 << 20)

    response = httpx.post(quota_server.url + "/v1/images", content=body(), timeout=60, headers={
        **as_project("qt"), **RAW, "Content-Type": "application/octet-stream"})
    assert response.status_code == 413
    assert quota_server.stored_files() == []
    declared = upload_as(quota_server, "qt", b"x" * 10, **{"x-image-meta-size": str(11 << 20)})
    assert declared.status_code == 413  # a declared size over the quota is refused up front
