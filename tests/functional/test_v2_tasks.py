"""The legacy tasks API: POST /v2/tasks (type import: a new image filled from import_from by
the web-download machinery), GET /v2/tasks (filters, sorting, pages), GET /v2/tasks/{id},
and their schemas (raw HTTP against a real glance-api)."""

from __future__ import annotations

import os
import time
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import (active, as_project, assert_error, md5, new_project,
                                  show, unique, validate)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """web-download may fetch from loopback, where the test data lives."""
    srv = start_server(tmp_path_factory.mktemp("tasks") / "data",
                       ["--web-download-allow-private", "true"])
    yield srv
    srv.stop()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def task_body(url: str, **properties: Any) -> dict[str, Any]:
    props = {"name": unique("task"), "disk_format": "raw", "container_format": "bare",
             **properties}
    return {"type": "import", "input": {"import_from": url, "import_from_format": "raw",
                                        "image_properties": props}}


def finished(http: httpx.Client, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = http.get(f"/v2/tasks/{task_id}")
        assert resp.status_code == 200, resp.text
        if resp.json()["status"] in ("success", "failure") or time.monotonic() > deadline:
            return resp.json()
        time.sleep(0.05)


def test_import_task_fills_a_new_image(server: RunningServer, http: httpx.Client) -> None:
    data = os.urandom(200_000)
    source = active(http, data)
    body = task_body(f"{server.url}/v2/images/{source['id']}/file", os_distro="debian")
    resp = http.post("/v2/tasks", json=body)
    assert resp.status_code == 201, resp.text
    task = resp.json()
    validate(http, "task", task)
    assert task["type"] == "import" and task["status"] in ("pending", "processing")
    assert task["input"] == body["input"] and task["result"] is None
    assert task["self"] == f"/v2/tasks/{task['id']}"
    done = finished(http, task["id"])
    validate(http, "task", done)
    assert done["status"] == "success", done
    image = show(http, done["result"]["image_id"])
    assert image["status"] == "active" and image["checksum"] == md5(data)
    assert image["name"] == body["input"]["image_properties"]["name"]
    assert image["disk_format"] == "raw" and image["os_distro"] == "debian"
    tasks = http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]
    assert [t["id"] for t in tasks] == [task["id"]]


def test_fake_location_fails_the_task(server: RunningServer, http: httpx.Client) -> None:
    # what Tempest's test_task_create_fake_image_location sends: a host that cannot resolve
    resp = http.post("/v2/tasks", json=task_body("http://dummy-img-file-0123.qcow2"))
    assert resp.status_code == 201, resp.text
    done = finished(http, resp.json()["id"])
    assert done["status"] == "failure" and done["message"] and done["result"] is None


@pytest.mark.parametrize("body", [
    {"type": "export", "input": {}},
    {"input": {}},
    {"type": "import", "input": "http://example.com/x"},
    {"type": "import", "input": {"import_from_format": "raw", "image_properties": {}}},
    {"type": "import", "input": {"import_from": "ftp://example.com/x",
                                 "import_from_format": "raw", "image_properties": {}}},
    {"type": "import", "input": {"import_from": "http://", "import_from_format": "raw",
                                 "image_properties": {}}},
    {"type": "import", "input": {"import_from": "http://example.com/x",
                                 "image_properties": {}}},
    {"type": "import", "input": {"import_from": "http://example.com/x",
                                 "import_from_format": "raw",
                                 "image_properties": {"disk_format": "floppy"}}},
    ["not", "an", "object"],
])
def test_bad_task_requests_are_400(server: RunningServer, http: httpx.Client, body: Any) -> None:
    before = http.get("/v2/images", params={"limit": 1000}).json()["images"]
    assert_error(http.post("/v2/tasks", json=body), 400)
    assert http.get("/v2/images", params={"limit": 1000}).json()["images"] == before


def test_list_filters_sorts_and_pages(server: RunningServer, http: httpx.Client) -> None:
    project = as_project(new_project())
    made = []
    for _ in range(3):
        resp = http.post("/v2/tasks", headers=project,
                         json=task_body("http://dummy-img-file-4567.qcow2"))
        assert resp.status_code == 201
        made.append(resp.json()["id"])
    for task_id in made:
        finished(http, task_id)
    body = http.get("/v2/tasks", headers=project).json()
    validate(http, "tasks", body)
    assert [t["id"] for t in body["tasks"]] == made[::-1]  # newest first
    assert "input" not in body["tasks"][0] and body["schema"] == "/v2/schemas/tasks"
    got = http.get("/v2/tasks", headers=project,
                   params={"status": "failure", "type": "import", "sort_dir": "asc"}).json()
    assert [t["id"] for t in got["tasks"]] == made
    assert http.get("/v2/tasks", headers=project,
                    params={"status": "success"}).json()["tasks"] == []
    seen, url = [], "/v2/tasks?limit=2&sort_key=created_at&sort_dir=asc"
    while url:
        page = http.get(url, headers=project).json()
        seen += [t["id"] for t in page["tasks"]]
        url = page.get("next")
    assert seen == made
    # another project sees none of them; an admin sees them all
    other = as_project(new_project())
    assert http.get("/v2/tasks", headers=other).json()["tasks"] == []
    assert_error(http.get(f"/v2/tasks/{made[0]}", headers=other), 404)
    everyone = http.get("/v2/tasks", params={"limit": 1000}).json()["tasks"]
    assert set(made) <= {t["id"] for t in everyone}


@pytest.mark.parametrize("params", [
    {"sort_key": "owner"}, {"sort_dir": "up"}, {"status": "done"}, {"type": "export"},
    {"limit": "x"}, {"marker": "no-such-task"}, {"colour": "blue"}])
def test_bad_list_parameters_are_400(server: RunningServer, http: httpx.Client,
                                     params: dict[str, str]) -> None:
    assert_error(http.get("/v2/tasks", params=params), 400)


def test_unknown_task_is_404(server: RunningServer, http: httpx.Client) -> None:
    assert_error(http.get("/v2/tasks/no-such-task"), 404)
