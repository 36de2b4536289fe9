"""Imports into several stores, as Tempest's image_import() asks (all_stores by default):
glance-direct and web-download accept ``stores``, ``all_stores`` and
``all_stores_must_succeed``, write into each store, report progress in
``os_glance_importing_to_stores`` and failures in ``os_glance_failed_import``; store weights
order the stores an image lists, the stores /v2/info/stores lists, and where downloads read
first. Against glance-api with three file stores (raw HTTP)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import OCTET, assert_error, create, md5, show

STORES = ("fast", "slow", "spare")
WEIGHTS = {"fast": 10, "slow": 30, "spare": 20}
BY_WEIGHT = "slow,spare,fast"


class Site:
    def __init__(self, server: RunningServer, dirs: dict[str, Path]) -> None:
        self.server, self.dirs = server, dirs

    def holding(self, image_id: str) -> set[str]:
        return {s for s, d in self.dirs.items() if d.is_dir() and (d / image_id).exists()}

    def staged(self) -> list[Path]:
        staging = self.server.data_dir / "staging"
        return [p for p in staging.rglob("*") if p.is_file()] if staging.exists() else []


def start_site(base: Path, weights: dict[str, int]) -> Site:
    dirs = {name: base / f"store-{name}" for name in STORES}
    text = '[glance]\ndefault_store = "fast"\nweb_download_allow_private = true\n\n'
    for name, d in dirs.items():
        text += (f'[stores.{name}]\ndriver = "file"\ndirectory = {json.dumps(str(d))}\n'
                 f'fsync = false\nweight = {weights.get(name, 0)}\n\n')
    (base / "glance.toml").write_text(text)
    return Site(start_server(base / "data", ["--config", str(base / "glance.toml")]), dirs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = start_site(tmp_path_factory.mktemp("import-stores"), WEIGHTS)
    yield s
    s.server.stop()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.server.url, timeout=60) as client:
        yield client


def staged_image(http: httpx.Client, data: bytes) -> dict[str, Any]:
    image = create(http)
    assert http.put(f"/v2/images/{image['id']}/stage", content=data,
                    headers=OCTET).status_code == 204
    return image


def start_import(http: httpx.Client, image_id: str, method: str = "glance-direct",
                 **body: Any) -> httpx.Response:
    name = {"name": method, **({"uri": body.pop("uri")} if "uri" in body else {})}
    return http.post(f"/v2/images/{image_id}/import", json={"method": name, **body})


def settled(http: httpx.Client, image_id: str, timeout: float = 30) -> tuple[dict, dict]:
    """The image and its newest task once that task has finished."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = http.get(f"/v2/images/{image_id}/tasks").json()["tasks"]
        if tasks and tasks[0]["status"] in ("success", "failure"):
            return show(http, image_id), tasks[0]
        assert time.monotonic() < deadline, tasks
        time.sleep(0.05)


def test_glance_direct_into_all_stores(site: Site, http: httpx.Client) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    image = staged_image(http, data)
    resp = start_import(http, image["id"], all_stores=True)
    assert resp.status_code == 202, resp.text
    image, task = settled(http, image["id"])
    assert task["status"] == "success", task
    assert image["status"] == "active" and image["checksum"] == md5(data)
    assert image["stores"] == BY_WEIGHT  # listed highest weight first
    assert image["os_glance_importing_to_stores"] == ""
    assert image["os_glance_failed_import"] == ""
    assert site.holding(image["id"]) == set(STORES)
    for d in site.dirs.values():
        assert (d / image["id"]).read_bytes() == data
    assert site.staged() == []
    assert task["input"]["import_req"]["stores"] == ["slow", "spare", "fast"]


def test_glance_direct_into_named_stores(site: Site, http: httpx.Client) -> None:
    data = os.urandom(100_000)
    image = staged_image(http, data)
    resp = start_import(http, image["id"], stores=["fast", "spare"])
    assert resp.status_code == 202, resp.text
    image, task = settled(http, image["id"])
    assert task["status"] == "success" and image["status"] == "active"
    assert image["stores"] == "spare,fast"
    assert site.holding(image["id"]) == {"fast", "spare"}
    assert http.get(f"/v2/images/{image['id']}/file").content == data


