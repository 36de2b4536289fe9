"""The console's server side over plain HTTP: its files, its three endpoints, and their
answers to bad input (a clear 4xx in the JSON error envelope, never a 5xx)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.console.conftest import Site, TokensSite, create_image, start_site

BAD_BODIES: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("not JSON", b"image please", 400),
    ("not UTF-8", b'{"image_id": "\xff\xfe"}', 400),
    ("UTF-16 garbage", b"\xff\xfe\x00\x00\x01", 400),
    ("deep arrays", b"[" * 4000 + b"]" * 4000, 400),
    ("deep objects", b'{"":' * 1300 + b"1" + b"}" * 1300, 400),
    ("deeper than the size cap", b"[" * 100000 + b"]" * 100000, 413),
    ("a huge integer", b'{"image_id": ' + b"9" * 5000 + b"}", 400),
    ("a big integer", json.dumps({"image_id": 10 ** 100}).encode(), 400),
    ("a number", b"42", 400),
    ("a list", b'["image_id"]', 400),
    ("null", b"null", 400),
    ("a NUL in the id", json.dumps({"image_id": "ab\u0000cd"}).encode(), 400),
    ("control characters", json.dumps({"image_id": "ab\u001b[31m"}).encode(), 400),
    ("a lone surrogate", b'{"image_id": "\\ud800"}', 400),
    ("a bool", b'{"image_id": true}', 400),
    ("an empty id", b'{"image_id": ""}', 400),
    ("a long id", json.dumps({"image_id": "x" * 300}).encode(), 400),
    ("too large", json.dumps({"image_id": "x", "pad": "y" * 9000}).encode(), 413),
]


def assert_envelope(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] == status and error["title"] and error["message"]
    assert response.headers["content-type"].startswith("application/json")
    return error


# -- files -------------------------------------------------------------------------------------

def test_files_are_served_with_a_strict_policy(site: Site) -> None:
    with httpx.Client(base_url=site.url) as http:
        r = http.get("/console")
        assert r.status_code == 302 and r.headers["location"] == "/console/"
        index = http.get("/console/")
        assert index.status_code == 200
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        csp = index.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp
        assert "script-src 'self'" in csp and "unsafe" not in csp
        assert index.headers["x-content-type-options"] == "nosniff"
        assert '<script type="module" src="app.js">' in index.text
        # every file the page names is served, with its type, and nothing from elsewhere
        for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css"),
                            ("icon.svg", "image/svg+xml"), ("list.js", "text/javascript")):
            r = http.get(f"/console/{name}")
            assert r.status_code == 200 and r.headers["content-type"].startswith(ctype), name
            text = r.text.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a name, not a URL
            assert "http://" not in text and "https://" not in text, name
        etag = http.get("/console/app.js").headers["etag"]
        assert http.get("/console/app.js", headers={"If-None-Match": etag}).status_code == 304
        for missing in ("/console/nope.js", "/console/__init__.py", "/console/%2e%2e/app.js",
                        "/console/static/app.js", "/console/.hidden.js"):
            assert_envelope(http.get(missing), 404)
        assert_envelope(http.post("/console/app.js"), 405)


def test_the_package_ships_the_files() -> None:
    """pyproject's package-data holds every file of the console (no build step)."""
    import tomllib
    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["glance.api.console"]
    static = root / "glance/api/console/static"
    shipped = {p for pattern in patterns for p in (static.parent).glob(pattern)}
    assert {p for p in static.iterdir() if p.is_file()} <= shipped


# -- session and auth --------------------------------------------------------------------------

def test_session_in_noauth(site: Site) -> None:
    body = httpx.get(f"{site.url}/console/api/session").json()
    assert body["auth_mode"] == "noauth"
    assert body["caller"]["is_admin"] is True


