"""Images API v2 interoperable import: stage + glance-direct, web-download, image tasks
(raw HTTP, the glance CLI and openstacksdk)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

import httpx
import pytest

from tests.conftest import start_server
from tests.functional._v2 import OCTET, assert_error, create, md5, show
from tests.functional.test_v2_clients import GLANCE, table


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    """A server whose web-download may fetch from loopback (where the test data lives)."""
    srv = start_server(tmp_path_factory.mktemp("import") / "data",
                       ["--web-download-allow-private", "true"])
    yield srv
    srv.stop()


@pytest.fixture
def oc(open_server):
    with httpx.Client(base_url=open_server.url, timeout=60) as client:
        yield client


def staged_files(server) -> list:
    staging = server.data_dir / "staging"
    return sorted(p for p in staging.rglob("*") if p.is_file()) if staging.exists() else []


def wait_status(http, image_id: str, *wanted: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    image = show(http, image_id)
    while image["status"] not in wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        image = show(http, image_id)
    return image


def finished_tasks(http, image_id: str, timeout: float = 20) -> list:
    """The image's tasks once none is pending or processing (an image turns active when its
    data is committed; the import task ends a moment later, after its bookkeeping)."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if all(t["status"] in ("success", "failure") for t in tasks) or \
                time.monotonic() > deadline:
            return tasks
        time.sleep(0.05)


def stage(http, image_id: str, data: bytes, headers=None) -> httpx.Response:
    return http.put(f"/v2/images/{image_id}/stage", content=data,
                    headers={**OCTET, **(headers or {})})


def start_import(http, image_id: str, body: dict, headers=None) -> httpx.Response:
    return http.post(f"/v2/images/{image_id}/import", json=body, headers=headers)


def test_stage_then_glance_direct_import(open_server, oc):
    data = os.urandom(1024 * 1024 + 5)
    image = create(oc)
    resp = stage(oc, image["id"], data)
    assert resp.status_code == 204 and resp.content == b""
    assert show(oc, image["id"])["status"] == "uploading"
    assert len(staged_files(open_server)) == 1
    assert_error(stage(oc, image["id"], data), 409)
    assert_error(oc.put(f"/v2/images/{image['id']}/file", content=b"x", headers=OCTET), 409)
    resp = start_import(oc, image["id"], {"method": {"name": "glance-direct"}})
    assert resp.status_code == 202 and resp.content == b""
    done = wait_status(oc, image["id"], "active", "queued")
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == md5(data) and done["os_hash_algo"] == "sha512"
    assert oc.get(f"/v2/images/{image['id']}/file").content == data
    assert staged_files(open_server) == []
    tasks = finished_tasks(oc, image["id"])
    assert [t["status"] for t in tasks] == ["success"]
    # the task remembers the request that started it (Tempest compares them)
    assert tasks[0]["request_id"] == resp.headers["x-openstack-request-id"]
    assert tasks[0]["type"] == "api_image_import" and tasks[0]["image_id"] == image["id"]
    assert_error(start_import(oc, image["id"], {"method": {"name": "glance-direct"}}), 409)


def test_stage_failures_leave_queued_and_nothing_staged(open_server, oc):
    image = create(oc)
    assert_error(oc.put(f"/v2/images/{image['id']}/stage", content=b"x",
                        headers={"Content-Type": "text/plain"}), 415)
    assert_error(stage(oc, image["id"], b"12345", {"x-openstack-image-size": "9"}), 400)
    assert show(oc, image["id"])["status"] == "queued"
    assert staged_files(open_server) == []
    assert_error(stage(oc, str(uuid.uuid4()), b"x"), 404)


def test_deleting_an_uploading_image_drops_staged_data(open_server, oc):
    image = create(oc)
    assert stage(oc, image["id"], b"staged").status_code == 204
    assert oc.delete(f"/v2/images/{image['id']}").status_code == 204
    assert staged_files(open_server) == []


