"""glance-download: a glance-api imports an image from another region's glance-api, found
in a real Keystone's catalogue and read through its v2 API with the caller's token — its
data, formats and the properties glance_download_properties names (two real servers)."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import KeystoneServer, RunningServer, start_server
from tests.functional._v2 import OCTET, assert_error, md5


@dataclass
class Regions:
    keystone: KeystoneServer
    source: RunningServer  # the other region's image service
    target: RunningServer  # the one that imports
    region: str            # where the catalogue lists `source`

    def client(self, server: RunningServer) -> httpx.Client:
        token = self.keystone.token("glance", "glance-secret", "images")
        return httpx.Client(base_url=server.url, timeout=60, headers={"X-Auth-Token": token})


@pytest.fixture(scope="module")
def regions(keystone_server: KeystoneServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    base: Path = tmp_path_factory.mktemp("glance-download")
    args = ["--auth-mode", "keystone", "--keystone-url", keystone_server.url]
    source = start_server(base / "source", args)
    target = start_server(base / "target", args)
    ks = keystone_server
    region = f"Region-{uuid.uuid4().hex[:6]}"
    ks.call("POST", "/regions", {"region": {"id": region}})
    service_id = ks.call("POST", "/services", {"service": {
        "type": "image", "name": "glance-" + region}})["service"]["id"]
    ks.call("POST", "/endpoints", {"endpoint": {
        "service_id": service_id, "interface": "public", "region_id": region,
        "url": source.url}})
    try:
        yield Regions(ks, source, target, region)
    finally:
        ks.call("DELETE", f"/services/{service_id}")
        ks.call("DELETE", f"/regions/{region}")
        source.stop()
        target.stop()


def create(http: httpx.Client, **body: Any) -> dict[str, Any]:
    body = {"name": "gd", "disk_format": "raw", "container_format": "bare", **body}
    resp = http.post("/v2/images", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()


def download_import(http: httpx.Client, image_id: str, **method: Any) -> httpx.Response:
    return http.post(f"/v2/images/{image_id}/import",
                     json={"method": {"name": "glance-download", **method}})


def task_done(http: httpx.Client, image_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return tasks[0]
        assert time.monotonic() < deadline, tasks
        time.sleep(0.1)


def test_imports_data_formats_and_chosen_properties(regions: Regions) -> None:
    data = os.urandom(1024 * 1024 + 7)
    with regions.client(regions.source) as src, regions.client(regions.target) as dst:
        info = dst.get("/v2/info/import").json()["import-methods"]["value"]
        assert "glance-download" in info
        remote = create(src, hw_cpu_cores="5", os_distro="rhel", speed="88mph",
                        **{"trait:STORAGE_DISK_SSD": "required"})
        assert src.put(f"/v2/images/{remote['id']}/file", content=data,
                       headers=OCTET).status_code == 204
        image = create(dst, disk_format="iso", container_format="ovf", hw_cpu_cores="1",
                       os_distro="windows")
        resp = download_import(dst, image["id"], glance_image_id=remote["id"],
                               glance_region=regions.region,
                               glance_service_interface="public")
        assert resp.status_code == 202, resp.text
        task = task_done(dst, image["id"])
        assert task["status"] == "success", task
        got = dst.get(f"/v2/images/{image['id']}").json()
        assert got["status"] == "active" and got["checksum"] == md5(data)
        assert (got["disk_format"], got["container_format"]) == ("raw", "bare")
        assert got["hw_cpu_cores"] == "5" and got["os_distro"] == "rhel"
        assert got["trait:STORAGE_DISK_SSD"] == "required" and "speed" not in got
        assert dst.get(f"/v2/images/{image['id']}/file").content == data
        method = task["input"]["import_req"]["method"]
        assert method["glance_image_id"] == remote["id"]
        assert method["glance_region"] == regions.region


def test_an_id_that_is_no_uuid_is_400(regions: Regions) -> None:
    with regions.client(regions.target) as dst:
        image = create(dst)
        resp = download_import(dst, image["id"], glance_image_id="foo",
                               glance_region=regions.region)
        assert_error(resp, 400)
        assert "image id does not look like a UUID" in resp.text
        assert dst.get(f"/v2/images/{image['id']}").json()["status"] == "queued"


@pytest.mark.parametrize("where", ["bad-region", "missing-image"])
def test_a_failed_download_requeues_and_keeps_properties(regions: Regions, where: str) -> None:
    with regions.client(regions.target) as dst:
        image = create(dst, hw_cpu_cores="1", os_distro="windows")
        region = "not a region" if where == "bad-region" else regions.region
        interface = "not an interface" if where == "bad-region" else "public"
        resp = download_import(dst, image["id"], glance_image_id=str(uuid.uuid4()),
                               glance_region=region, glance_service_interface=interface)
        assert resp.status_code == 202, resp.text
        task = task_done(dst, image["id"])
        assert task["status"] == "failure" and task["message"]
        got = dst.get(f"/v2/images/{image['id']}").json()
        assert got["status"] == "queued"
        assert got["hw_cpu_cores"] == "1" and got["os_distro"] == "windows"


def test_needs_keystone(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")  # noauth: no catalogue to find regions in
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            image = create(http)
            assert_error(download_import(http, image["id"], glance_image_id=str(uuid.uuid4()),
                                         glance_region="RegionOne"), 400)
    finally:
        server.stop()