def test_tokens_mode_serves_the_pages_but_nothing_else_without_a_token(
        tokens_site: TokensSite) -> None:
    with httpx.Client(base_url=tokens_site.url) as http:
        assert http.get("/console/").status_code == 200
        assert http.get("/console/app.js").status_code == 200
        # the console's routes are open; the API is not
        for path in ("/v2/images", "/v1/images", "/v2/info/stores"):
            r = http.get(path)
            assert_envelope(r, 401)
            assert r.headers["www-authenticate"]
        assert http.get("/console/api/session").json() == {"auth_mode": "tokens",
                                                           "caller": None}
        r = http.get("/console/api/session", headers={"X-Auth-Token": "forged"})
        assert_envelope(r, 401)
        assert r.headers["www-authenticate"] == 'Token realm="glance"'
        caller = http.get("/console/api/session", headers={
            "X-Auth-Token": tokens_site.tokens["alice"]}).json()["caller"]
        assert caller == {"project_id": "proj-a", "user_id": "alice", "owner": "proj-a",
                          "roles": ["member"], "is_admin": False}
        assert_envelope(http.post("/console/api/downloads", json={"image_id": "x"}), 401)
        r = http.post("/console/api/downloads", json={"image_id": "x"},
                      headers={"X-Auth-Token": "forged"})
        assert_envelope(r, 401)
        # a token that is not even UTF-8 is refused at the edge, as any such header
        for path in ("/console/api/session", "/console/api/downloads"):
            r = http.request("GET" if path.endswith("session") else "POST", path,
                             headers=[(b"X-Auth-Token", b"\xff\xfe\xfd")], json={})
            assert "X-Auth-Token must be UTF-8" in assert_envelope(r, 400)["message"]
        # Keystone sign-in exists only under auth_mode keystone
        assert_envelope(http.post("/console/api/keystone-token", json={
            "username": "u", "password": "p", "project": "p"}), 404)


# -- download tickets ----------------------------------------------------------------------------