def test_web_download_into_all_stores(site: Site, http: httpx.Client) -> None:
    data = os.urandom(300_000)
    source = create(http)
    assert http.put(f"/v2/images/{source['id']}/file", content=data,
                    headers=OCTET).status_code == 204
    image = create(http)
    resp = start_import(http, image["id"], "web-download", all_stores=True,
                        uri=f"{site.server.url}/v2/images/{source['id']}/file")
    assert resp.status_code == 202, resp.text
    image, task = settled(http, image["id"])
    assert task["status"] == "success", task
    assert image["stores"] == BY_WEIGHT and image["checksum"] == md5(data)
    assert site.holding(image["id"]) == set(STORES)


@pytest.mark.parametrize("body", [
    {"stores": ["fast"], "all_stores": True},   # both
    {"stores": ["nope"]},                        # unknown store
    {"stores": ["http"]},                        # read-only store
    {"all_stores": "yes"},
])
def test_bad_store_requests_are_400(site: Site, http: httpx.Client, body: dict) -> None:
    image = staged_image(http, b"data")
    assert_error(start_import(http, image["id"], **body), 400)
    assert show(http, image["id"])["status"] == "uploading"


def test_info_stores_lists_weights_highest_first(site: Site, http: httpx.Client) -> None:
    stores = http.get("/v2/info/stores").json()["stores"]
    writable = [s for s in stores if s.get("read-only") != "true"]
    assert [s["id"] for s in writable] == ["slow", "spare", "fast"]
    assert {s["id"]: s["weight"] for s in writable} == WEIGHTS


def test_download_reads_the_highest_weight_first(site: Site, http: httpx.Client) -> None:
    data = os.urandom(50_000)
    image = staged_image(http, data)
    assert start_import(http, image["id"], stores=["fast", "slow"]).status_code == 202
    image, _ = settled(http, image["id"])
    (site.dirs["slow"] / image["id"]).write_bytes(b"y" * len(data))  # what slow serves now
    resp = http.get(f"/v2/images/{image['id']}/file")
    assert resp.content == b"y" * len(data)


# ------------------------------------------------------------------- a store that fails


@pytest.fixture
def broken_site(tmp_path: Path) -> Iterator[Site]:
    """Stores weighted spare > slow > fast, whose ``slow`` cannot be written (its directory
    replaced by a file)."""
    s = start_site(tmp_path, {"spare": 3, "slow": 2, "fast": 1})
    shutil.rmtree(s.dirs["slow"])
    s.dirs["slow"].write_bytes(b"not a directory")
    yield s
    s.server.stop()


def test_failed_store_is_reported_and_others_kept(broken_site: Site) -> None:
    with httpx.Client(base_url=broken_site.server.url, timeout=60) as http:
        data = os.urandom(10_000)
        image = staged_image(http, data)
        resp = start_import(http, image["id"], all_stores=True, all_stores_must_succeed=False)
        assert resp.status_code == 202
        image, task = settled(http, image["id"])
        assert task["status"] == "success", task
        assert image["status"] == "active" and image["stores"] == "spare,fast"
        assert image["os_glance_failed_import"] == "slow"
        assert image["os_glance_importing_to_stores"] == ""
        assert "slow" in task["message"]
        # with all_stores_must_succeed (the default), a failing store fails the task
        image = staged_image(http, data)
        assert start_import(http, image["id"], all_stores=True).status_code == 202
        image, task = settled(http, image["id"])
        assert task["status"] == "failure" and "slow" in task["message"]
        assert image["os_glance_failed_import"] == "slow"
        assert image["os_glance_importing_to_stores"] == ""


def test_first_store_failing_with_must_succeed_requeues(broken_site: Site) -> None:
    with httpx.Client(base_url=broken_site.server.url, timeout=60) as http:
        image = staged_image(http, b"some data")
        assert start_import(http, image["id"], stores=["slow", "fast"]).status_code == 202
        image, task = settled(http, image["id"])
        assert task["status"] == "failure" and "slow" in task["message"]
        assert image["status"] == "queued" and "stores" not in image
        assert image["os_glance_failed_import"] == "slow"
        assert image["os_glance_importing_to_stores"] == ""  # fast was skipped
        assert broken_site.holding(image["id"]) == set() and broken_site.staged() == []
        # without it, the next store takes the data
        image = staged_image(http, b"other data")
        assert start_import(http, image["id"], stores=["slow", "fast"],
                            all_stores_must_succeed=False).status_code == 202
        image, task = settled(http, image["id"])
        assert task["status"] == "success" and image["stores"] == "fast"
        assert image["os_glance_failed_import"] == "slow"
