"""v2 locations: shown with show_multiple_locations, changed with PATCH /locations (a URL
added, metadata changed, a copy removed), and v2.17's POST /v2/images/{id}/locations, whose
data is hashed (and checked against validation_data) in the background — against a real
HTTP server on loopback holding the data."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import (
    PATCH21,
    as_project,
    assert_error,
    create,
    new_project,
    patch,
    show,
    upload,
    validate,
)
from tests.functional.test_v1_remote import publish


class Source(SimpleHTTPRequestHandler):
    """Files of a directory; ``/slow`` streams forever, slowly (its HEAD says 64 MiB)."""

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", str(64 << 20))
            self.end_headers()
            return
        super().do_HEAD()

    def do_GET(self) -> None:
        if self.path != "/slow":
            super().do_GET()
            return
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(os.urandom(4096))
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTP server on loopback: its base URL and its directory."""
    root = tmp_path_factory.mktemp("remote")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Source, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def start(base: Path, **options: Any) -> RunningServer:
    """A server with a file store ``fast`` and the http store named ``web``, allowed to
    read from loopback, showing locations unless told otherwise."""
    settings = {"show_multiple_locations": True, "web_download_allow_private": True,
                "default_store": "fast", **options}
    text = "[glance]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    text += (f'\n[stores.fast]\ndriver = "file"\ndirectory = {json.dumps(str(base / "fast"))}\n'
             f'fsync = false\n\n[stores.web]\ndriver = "http"\n')
    (base / "glance.toml").write_text(text)
    return start_server(base / "data", ["--config", str(base / "glance.toml")])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    server = start(tmp_path_factory.mktemp("locations"))
    yield server
    server.stop()


