"""Races a busy service meets, on SQLite and on PostgreSQL: periodic recovery running while
uploads finish (an answered upload must always download whole), and concurrent changes to
one image's tags, properties and fields (each change survives; one request is never half
applied)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import OCTET, PATCH21, create, show
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_args(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "sqlite":
        return []
    return ["--database-url", request.getfixturevalue("postgres_database")]


@pytest.fixture
def busy_server(tmp_path: Path, database_args: list[str]) -> Iterator[RunningServer]:
    """A server whose recovery runs every 0.3 s (its lease), as on a loaded machine."""
    server = start_server(tmp_path / "data", [*database_args, "--worker-lease-seconds", "0.3",
                                              "--image-format-inspection", "false"])
    yield server
    server.stop()


def test_recovery_never_takes_a_finished_upload(busy_server: RunningServer) -> None:
    """8 clients upload for 8 s while recovery runs every 0.3 s: every upload answered 204
    downloads whole, none fails, and recovery touches nothing (its process is alive)."""
    data = os.urandom(256 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    answered: list[str] = []
    failed: list[tuple[int, str]] = []
    stop = time.monotonic() + 8

    def client() -> None:
        with httpx.Client(base_url=busy_server.url, timeout=60) as http:
            while time.monotonic() < stop:
                image = create(http)
                resp = http.put(f"/v2/images/{image['id']}/file", content=data, headers=OCTET)
                if resp.status_code == 204:
                    answered.append(image["id"])
                else:
                    failed.append((resp.status_code, resp.text))

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(client) for _ in range(8)]:
            future.result()
    assert failed == []
    assert len(answered) > 100  # enough uploads to meet the race
    lost = []
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        for image_id in answered:
            resp = http.get(f"/v2/images/{image_id}/file")
            if resp.status_code != 200 or hashlib.sha256(resp.content).hexdigest() != digest:
                lost.append((image_id, resp.status_code, resp.text[:200]))
    assert lost == [], f"{len(lost)} of {len(answered)} answered uploads lost"
    assert "server process stopped" not in busy_server.log()


def concurrently(count: int, work: Callable[[httpx.Client, int], httpx.Response],
                 url: str) -> list[httpx.Response]:
    """Run ``work`` from ``count`` clients released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as http:
            barrier.wait()
            return work(http, index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_tags_all_survive(busy_server: RunningServer) -> None:
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        image = create(http, tags=["first"])
    answers = concurrently(40, lambda http, i: http.put(
        f"/v2/images/{image['id']}/tags/t{i}"), busy_server.url)
    assert [r.status_code for r in answers] == [204] * 40
    answers = concurrently(20, lambda http, i: http.delete(
        f"/v2/images/{image['id']}/tags/t{i}"), busy_server.url)
    assert [r.status_code for r in answers] == [204] * 20
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        tags = show(http, image["id"])["tags"]
    assert sorted(tags) == sorted(["first", *(f"t{i}" for i in range(20, 40))])


def test_concurrent_patches_and_tag_changes_all_survive(busy_server: RunningServer) -> None:
    """Half the clients patch their own property (one also a field), the other half add
    their own tag: every change lands."""
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        image = create(http, tags=["base"])

    def change(http: httpx.Client, index: int) -> httpx.Response:
        if index % 2:
            return http.put(f"/v2/images/{image['id']}/tags/t{index}")
        ops = [{"op": "add", "path": f"/p{index}", "value": str(index)}]
        if index == 0:
            ops.append({"op": "replace", "path": "/min_ram", "value": 512})
        return http.patch(f"/v2/images/{image['id']}", json=ops, headers=PATCH21)

    answers = concurrently(30, change, busy_server.url)
    assert [r.status_code for r in answers] == [200, 204] * 15, [r.text for r in answers]
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        final = show(http, image["id"])
    assert sorted(final["tags"]) == sorted(["base", *(f"t{i}" for i in range(1, 30, 2))])
    assert all(final[f"p{i}"] == str(i) for i in range(0, 30, 2))
    assert final["min_ram"] == 512


def test_a_conflicting_patch_is_last_writer_wins_never_half_applied(
        busy_server: RunningServer) -> None:
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        image = create(http)
    answers = concurrently(16, lambda http, i: http.patch(
        f"/v2/images/{image['id']}", headers=PATCH21, json=[
            {"op": "replace", "path": "/name", "value": f"writer-{i}"},
            {"op": "add", "path": "/written_by", "value": f"writer-{i}"},
            {"op": "replace", "path": "/min_disk", "value": i}]), busy_server.url)
    assert [r.status_code for r in answers] == [200] * 16
    with httpx.Client(base_url=busy_server.url, timeout=60) as http:
        final = show(http, image["id"])
    assert final["name"] == final["written_by"] == f"writer-{final['min_disk']}"