@pytest.mark.parametrize("body, status", [
    ({"method": {"name": "glance-direct"}}, 409),   # nothing staged
    ({"method": {"name": "teleport"}}, 400),
    ({"method": {"name": "copy-image"}}, 409),      # copy-image needs an active image
    ({"method": "glance-direct"}, 400),
    ({}, 400),
    ({"method": {"name": "web-download"}}, 400),     # no uri
    ({"method": {"name": "web-download", "uri": "ftp://example.com/x"}}, 400),
    # URLs that cannot be valid are refused up front
    ({"method": {"name": "web-download", "uri": "http://"}}, 400),
    ({"method": {"name": "web-download", "uri": "http:///no/host"}}, 400),
    ({"method": {"name": "web-download", "uri": "http://example.com:99999/x"}}, 400),
    ({"method": {"name": "web-download", "uri": "http://example.com/a b"}}, 400),
    ({"method": {"name": "web-download", "uri": "example.com/x"}}, 400),
    ({"method": {"name": "web-download", "uri": 42}}, 400),
    ({"method": {"name": "web-download", "uri": "http://x"}, "stores": ["nope"]}, 400),
    ({"method": {"name": "web-download", "uri": "http://x"}, "all_stores": True,
      "stores": ["file"]}, 400),
])
def test_import_request_errors(open_server, oc, body, status):
    image = create(oc)
    assert_error(start_import(oc, image["id"], body), status)
    assert show(oc, image["id"])["status"] == "queued"


def test_import_needs_formats(open_server, oc):
    image = oc.post("/v2/images", json={"name": "no-formats"}).json()
    assert_error(start_import(oc, image["id"], {"method": {
        "name": "web-download", "uri": f"{open_server.url}/versions"}}), 409)


def test_store_header_and_stores_both_is_400(open_server, oc):
    image = create(oc)
    assert_error(start_import(oc, image["id"], {"method": {"name": "web-download",
                                                           "uri": f"{open_server.url}/"},
                                                "stores": ["file"]},
                              {"X-Image-Meta-Store": "file"}), 400)


def test_web_download_fetches_through_the_pipeline(open_server, oc):
    data = os.urandom(300_000)
    source = create(oc)
    assert oc.put(f"/v2/images/{source['id']}/file", content=data,
                  headers=OCTET).status_code == 204
    image = create(oc)
    resp = start_import(oc, image["id"], {"method": {
        "name": "web-download", "uri": f"{open_server.url}/v2/images/{source['id']}/file"}},
        {"X-Image-Meta-Store": "file"})
    assert resp.status_code == 202, resp.text
    done = wait_status(oc, image["id"], "active", "queued")
    assert done["status"] == "active" and done["checksum"] == md5(data)
    assert done["stores"] == "file"
    assert oc.get(f"/v2/images/{image['id']}/file").content == data


def test_web_download_failure_returns_image_to_queued(open_server, oc):
    image = create(oc)
    resp = start_import(oc, image["id"], {"method": {
        "name": "web-download", "uri": f"{open_server.url}/v2/images/{uuid.uuid4()}/file"}})
    assert resp.status_code == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tasks = oc.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
        if tasks and tasks[0]["status"] == "failure":
            break
        time.sleep(0.05)
    assert tasks[0]["status"] == "failure" and tasks[0]["message"]
    assert wait_status(oc, image["id"], "queued")["status"] == "queued"
    image = show(oc, image["id"])
    assert image["size"] is None
    # reported as upstream does: the store in os_glance_failed_import, the reason in the task
    assert image["os_glance_failed_import"] == "file"
    assert image["os_glance_importing_to_stores"] == ""
    assert "file" in tasks[0]["message"] and "404" in tasks[0]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254",
                                  "[::1]", "192.168.0.1"])
def test_web_download_refuses_private_addresses_by_default(server, http, host):
    image = create(http)
    assert_error(start_import(http, image["id"], {"method": {
        "name": "web-download", "uri": f"http://{host}:{server.port}/versions"}}), 400)
    assert show(http, image["id"])["status"] == "queued"


# --------------------------------------------------------------------------- real clients


