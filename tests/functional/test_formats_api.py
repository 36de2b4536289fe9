"""Format inspection of uploads on a real server: v1, v2, import and the Python client.

Data that is not the declared disk_format, or an unsafe disk, is answered 415 with the error
envelope; the image is left in its failed status (v1 killed, v2 queued) and its bytes are gone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from glance.client import Client
from glance.common import exception
from tests.conftest import RunningServer, start_server
from tests.functional import _v1, _v2


def qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout


@pytest.fixture(scope="module")
def disks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes | int]:
    assert shutil.which("qemu-img") and shutil.which("genisoimage"), \
        "qemu-img and genisoimage are required: run scripts/test (installs them)"
    d = tmp_path_factory.mktemp("disks")
    qemu_img("create", "-q", "-f", "qcow2", str(d / "good.qcow2"), "48M")
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(d / "good.qcow2"), "-F", "qcow2",
             str(d / "backed.qcow2"))
    (d / "iso").mkdir()
    (d / "iso" / "readme").write_text("hello\n")
    subprocess.run(["genisoimage", "-quiet", "-o", str(d / "disk.iso"), str(d / "iso")],
                   check=True, timeout=60)
    info = json.loads(qemu_img("info", "--output=json", str(d / "good.qcow2")))
    return {"good": (d / "good.qcow2").read_bytes(), "backed": (d / "backed.qcow2").read_bytes(),
            "iso": (d / "disk.iso").read_bytes(), "virtual_size": info["virtual-size"]}


def files_of(server: RunningServer, image_id: str) -> list[Path]:
    """What the file store holds for ``image_id``, temporary parts included."""
    return [p for p in server.stored_files() if image_id in p.name]


def assert_415(resp: httpx.Response, *mentions: str) -> None:
    error = _v1.assert_error(resp, 415, *mentions)
    assert error["title"] == "Unsupported Media Type"


def test_v2_qcow2_declared_raw_is_refused(server: RunningServer, http: httpx.Client,
                                          disks: dict) -> None:
    image = _v2.create(http, disk_format="raw")
    resp = _v2.upload(http, image["id"], disks["good"])
    assert_415(resp, "qcow2", "raw")
    after = _v2.show(http, image["id"])
    assert after["status"] == "queued"
    assert after["size"] is None and after["virtual_size"] is None and after["checksum"] is None
    assert files_of(server, image["id"]) == []
    # the image can still take good data
    assert _v2.upload(http, image["id"], b"now really raw").status_code == 204
    assert _v2.show(http, image["id"])["status"] == "active"


def test_v1_qcow2_declared_raw_is_refused(server: RunningServer, http: httpx.Client,
                                          disks: dict) -> None:
    before = server.stored_files()
    name = _v1.unique()
    resp = _v1.create(http, {"name": name, "disk_format": "raw", "container_format": "bare"},
                      data=disks["good"])
    assert_415(resp, "qcow2")
    assert server.stored_files() == before
    image = _v1.create_ok(http, {"disk_format": "raw"})
    resp = http.put(f"/v1/images/{image['id']}", content=disks["good"], headers=_v1.OCTET)
    assert_415(resp, "qcow2")
    assert _v1.status_of(http, image["id"]) == "killed"
    assert files_of(server, image["id"]) == []


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_qcow2_with_backing_file_is_refused(server: RunningServer, http: httpx.Client,
                                            disks: dict, api: str) -> None:
    if api == "v2":
        image = _v2.create(http, disk_format="qcow2")
        assert_415(_v2.upload(http, image["id"], disks["backed"]), "backing file")
        assert _v2.show(http, image["id"])["status"] == "queued"
    else:
        image = _v1.create_ok(http, {"disk_format": "qcow2"})
        resp = http.put(f"/v1/images/{image['id']}", content=disks["backed"],
                        headers=_v1.OCTET)
        assert_415(resp, "backing file")
        assert _v1.status_of(http, image["id"]) == "killed"
    assert files_of(server, image["id"]) == []


def test_good_qcow2_becomes_active_with_its_virtual_size(http: httpx.Client,
                                                         disks: dict) -> None:
    image = _v2.active(http, disks["good"], disk_format="qcow2")
    assert image["status"] == "active" and image["size"] == len(disks["good"])
    assert image["virtual_size"] == disks["virtual_size"]
    v1 = _v1.create_ok(http, {"disk_format": "qcow2"}, data=disks["good"])
    assert v1["status"] == "active"
    assert int(_v1.image_meta(_v1.head(http, v1["id"]))["virtual_size"]) == \
        disks["virtual_size"]


def test_raw_virtual_size_and_iso_as_raw(http: httpx.Client, disks: dict) -> None:
    assert _v2.active(http, b"plain bytes")["virtual_size"] == len(b"plain bytes")
    iso = _v2.active(http, disks["iso"], disk_format="raw")
    assert iso["virtual_size"] == len(disks["iso"])
    assert _v2.active(http, disks["iso"], disk_format="iso")["status"] == "active"


@pytest.mark.parametrize("declared", ["qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"])
def test_bytes_that_are_not_the_declared_format(http: httpx.Client, declared: str) -> None:
    image = _v2.create(http, disk_format=declared)
    assert_415(_v2.upload(http, image["id"], b"some image data"), declared, "raw")
    assert _v2.show(http, image["id"])["status"] == "queued"


def test_formats_not_inspected_pass(http: httpx.Client, disks: dict) -> None:
    for body in ({"disk_format": "ploop"}, {"disk_format": "ami", "container_format": "ami"},
                 {"disk_format": "vmdk", "container_format": "ova"}):
        assert _v2.active(http, b"not a disk at all", **body)["status"] == "active"


def test_client_raises_invalid_disk_image(server: RunningServer, disks: dict) -> None:
    with Client("127.0.0.1", server.port) as client:
        with pytest.raises(exception.InvalidDiskImage, match="qcow2"):
            client.add_image({"name": _v1.unique(), "disk_format": "raw",
                              "container_format": "bare"}, disks["good"])
        image = client.add_image({"name": _v1.unique(), "disk_format": "qcow2",
                                  "container_format": "bare"}, disks["good"])
        assert image["status"] == "active"


def test_import_of_mismatched_data_fails_its_task(tmp_path: Path, disks: dict) -> None:
    srv = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as http:
            image = _v2.create(http, disk_format="raw")
            resp = http.put(f"/v2/images/{image['id']}/stage", content=disks["good"],
                            headers=_v2.OCTET)
            assert resp.status_code == 204
            resp = http.post(f"/v2/images/{image['id']}/import",
                             json={"method": {"name": "glance-direct"}})
            assert resp.status_code == 202
            deadline = time.monotonic() + 20
            tasks: list = []
            while time.monotonic() < deadline:
                tasks = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
                if tasks and tasks[0]["status"] in ("success", "failure"):
                    break
                time.sleep(0.05)
            assert tasks[0]["status"] == "failure" and "qcow2" in tasks[0]["message"]
            assert _v2.show(http, image["id"])["status"] == "queued"
            assert srv.stored_files() == []
    finally:
        srv.stop()


def test_inspection_off_accepts_anything(tmp_path: Path, disks: dict) -> None:
    srv = start_server(tmp_path / "data", env={"GLANCE_IMAGE_FORMAT_INSPECTION": "false"})
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as http:
            image = _v2.active(http, disks["good"], disk_format="raw")
            assert image["status"] == "active" and image["virtual_size"] is None
            image = _v2.active(http, disks["backed"], disk_format="qcow2")
            assert image["status"] == "active"
    finally:
        srv.stop()