def test_tickets_are_single_use_bound_to_one_image_and_to_the_caller(
        tokens_site: TokensSite) -> None:
    data = os.urandom(300_000)
    with tokens_site.client("alice") as alice, tokens_site.client("bob") as bob:
        mine = create_image(alice, data, name="tickets/alice's.img", visibility="private")
        other = create_image(alice, b"other", name="other", visibility="private")
        empty = create_image(alice, name="no data yet", visibility="private")
        # bob cannot have a ticket for alice's private image: it does not exist for him
        assert_envelope(bob.post("/console/api/downloads", json={"image_id": mine["id"]}), 404)
        assert_envelope(alice.post("/console/api/downloads", json={"image_id": empty["id"]}),
                        409)
        assert_envelope(alice.post("/console/api/downloads", json={"image_id": "nope"}), 404)

        r = alice.post("/console/api/downloads", json={"image_id": mine["id"]})
        assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
        url = r.json()["url"]
        assert tokens_site.tokens["alice"] not in url and r.json()["expires_in"] == 60
        # the link works without any credentials, once
        got = httpx.get(tokens_site.url + url)
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-disposition"] == \
            'attachment; filename="tickets_alice_s.img.raw"'
        assert got.headers["content-md5"] == mine["checksum"]
        assert_envelope(httpx.get(tokens_site.url + url), 404)

        # a ticket names its image: used for another one it is refused (and spent)
        url = alice.post("/console/api/downloads", json={"image_id": mine["id"]}).json()["url"]
        assert_envelope(httpx.get(tokens_site.url + url.replace(mine["id"], other["id"])), 404)
        assert_envelope(httpx.get(tokens_site.url + url), 404)
        # a forged ticket is nothing
        assert_envelope(httpx.get(f"{tokens_site.url}/console/download/{'A' * 43}/"
                                  f"{mine['id']}"), 404)
        # Range goes through to the v2 handler
        url = alice.post("/console/api/downloads", json={"image_id": mine["id"]}).json()["url"]
        part = httpx.get(tokens_site.url + url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == data[10:20]
        # deactivated: only an admin may still download
        assert alice.post(f"/v2/images/{mine['id']}/actions/deactivate").status_code == 204
        assert_envelope(alice.post("/console/api/downloads", json={"image_id": mine["id"]}),
                        403)


@pytest.mark.parametrize("label,body,status", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_download_requests(site: Site, label: str, body: bytes, status: int) -> None:
    r = httpx.post(f"{site.url}/console/api/downloads", content=body,
                   headers={"Content-Type": "application/json"})
    assert_envelope(r, status)


def test_download_request_media_type(site: Site) -> None:
    r = httpx.post(f"{site.url}/console/api/downloads", content=b'{"image_id": "x"}',
                   headers={"Content-Type": "text/plain"})
    assert_envelope(r, 415)


# -- keystone sign-in (validation needs no Keystone; an unreachable one is 503) -------------

@pytest.fixture(scope="module")
def keystone_gone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tests.conftest import free_port
    s = start_site(tmp_path_factory.mktemp("console-ks-gone"),
                   ["--auth-mode", "keystone", "--keystone-url",
                    f"http://127.0.0.1:{free_port()}/v3"])
    yield s
    s.server.stop()


GOOD = {"username": "glance", "password": "pw", "project": "images"}


@pytest.mark.parametrize("label,body", [
    ("not an object", b"[1, 2]"),
    ("no user name", json.dumps({**GOOD, "username": None}).encode()),
    ("no password", json.dumps({k: v for k, v in GOOD.items() if k != "password"}).encode()),
    ("a numeric project", json.dumps({**GOOD, "project": 7}).encode()),
    ("a control character", json.dumps({**GOOD, "username": "gl\u0007ance"}).encode()),
    ("a newline in the domain", json.dumps({**GOOD, "user_domain": "a\nb"}).encode()),
    ("a lone surrogate password", b'{"username": "u", "project": "p", "password": "\\udfff"}'),
    ("a huge password", json.dumps({**GOOD, "password": "p" * 5000}).encode()),
    ("deep nesting", b'{"username": ' + b"[" * 4000 + b"]" * 4000 + b"}"),
    ("not UTF-8", b'{"username": "\xc3\x28", "password": "p", "project": "p"}'),
    ("a huge integer", b'{"username": ' + b"1" * 6000 + b', "password": "p", "project": "p"}'),
])
def test_bad_keystone_sign_ins(keystone_gone: Site, label: str, body: bytes) -> None:
    r = httpx.post(f"{keystone_gone.url}/console/api/keystone-token", content=body,
                   headers={"Content-Type": "application/json"})
    assert_envelope(r, 400)


def test_keystone_unreachable_is_503(keystone_gone: Site) -> None:
    r = httpx.post(f"{keystone_gone.url}/console/api/keystone-token", json=GOOD)
    error = assert_envelope(r, 503)
    assert "Keystone is unreachable" in error["message"]


def test_keystone_sign_in_endpoint(keystone, tmp_path: Path) -> None:
    """Against the real Keystone: a token for the right password, 401 otherwise."""
    s = start_site(tmp_path, ["--auth-mode", "keystone", "--keystone-url", keystone.url])
    try:
        good = {"username": keystone.user, "password": keystone.password,
                "project": keystone.project}
        r = httpx.post(f"{s.url}/console/api/keystone-token", json=good)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        token = r.json()["token"]
        assert r.json()["expires_at"]
        caller = httpx.get(f"{s.url}/console/api/session",
                           headers={"X-Auth-Token": token}).json()["caller"]
        assert "member" in caller["roles"] and not caller["is_admin"] and caller["project_id"]
        assert httpx.get(f"{s.url}/v2/images", headers={"X-Auth-Token": token}
                         ).status_code == 200
        for wrong in ({**good, "password": "nope"}, {**good, "project": "no-such-project"},
                      {**good, "username": "nobody"},
                      {**good, "user_domain": "NoSuchDomain"}):
            assert_envelope(httpx.post(f"{s.url}/console/api/keystone-token", json=wrong), 401)
    finally:
        s.server.stop()


def test_a_ticket_is_spent_by_whichever_worker_the_link_reaches(tmp_path: Path) -> None:
    """Under --workers 2 a link issued by one worker is spent by another: every ticket
    downloads once (tickets kept in one process's memory answered 404 about half the time)."""
    s = start_site(tmp_path, ["--workers", "2"])
    try:
        data = os.urandom(100_000)
        with httpx.Client(base_url=s.url, timeout=60) as api:
            image = create_image(api, data, name="through workers")
            for _ in range(16):
                # a new connection each time, so that either worker may take it
                url = httpx.post(s.url + "/console/api/downloads",
                                 json={"image_id": image["id"]}).json()["url"]
                got = httpx.get(s.url + url)
                assert got.status_code == 200 and got.content == data
                assert_envelope(httpx.get(s.url + url), 404)
    finally:
        s.server.stop()
