"""Races on one image's data, on SQLite and on PostgreSQL: two uploads into one queued image
(one wins, the other is 409, only the winner's bytes are kept), a delete racing an upload
(nothing left, the upload refused) and a delete racing downloads (each download whole and
correct, or refused cleanly; never a 5xx)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import OCTET, create, show
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_args(request: pytest.FixtureRequest) -> list[str]:
    if request.param == "sqlite":
        return []
    return ["--database-url", request.getfixturevalue("postgres_database")]


@pytest.fixture
def racing_server(tmp_path: Path, database_args: list[str]) -> Iterator[RunningServer]:
    server = start_server(tmp_path / "data", [*database_args, "--image-format-inspection",
                                              "false"])
    yield server
    server.stop()


def slow_body(parts: list[bytes], pause: float) -> Iterator[bytes]:
    for index, part in enumerate(parts):
        if index:
            time.sleep(pause)
        yield part


def test_two_uploads_into_one_image_one_wins(racing_server: RunningServer) -> None:
    with httpx.Client(base_url=racing_server.url, timeout=60) as http:
        image = create(http)
    payloads = [os.urandom(2 << 20) for _ in range(2)]
    barrier = threading.Barrier(2)

    def upload(index: int) -> httpx.Response | str:
        data = payloads[index]
        barrier.wait()
        # both have begun before either ends: the second half follows a pause
        try:
            return httpx.put(f"{racing_server.url}/v2/images/{image['id']}/file",
                             headers=OCTET, timeout=60,
                             content=slow_body([data[:1 << 20], data[1 << 20:]], 0.5))
        except httpx.TransportError as exc:  # shown by the assertion below
            return f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(upload, range(2)))
    answers = [r for r in results if isinstance(r, httpx.Response)]
    assert sorted(r.status_code for r in answers) == [204, 409], (
        results, [r.text for r in answers], racing_server.log()[-3000:])
    winner = payloads[[r.status_code for r in answers].index(204)]
    with httpx.Client(base_url=racing_server.url, timeout=60) as http:
        shown = show(http, image["id"])
        assert (shown["status"], shown["checksum"]) == ("active",
                                                        hashlib.md5(winner).hexdigest())
        assert http.get(f"/v2/images/{image['id']}/file").content == winner
    assert racing_server.stored_files() == [racing_server.store_dir / image["id"]]


def test_delete_racing_an_upload_leaves_nothing(racing_server: RunningServer) -> None:
    with httpx.Client(base_url=racing_server.url, timeout=60) as http:
        image = create(http)
        release = threading.Event()

        def body() -> Iterator[bytes]:
            yield os.urandom(2 << 20)
            release.wait(30)
            yield os.urandom(2 << 20)

        result: dict[str, httpx.Response] = {}
        uploader = threading.Thread(target=lambda: result.update(response=httpx.put(
            f"{racing_server.url}/v2/images/{image['id']}/file", content=body(),
            headers=OCTET, timeout=60)))
        uploader.start()
        deadline = time.monotonic() + 20
        while show(http, image["id"])["status"] != "saving":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert http.delete(f"/v2/images/{image['id']}").status_code == 204
        release.set()
        uploader.join(60)
        assert 400 <= result["response"].status_code < 500, result["response"].text
        assert http.get(f"/v2/images/{image['id']}").status_code == 404
    assert racing_server.stored_files() == []


def download_racing(url: str, data: bytes, barrier: threading.Barrier,
                   delay: float) -> str:
    """Download once the delete is released too: "whole" (and correct), "404" or "cut"."""
    barrier.wait()
    time.sleep(delay)
    try:
        with httpx.stream("GET", url, timeout=60) as resp:
            if resp.status_code != 200:
                assert resp.status_code == 404, resp.read()
                return "404"
            got = resp.read()
    except httpx.TransportError:
        return "cut"
    assert got == data
    return "whole"


def delete_racing(url: str, barrier: threading.Barrier) -> int:
    barrier.wait()
    return httpx.delete(url, timeout=60).status_code


def test_delete_racing_downloads_never_5xx(racing_server: RunningServer) -> None:
    """A download either completes with the right bytes or fails cleanly (404 before it
    starts; a cut connection never looks complete); the data is gone afterwards."""
    data = os.urandom(16 << 20)
    outcomes: list[str] = []
    with httpx.Client(base_url=racing_server.url, timeout=60) as http:
        for attempt in range(8):
            image = create(http)
            assert http.put(f"/v2/images/{image['id']}/file", content=data,
                            headers=OCTET).status_code == 204
            url = f"{racing_server.url}/v2/images/{image['id']}"
            barrier = threading.Barrier(2)
            with ThreadPoolExecutor(2) as pool:
                downloaded = pool.submit(download_racing, url + "/file", data, barrier,
                                         0.002 * attempt)
                deleted = pool.submit(delete_racing, url, barrier)
                assert deleted.result() == 204
                outcomes.append(downloaded.result())
    assert racing_server.stored_files() == []
    assert " ERROR " not in racing_server.log(), racing_server.log()[-3000:]
    print("download outcomes:", outcomes)
