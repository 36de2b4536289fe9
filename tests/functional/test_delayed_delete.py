"""Delayed delete as upstream: a delete puts an image with data in pending_delete (hidden as
deleted, its data kept) and the scrubber removes the data after scrub_time, also when the
server restarted in between; ``glance admin scrub`` runs one round."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx

from tests.conftest import RunningServer, start_server
from tests.functional._cli import OURS, clean_env, run

OCTETS = {"Content-Type": "application/octet-stream"}


def upload(url: str, name: str) -> str:
    image = httpx.post(url + "/v2/images", json={
        "name": name, "disk_format": "raw", "container_format": "bare"}).json()
    answer = httpx.put(f"{url}/v2/images/{image['id']}/file", content=os.urandom(70_000),
                       headers=OCTETS)
    assert answer.status_code == 204, answer.text
    return str(image["id"])


def changed_since(url: str, image_id: str) -> dict:
    """The image as v1's admin list of changes shows it (deleted ones included)."""
    listed = httpx.get(url + "/v1/images/detail?changes-since=2000-01-01T00:00:00").json()
    return next(i for i in listed["images"] if i["id"] == image_id)


def wait_until_gone(path: Path, seconds: float) -> float:
    started = time.monotonic()
    while path.exists():
        assert time.monotonic() - started < seconds, f"{path} still there"
        time.sleep(0.1)
    return time.monotonic() - started


def test_pending_delete_then_scrubbed_after_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    scrub_time = 12.0  # long enough for the checks below on a busy machine
    flags = ["--delayed-delete", "true", "--scrub-time", str(scrub_time)]
    srv = start_server(data_dir, flags)
    try:
        doomed, kept = upload(srv.url, "doomed"), upload(srv.url, "kept")
        queued = httpx.post(srv.url + "/v2/images", json={"name": "empty"}).json()["id"]
        stored = srv.store_dir / doomed
        assert httpx.delete(f"{srv.url}/v2/images/{doomed}").status_code == 204
        deleted_at = time.monotonic()
        assert httpx.delete(f"{srv.url}/v2/images/{queued}").status_code == 204
        # hidden as deleted, but its data stays
        assert httpx.get(f"{srv.url}/v2/images/{doomed}").status_code == 404
        assert httpx.get(f"{srv.url}/v2/images/{doomed}/file").status_code == 404
        assert [i["id"] for i in httpx.get(srv.url + "/v2/images").json()["images"]] == [kept]
        assert httpx.delete(f"{srv.url}/v2/images/{doomed}").status_code == 404
        shown = changed_since(srv.url, doomed)
        assert (shown["status"], shown["deleted"]) == ("pending_delete", True)
        assert stored.exists()
        # an image without data has nothing to keep: deleted at once
        assert changed_since(srv.url, queued)["status"] == "deleted"
    finally:
        srv.stop()
    assert time.monotonic() - deleted_at < scrub_time, "too slow to check before scrub_time"

    # scrub_time passes while no server runs: nothing scrubs
    time.sleep(max(0.0, deleted_at + scrub_time + 0.5 - time.monotonic()))
    assert stored.exists()
    restarted = start_server(data_dir, flags)
    try:
        wait_until_gone(stored, 10)  # the scrubber resumes from the registry's state
        assert changed_since(restarted.url, doomed)["status"] == "deleted"
        assert (restarted.store_dir / kept).exists()
        assert httpx.get(f"{restarted.url}/v2/images/{kept}").json()["status"] == "active"
        metrics = httpx.get(restarted.url + "/metrics").text
        assert 'glance_recovery_actions_total{action="scrubbed"} 1.0' in metrics
    finally:
        restarted.stop()


def test_scrubber_waits_for_scrub_time_and_admin_scrub(tmp_path: Path) -> None:
    srv: RunningServer = start_server(tmp_path / "data",
                                      ["--delayed-delete", "true", "--scrub-time", "3600"])
    try:
        doomed = upload(srv.url, "doomed")
        assert httpx.delete(f"{srv.url}/v2/images/{doomed}").status_code == 204
        time.sleep(1.5)
        assert (srv.store_dir / doomed).exists()  # an hour is not up

        def scrub(*args: str, **env: str) -> tuple[int, str]:
            result = run(OURS, "admin", "scrub", "--data-dir", str(srv.data_dir), *args,
                         env=clean_env(**env))
            return result.returncode, result.stdout.decode()

        # the command reads scrub_time as glance-api does: environment, config file
        assert scrub(GLANCE_SCRUB_TIME="3600") == (0, "")
        config = tmp_path / "glance.toml"
        config.write_text("scrub_time = 3000\n")
        assert scrub("--config", str(config)) == (0, "")
        assert (srv.store_dir / doomed).exists()
        config.write_text("scrub_time = 0\n")
        assert scrub("--config", str(config)) == (0, doomed + "\n")
        assert not (srv.store_dir / doomed).exists()
        assert changed_since(srv.url, doomed)["status"] == "deleted"
    finally:
        srv.stop()