def test_cli_create_via_import_and_tasks(open_server, tmp_path):
    home = tmp_path / "home"
    image_file = tmp_path / "img"
    image_file.write_bytes(os.urandom(1024 * 1024 + 3))

    def cli(*args: str) -> str:
        cmd = [*GLANCE, "--os-image-url", open_server.url, "--os-auth-token", "x",
               "--os-image-api-version", "2", *args]
        result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *cmd],
                                env={**os.environ, "HOME": str(home)}, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    with httpx.Client(base_url=open_server.url, timeout=60) as oc:
        made = table(cli("image-create-via-import", "--name", "via-import", "--disk-format",
                         "raw", "--container-format", "bare", "--import-method",
                         "glance-direct", "--file", str(image_file)))
        assert wait_status(oc, made["id"], "active")["size"] == image_file.stat().st_size
        finished_tasks(oc, made["id"])
        assert "Import complete" in cli("image-tasks", made["id"])
        web = table(cli("image-create-via-import", "--name", "via-web", "--disk-format", "raw",
                        "--container-format", "bare", "--import-method", "web-download",
                        "--uri", f"{open_server.url}/v2/images/{made['id']}/file"))
        assert wait_status(oc, web["id"], "active")["checksum"] == md5(image_file.read_bytes())
        staged = table(cli("image-create", "--name", "to-stage", "--disk-format", "raw",
                           "--container-format", "bare"))
        cli("image-stage", "--file", str(image_file), staged["id"])
        assert show(oc, staged["id"])["status"] == "uploading"
        cli("image-import", "--import-method", "glance-direct", staged["id"])
        assert wait_status(oc, staged["id"], "active")["status"] == "active"


def test_sdk_import_paths(open_server, tmp_path):
    import openstack
    path = tmp_path / "img"
    path.write_bytes(os.urandom(500_000))
    conn = openstack.connection.Connection(auth_type="none",
                                           image_endpoint_override=open_server.url + "/v2")
    with httpx.Client(base_url=open_server.url, timeout=60) as oc:
        image = conn.image.create_image(name="sdk-import", filename=str(path),
                                        disk_format="raw", container_format="bare",
                                        use_import=True)
        assert wait_status(oc, image.id, "active")["checksum"] == md5(path.read_bytes())
        staged = conn.image.create_image(name="sdk-stage", disk_format="raw",
                                         container_format="bare", allow_duplicates=True)
        conn.image.stage_image(staged, filename=str(path))
        conn.image.import_image(staged, method="glance-direct")
        assert wait_status(oc, staged.id, "active")["status"] == "active"
        web = conn.image.create_image(name="sdk-web", disk_format="raw",
                                      container_format="bare", allow_duplicates=True)
        conn.image.import_image(web, method="web-download",
                                uri=f"{open_server.url}/v2/images/{image.id}/file")
        assert wait_status(oc, web.id, "active")["size"] == 500_000
        finished_tasks(oc, web.id)
        assert [t.status for t in conn.image.image_tasks(web)] == ["success"]
    conn.close()


def test_info_usage_counts_project_images_and_staged_bytes(open_server, oc):
    project = {"X-Project-Id": "usage-" + uuid.uuid4().hex[:8], "X-Roles": "member"}
    empty = oc.get("/v2/info/usage", headers=project)
    assert empty.status_code == 200
    assert {k: v["usage"] for k, v in empty.json()["usage"].items()} == {
        "image_size_total": 0, "image_stage_total": 0, "image_count_total": 0,
        "image_count_uploading": 0}
    image = create(oc, headers=project)
    assert oc.put(f"/v2/images/{image['id']}/file", content=b"x" * (3 * 1024 * 1024),
                  headers={**OCTET, **project}).status_code == 204
    staged = create(oc, headers=project)
    assert stage(oc, staged["id"], b"y" * 1024, project).status_code == 204
    usage = oc.get("/v2/info/usage", headers=project).json()["usage"]
    assert usage["image_size_total"] == {"limit": -1, "usage": 3}
    assert usage["image_stage_total"]["usage"] == 1
    assert usage["image_count_total"]["usage"] == 2
    assert usage["image_count_uploading"]["usage"] == 1
