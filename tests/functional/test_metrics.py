"""GET /metrics against a real server: scraped after known traffic and parsed with
prometheus-client's own parser; the counters match what the test did."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import start_server

OCTETS = {"Content-Type": "application/octet-stream"}


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) → value."""
    answer = httpx.get(url + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def create_v2(url: str, name: str) -> str:
    answer = httpx.post(url + "/v2/images", json={
        "name": name, "disk_format": "raw", "container_format": "bare"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_metrics_count_requests_bytes_stores_and_registry(tmp_path: Path) -> None:
    stores = {"hot": {"driver": "file", "directory": str(tmp_path / "hot")},
              "cold": {"driver": "file", "directory": str(tmp_path / "cold")}}
    srv = start_server(tmp_path / "data", ["--default-store", "hot"],
                       env={"GLANCE_STORES": json.dumps(stores)})
    try:
        url = srv.url
        before = scrape(url)
        images = [create_v2(url, f"m{n}") for n in range(3)]
        data = os.urandom(3 * 1024 * 1024 + 7)
        for image_id in images[:2]:
            answer = httpx.put(f"{url}/v2/images/{image_id}/file", content=data,
                               headers=OCTETS)
            assert answer.status_code == 204, answer.text
        for _ in range(3):
            assert httpx.get(f"{url}/v2/images/{images[0]}/file").content == data
        for _ in range(4):  # a missing image: 404, counted under its route template
            assert httpx.get(url + "/v2/images/" + "0" * 8 + "-0000-4000-8000-"
                             + "0" * 12).status_code == 404
        assert httpx.get(url + "/no/such/path").status_code == 404
        # the cold store's disk is gone: an upload into it fails in the store
        shutil.rmtree(tmp_path / "cold")
        answer = httpx.put(f"{url}/v2/images/{images[2]}/file", content=data,
                           headers={**OCTETS, "X-Image-Meta-Store": "cold"})
        assert answer.status_code == 503, answer.text

        after = scrape(url)
        diff = {key: v - before.get(key, 0.0) for key, v in after.items()}

        def requests(route: str, method: str, status: str) -> float:
            return value(diff, "glance_http_requests_total", route=route, method=method,
                         status=status)

        assert requests("/v2/images", "POST", "201") == 3
        assert requests("/v2/images/{image_id}/file", "PUT", "204") == 2
        assert requests("/v2/images/{image_id}/file", "PUT", "503") == 1
        assert requests("/v2/images/{image_id}/file", "GET", "200") == 3
        assert requests("/v2/images/{image_id}", "GET", "404") == 4
        assert requests("unmatched", "GET", "404") == 1
        assert not [key for key in after if "0000-4000" in str(key)]  # no raw paths
        assert value(diff, "glance_http_request_duration_seconds_count",
                     route="/v2/images", method="POST") == 3
        assert value(after, "glance_http_request_duration_seconds_bucket",
                     route="/v2/images", method="POST", le="+Inf") >= 3

        # the failed upload's bytes were received too (how many depends on when it failed)
        uploaded = value(diff, "glance_bytes_uploaded_total")
        assert 2 * len(data) <= uploaded <= 3 * len(data)
        assert value(diff, "glance_bytes_downloaded_total") == 3 * len(data)
        for direction in ("upload", "download"):
            assert value(after, "glance_transfers_in_flight", direction=direction) == 0

        assert value(diff, "glance_store_operations_total", store="hot", operation="put") == 2
        assert value(diff, "glance_store_errors_total", store="hot", operation="put") == 0
        assert value(diff, "glance_store_operations_total", store="cold",
                     operation="put") == 1
        assert value(diff, "glance_store_errors_total", store="cold", operation="put") == 1
        # three downloads from a file store are sent with sendfile: no store read at all
        assert value(diff, "glance_store_operation_duration_seconds_count", store="hot",
                     operation="put") == 2
        assert value(diff, "glance_registry_duration_seconds_count", operation="create") == 3
        assert value(after, "glance_registry_errors_total", operation="create") == 0
    finally:
        srv.stop()


def test_transfers_in_flight_and_recovery_actions(tmp_path: Path) -> None:
    """An upload in progress is in flight; after kill -9 the restarted server's recovery
    kills the image, and says so in its metrics."""
    data_dir = tmp_path / "data"
    srv = start_server(data_dir)
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(b"POST /v1/images HTTP/1.1\r\nHost: x\r\nx-image-meta-name: crash\r\n"
                 b"x-image-meta-disk_format: raw\r\nx-image-meta-container_format: bare\r\n"
                 b"Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n")
    sock.sendall(b"x" * (8 << 20))
    deadline = time.monotonic() + 10
    while not [p for p in srv.stored_files() if p.name.endswith(".part")]:
        assert time.monotonic() < deadline, "the upload never reached the store"
        time.sleep(0.05)
    samples = scrape(srv.url)
    assert value(samples, "glance_transfers_in_flight", direction="upload") == 1
    assert value(samples, "glance_bytes_uploaded_total") >= 1 << 20
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    sock.close()

    restarted = start_server(data_dir)
    try:
        samples = scrape(restarted.url)
        assert value(samples, "glance_recovery_actions_total", action="upload_killed") == 1
        assert value(samples, "glance_transfers_in_flight", direction="upload") == 0
    finally:
        restarted.stop()


def test_several_workers_report_one_sum_in_multiprocess_mode(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, any worker's scrape counts every worker's requests."""
    shared = tmp_path / "prometheus"
    shared.mkdir()
    srv = start_server(tmp_path / "data", ["--workers", "2"],
                       env={"PROMETHEUS_MULTIPROC_DIR": str(shared)})
    try:
        for _ in range(20):  # new connections: the kernel spreads them over the workers
            assert httpx.get(srv.url + "/healthcheck").status_code == 200
        pids = {p.name.split("_")[-1] for p in shared.glob("counter_*.db")}
        assert len(pids) == 2, pids  # each worker keeps its own file
        for _ in range(4):
            counted = value(scrape(srv.url), "glance_http_requests_total",
                            route="/healthcheck", method="GET", status="200")
            assert counted == 20
    finally:
        srv.stop()