@pytest.fixture
def http(site: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        yield client


def add(http: httpx.Client, image_id: str, url: str, headers: dict[str, str] | None = None,
        **extra: Any) -> httpx.Response:
    return patch(http, image_id, [{"op": "add", "path": "/locations/-",
                                   "value": {"url": url, "metadata": {}, **extra}}], headers)


def download(http: httpx.Client, image_id: str) -> bytes:
    resp = http.get(f"/v2/images/{image_id}/file")
    assert resp.status_code == 200, resp.text
    return resp.content


def tasks_done(http: httpx.Client, image_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if tasks and all(t["status"] in ("success", "failure") for t in tasks):
            return tasks
        assert time.monotonic() < deadline, tasks
        time.sleep(0.05)


# -- PATCH /locations -------------------------------------------------------------------------

def test_a_url_location_activates_a_queued_image_and_serves_its_data(http, remote):
    data = os.urandom(70_000)
    url = publish(remote, data)
    image = create(http)
    assert image["locations"] == []
    resp = patch(http, image["id"], [{"op": "add", "path": "/locations/-",
                                      "value": {"url": url, "metadata": {"foo": "bar"}}}])
    assert resp.status_code == 200, resp.text
    image = resp.json()
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["locations"] == [{"url": url, "metadata": {"foo": "bar", "store": "web"}}]
    assert image["stores"] == "web"
    # registered, not read: nothing hashed
    assert image["os_hash_algo"] is None and image["checksum"] is None
    validate(http, "image", image)
    assert download(http, image["id"]) == data
    assert show(http, image["id"])["locations"] == image["locations"]


def test_two_locations_replace_their_metadata_and_remove_one(http, remote):
    data = os.urandom(10_000)
    url = publish(remote, data)
    image = create(http)
    assert add(http, image["id"], url, metadata={"foo": "bar"}).status_code == 200
    resp = add(http, image["id"], url + "#new", metadata={"speed": "88mph"})
    assert resp.status_code == 200, resp.text
    locations = resp.json()["locations"]
    assert [loc["url"] for loc in locations] == [url, url + "#new"]  # first added first

    def replace(value: list[dict[str, Any]]) -> httpx.Response:
        return patch(http, image["id"], [{"op": "replace", "path": "/locations",
                                          "value": value}])

    assert replace(locations).status_code == 200  # the same: nothing changes
    locations[0]["metadata"]["date"] = "2015-10-15"
    assert replace(locations).json()["locations"] == locations  # metadata may change
    assert_error(replace([locations[0]]), 400)  # not a way to delete one
    assert_error(replace([locations[0], {"url": url + "#other", "metadata": {}}]), 400)
    assert_error(replace([locations[0], locations[0]]), 400)
    assert show(http, image["id"])["locations"] == locations  # the failures changed nothing
    assert_error(add(http, image["id"], url), 409)  # already there

    resp = patch(http, image["id"], [{"op": "remove", "path": "/locations/0"}])
    assert resp.status_code == 200, resp.text
    assert [loc["url"] for loc in resp.json()["locations"]] == [url + "#new"]
    assert download(http, image["id"]) == data
    assert_error(patch(http, image["id"], [{"op": "remove", "path": "/locations/0"}]), 403)
    assert_error(patch(http, image["id"], [{"op": "remove", "path": "/locations/5"}]), 400)
    assert len(show(http, image["id"])["locations"]) == 1


def test_removing_a_stored_copy_deletes_its_bytes(http, site, remote):
    data = os.urandom(20_000)
    image = create(http)
    assert upload(http, image["id"], data).status_code == 204
    assert show(http, image["id"])["locations"] == [
        {"url": f"fast://{image['id']}", "metadata": {"store": "fast"}}]
    assert add(http, image["id"], publish(remote, data)).status_code == 200
    files = [p for p in (site.data_dir.parent / "fast").rglob("*") if p.is_file()]
    assert any(image["id"] in p.name for p in files)
    resp = patch(http, image["id"], [{"op": "remove", "path": "/locations/0"}])
    assert resp.status_code == 200, resp.text
    assert resp.json()["stores"] == "web"
    assert not [p for p in (site.data_dir.parent / "fast").rglob("*")
                if p.is_file() and image["id"] in p.name]
    assert download(http, image["id"]) == data


def test_validation_data_is_recorded_and_must_agree_afterwards(http, remote):
    data = os.urandom(5_000)
    url = publish(remote, data)
    image = create(http)
    given = {"checksum": "1" * 32, "os_hash_algo": "sha512", "os_hash_value": "deadbeef" * 16}
    resp = add(http, image["id"], url, validation_data=given)
    assert resp.status_code == 200, resp.text
    image = resp.json()
    assert {k: image[k] for k in given} == given and "validation_data" not in json.dumps(image)
    # a second location must say the same
    for key, other in (("checksum", "2" * 32), ("os_hash_value", "beefdead" * 16),
                       ("os_hash_algo", "sha256")):
        assert_error(add(http, image["id"], url + "#2", validation_data={**given, key: other}),
                     409)
    assert add(http, image["id"], url + "#2", validation_data=given).status_code == 200
    after = show(http, image["id"])
    assert len(after["locations"]) == 2 and {k: after[k] for k in given} == given


@pytest.mark.parametrize("value", [
    {"url": "gopher://info.cern.ch", "metadata": {}},
    {"url": "file:///etc/passwd", "metadata": {}},
    {"url": "http://user:secret@127.0.0.1/x", "metadata": {}},
    {"url": "http://127.0.0.1:1/nothing-listens-here", "metadata": {}},
    {"url": 42, "metadata": {}},
    {"url": "http://127.0.0.1/x", "metadata": "not an object"},
    {"url": "http://127.0.0.1/x", "metadata": {}, "surprise": 1},
    {"url": "http://127.0.0.1/" + "x" * 3000, "metadata": {}},
    {"url": "http://127.0.0.1/\ud800", "metadata": {}},  # a lone surrogate
    {"url": "http://127.0.0.1/x", "metadata": {}, "validation_data": []},
])
def test_a_bad_location_is_400_and_changes_nothing(http, value):
    image = create(http)
    body = json.dumps([{"op": "add", "path": "/locations/-", "value": value}])  # \u escapes
    resp = http.patch(f"/v2/images/{image['id']}", content=body.encode(), headers=PATCH21)
    assert_error(resp, 400)
    after = show(http, image["id"])
    assert after["status"] == "queued" and after["locations"] == []


def test_a_missing_file_and_bad_paths_are_400(http, remote):
    image = create(http)
    assert_error(add(http, image["id"], f"{remote[0]}/no-such-file"), 400)
    for op in ({"op": "add", "path": "/locations/3", "value": {"url": "http://x/", "metadata": {}}},
               {"op": "remove", "path": "/locations/-"},
               {"op": "replace", "path": "/locations/0", "value": {}},
               {"op": "move", "from": "/locations/0", "path": "/locations/1"},
               {"op": "remove", "path": "/locations/\u00b2"},  # a digit, but not 0-9
               {"op": "remove", "path": "/locations/" + "9" * 5000},
               {"op": "add", "path": "/locations"}):
        assert_error(patch(http, image["id"], [op]), 400)
    assert show(http, image["id"])["status"] == "queued"


def test_only_the_owner_or_an_admin_changes_locations(http, remote):
    owner, other = as_project(new_project()), as_project(new_project())
    image = create(http, headers=owner, visibility="community")
    url = publish(remote, b"public data")
    assert_error(add(http, image["id"], url, headers=other), 403)
    assert add(http, image["id"], url, headers=owner).status_code == 200
    # others see the locations of an image they see; admins may list them too
    assert show(http, image["id"], other)["locations"][0]["url"] == url
    listed = http.get(f"/v2/images/{image['id']}/locations")
    assert listed.status_code == 200 and listed.json() == [
        {"url": url, "metadata": {"store": "web"}}]


def test_without_show_multiple_locations_they_are_neither_shown_nor_changed(tmp_path, remote):
    server = start(tmp_path, show_multiple_locations=False)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            image = create(client)
            assert "locations" not in image
            assert_error(add(client, image["id"], publish(remote, b"x")), 403)
            member = as_project(new_project())
            assert_error(client.get(f"/v2/images/{image['id']}/locations",
                                    headers=member), 404)  # not even visible to them
            mine = create(client, headers=member)
            assert_error(client.get(f"/v2/images/{mine['id']}/locations", headers=member),
                         403)
            assert client.get(f"/v2/images/{image['id']}/locations").json() == []  # admin
    finally:
        server.stop()


# -- POST /v2/images/{id}/locations (v2.17) ---------------------------------------------------

def post_location(http: httpx.Client, image_id: str, url: str,
                  validation_data: dict[str, str] | None = None) -> httpx.Response:
    return http.post(f"/v2/images/{image_id}/locations",
                     json={"url": url, "validation_data": validation_data or {}})


def test_v2_17_is_advertised(http):
    versions = {v["id"]: v["status"] for v in http.get("/versions").json()["versions"]}
    assert versions["v2.17"] == "CURRENT" and versions["v2.16"] == "SUPPORTED"


def test_new_location_with_matching_validation_data_activates_once_verified(http, remote):
    data = os.urandom(300_000)
    url = publish(remote, data)
    image = create(http)
    sha256 = hashlib.sha256(data).hexdigest()
    resp = post_location(http, image["id"], url, {"os_hash_algo": "sha256",
                                                  "os_hash_value": sha256})
    assert resp.status_code == 202 and resp.content == b""
    [task] = tasks_done(http, image["id"])
    assert (task["type"], task["status"]) == ("location_import", "success"), task
    assert task["input"]["loc_url"] == url
    image = show(http, image["id"])
    assert image["status"] == "active" and image["size"] == len(data)
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha256", sha256)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["stores"] == "web"
    assert download(http, image["id"]) == data


def test_new_location_whose_data_does_not_match_fails_and_leaves_the_image_queued(http, remote):
    data = os.urandom(50_000)
    url = publish(remote, data)
    image = create(http)
    resp = post_location(http, image["id"], url, {"os_hash_algo": "sha512",
                                                  "os_hash_value": "beefdead" * 16})
    assert resp.status_code == 202
    [task] = tasks_done(http, image["id"])
    assert task["status"] == "failure" and "does not match" in task["message"], task
    image = show(http, image["id"])
    assert image["status"] == "queued"
    assert (image["checksum"], image["os_hash_algo"], image["os_hash_value"], image["size"]) \
        == (None, None, None, None)
    assert image["locations"] == [] and "stores" not in image
    # nothing is left half done: the image takes data again
    assert upload(http, image["id"], data).status_code == 204
    assert download(http, image["id"]) == data


def test_new_location_without_validation_data_is_active_at_once_then_hashed(http, remote):
    data = os.urandom(200_000)
    url = publish(remote, data)
    image = create(http)
    assert post_location(http, image["id"], url).status_code == 202
    now = show(http, image["id"])
    assert now["status"] == "active" and now["os_hash_algo"] == "sha512"
    assert now["size"] == len(data)
    [task] = tasks_done(http, image["id"])
    assert task["status"] == "success", task
    image = show(http, image["id"])
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()


@pytest.mark.parametrize("validation", [
    {"os_hash_algo": "sha512", "os_hash_value": "dbc9e0f80d131e64b94913a7b40bb5"},  # short
    {"os_hash_value": hashlib.sha512(b"").hexdigest()},  # no algorithm
    {"os_hash_algo": "sha123", "os_hash_value": hashlib.sha512(b"").hexdigest()},
    {"os_hash_algo": "sha512", "os_hash_value": hashlib.sha256(b"").hexdigest()},
    {"os_hash_algo": "sha256", "os_hash_value": "z" * 64},  # not hex
    {"checksum": "0" * 32},  # not one of the new API's keys
])
def test_new_location_with_bad_validation_data_is_400(http, remote, validation):
    image = create(http)
    assert_error(post_location(http, image["id"], publish(remote, b"x"), validation), 400)
    assert show(http, image["id"])["status"] == "queued"
    assert http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"] == []


def test_new_location_needs_a_queued_image_of_its_owner(http, remote):
    url = publish(remote, b"data")
    done = create(http)
    assert upload(http, done["id"], b"data").status_code == 204
    assert_error(post_location(http, done["id"], url), 409)
    owner = as_project(new_project())
    theirs = create(http, headers=owner, visibility="community")
    resp = http.post(f"/v2/images/{theirs['id']}/locations", json={"url": url},
                     headers=as_project(new_project()))
    assert_error(resp, 403)
    assert_error(post_location(http, theirs["id"], "ftp://example.com/x"), 400)
    assert_error(http.post(f"/v2/images/{theirs['id']}/locations", json=["not", "an object"]),
                 400)


def test_deleting_the_image_while_its_data_is_hashed_stops_the_hashing(http, remote):
    image = create(http)
    assert post_location(http, image["id"], f"{remote[0]}/slow").status_code == 202
    assert show(http, image["id"])["status"] == "active"
    [task] = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
    time.sleep(1)
    assert http.get(f"/v2/tasks/{task['id']}").json()["status"] == "processing"
    assert http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert_error(http.get(f"/v2/images/{image['id']}"), 404)
    # the task ends within seconds instead of reading the source to its end (a minute)
    started = time.monotonic()
    while (task := http.get(f"/v2/tasks/{task['id']}").json())["status"] == "processing":
        assert time.monotonic() - started < 30, task
        time.sleep(0.2)
    assert task["status"] == "failure" and "deleted" in task["message"], task


def test_without_do_secure_hash_nothing_is_read(tmp_path, remote):
    server = start(tmp_path, do_secure_hash=False)
    data = os.urandom(1000)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            image = create(client)
            given = {"os_hash_algo": "sha256", "os_hash_value": "ab" * 32}
            assert post_location(client, image["id"], publish(remote, data),
                                 given).status_code == 202
            [task] = tasks_done(client, image["id"])
            assert task["status"] == "success"
            image = show(client, image["id"])
            assert image["status"] == "active" and image["size"] == len(data)
            assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha256", "ab" * 32)
            assert image["checksum"] is None
            plain = create(client)
            assert post_location(client, plain["id"], publish(remote, data)).status_code == 202
            plain = show(client, plain["id"])
            assert plain["status"] == "active" and plain["size"] == len(data)
            assert plain["os_hash_value"] is None and plain["checksum"] is None
    finally:
        server.stop()


def test_python_glanceclient_location_calls(site, http, remote):
    """python-glanceclient's location-add/-update/-delete (PATCH) and add-location /
    location-list (v2.17) against the server."""
    import glanceclient

    data = os.urandom(4096)
    url = publish(remote, data)
    gc = glanceclient.Client("2", endpoint=site.url, token="x")
    image = gc.images.create(name="gc-locations", disk_format="raw", container_format="bare")
    image = gc.images.add_location(image.id, url, {"foo": "bar"})
    assert image.status == "active" and image.size == len(data)
    image = gc.images.add_location(image.id, url + "#2", {})
    assert [loc["url"] for loc in image.locations] == [url, url + "#2"]
    image = gc.images.update_location(image.id, url + "#2", {"speed": "fast"})
    assert image.locations[1]["metadata"] == {"speed": "fast", "store": "web"}
    gc.images.delete_locations(image.id, {url})
    assert [loc["url"] for loc in gc.images.get(image.id).locations] == [url + "#2"]
    assert download(http, image.id) == data

    other = gc.images.create(name="gc-add-location", disk_format="raw",
                             container_format="bare")
    gc.images.add_image_location(other.id, url, {"os_hash_algo": "sha256",
                                                 "os_hash_value": hashlib.sha256(data)
                                                 .hexdigest()})
    [task] = tasks_done(http, other.id)
    assert task["status"] == "success", task
    locations = gc.images.get_image_locations(other.id)
    assert list(locations) == [{"url": url, "metadata": {"store": "web"}}]
    assert gc.images.get(other.id).checksum == hashlib.md5(data).hexdigest()


def test_our_glance_location_commands(site, http, remote, tmp_path):
    """Our `glance` CLI: location-add, location-update, location-delete, add-location."""
    from tests.functional._cli import OURS, clean_env, failed, ok, record, run

    def glance(*args: str):
        return run(OURS, "--os-image-url", site.url, *args, env=clean_env(tmp_path))

    data = os.urandom(3000)
    url = publish(remote, data)
    image = create(http)
    shown = record(ok(glance("location-add", "--url", url, "--metadata", '{"rack": "r1"}',
                             "--checksum", hashlib.md5(data).hexdigest(), image["id"])))
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(data).hexdigest()
    ok(glance("location-add", "--url", url + "#2", image["id"]))
    ok(glance("location-update", "--url", url + "#2", "--metadata", '{"rack": "r2"}',
              image["id"]))
    assert [(loc["url"], loc["metadata"]) for loc in show(http, image["id"])["locations"]] == [
        (url, {"rack": "r1", "store": "web"}), (url + "#2", {"rack": "r2", "store": "web"})]
    assert "not a valid JSON object" in failed(glance("location-update", "--url", url,
                                                      "--metadata", "[1]", image["id"]), 2)
    assert "no location" in failed(glance("location-delete", "--url", url + "#3",
                                          image["id"]))
    ok(glance("location-delete", "--url", url, image["id"]))
    assert [loc["url"] for loc in show(http, image["id"])["locations"]] == [url + "#2"]
    assert download(http, image["id"]) == data

    queued = create(http)
    digest = hashlib.sha256(data).hexdigest()
    ok(glance("add-location", "--url", url, "--validation-data",
              json.dumps({"os_hash_algo": "sha256", "os_hash_value": digest}), queued["id"]))
    [task] = tasks_done(http, queued["id"])
    assert task["status"] == "success", task
    assert show(http, queued["id"])["os_hash_value"] == digest
