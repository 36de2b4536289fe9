"""The server as an operator runs it: configuration sources, PostgreSQL, crashes, memory."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import free_port, start_server
from tests.registry.conftest import postgres_database  # noqa: F401  (fixture)

RAW = {"x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"}


def upload(url: str, data: bytes, name: str = "img") -> dict:
    response = httpx.post(url + "/v1/images", content=data, timeout=60, headers={
        **RAW, "x-image-meta-name": name, "Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    return response.json()["image"]


def test_runs_on_postgresql(tmp_path: Path, postgres_database: str) -> None:  # noqa: F811
    server = start_server(tmp_path / "data", ["--database-url", postgres_database])
    try:
        data = os.urandom(3 * 1024 * 1024 + 5)
        image = upload(server.url, data, "pg")
        assert image["status"] == "active"
        assert image["checksum"] == hashlib.md5(data).hexdigest()
        listed = httpx.get(server.url + "/v1/images/detail?name=pg").json()["images"]
        assert [i["id"] for i in listed] == [image["id"]]
        assert httpx.get(server.url + f"/v1/images/{image['id']}").content == data
        assert not (tmp_path / "data" / "glance.sqlite").exists()  # the registry is PostgreSQL
    finally:
        server.stop()


def test_configuration_precedence_file_env_flags(tmp_path: Path) -> None:
    """defaults < config file < environment < flags, for glance-api itself."""
    port_file, port_env, port_flag = free_port(), free_port(), free_port()
    config = tmp_path / "glance.toml"
    config.write_text(f'[glance]\nport = {port_file}\nlimit_param_default = 3\n'
                      f'data_dir = "{tmp_path / "from-file"}"\n')

    def answering(args: list[str], env: dict[str, str]) -> int | None:
        """Start glance-api; the port (of the three) it answers on, None if none."""
        server_env = {k: v for k, v in os.environ.items() if not k.startswith("GLANCE_")}
        server_env.update(env)
        proc = subprocess.Popen([sys.executable, "-m", "glance.cli.api", *args], env=server_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                for port in (port_file, port_env, port_flag):
                    try:
                        httpx.get(f"http://127.0.0.1:{port}/versions", timeout=0.5)
                        return port
                    except httpx.TransportError:
                        pass
                time.sleep(0.05)
            return None
        finally:
            proc.terminate()
            proc.wait(10)

    assert answering(["--config", str(config)], {}) == port_file
    assert (tmp_path / "from-file" / "glance.sqlite").exists()
    assert answering(["--config", str(config)], {"GLANCE_PORT": str(port_env)}) == port_env
    assert answering(["--config", str(config), "--port", str(port_flag)],
                     {"GLANCE_PORT": str(port_env)}) == port_flag
    assert answering([], {"GLANCE_CONFIG": str(config)}) == port_file


def test_limit_default_comes_from_config(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", env={"GLANCE_LIMIT_PARAM_DEFAULT": "2"})
    try:
        for i in range(3):
            httpx.post(server.url + "/v1/images", headers={"x-image-meta-name": f"n{i}"})
        assert len(httpx.get(server.url + "/v1/images").json()["images"]) == 2
    finally:
        server.stop()


def test_bad_configuration_stops_startup_with_a_message(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--data-dir", str(tmp_path),
         "--default-store", "nowhere", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "nowhere" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--data-dir", str(tmp_path / "empty"),
         "--auto-migrate", "false", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "glance db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--port", "not-a-number"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "port" in result.stderr


def test_crash_mid_upload_leaves_killed_image_and_no_bytes(tmp_path: Path) -> None:
    """kill -9 during an upload; on restart the image is killed and the partial file gone."""
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /v1/images HTTP/1.1\r\nHost: x\r\nx-image-meta-name: crash\r\n"
                 b"x-image-meta-disk_format: raw\r\nx-image-meta-container_format: bare\r\n"
                 b"Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n")
    sock.sendall(b"x" * (8 << 20))
    deadline = time.monotonic() + 10
    while not [p for p in server.stored_files() if p.name.endswith(".part")]:
        assert time.monotonic() < deadline, "the upload never reached the store"
        time.sleep(0.05)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    sock.close()
    assert any(p.name.endswith(".part") for p in server.stored_files())

    restarted = start_server(data_dir)
    try:
        images = httpx.get(restarted.url + "/v1/images/detail?name=crash&status=killed").json()
        assert [i["status"] for i in images["images"]] == ["killed"]
        assert restarted.stored_files() == []
    finally:
        restarted.stop()


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_server_memory_flat_for_a_2_gib_image(fresh_server) -> None:
    """Peak RSS of glance-api stays far below the image size, both ways."""
    size = 2 << 30
    block = os.urandom(1 << 20)
    md5 = hashlib.md5()

    def body():
        for _ in range(size // len(block)):
            md5.update(block)
            yield block

    before = _vm_hwm_kib(fresh_server.process.pid)
    response = httpx.post(fresh_server.url + "/v1/images", content=body(), timeout=600, headers={
        **RAW, "x-image-meta-name": "big", "Content-Type": "application/octet-stream"})
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["size"] == size and image["checksum"] == md5.hexdigest()
    after_upload = _vm_hwm_kib(fresh_server.process.pid)

    got = hashlib.md5()
    received = 0
    with httpx.stream("GET", fresh_server.url + f"/v1/images/{image['id']}", timeout=600) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes(1 << 20):
            got.update(chunk)
            received += len(chunk)
    after_download = _vm_hwm_kib(fresh_server.process.pid)
    assert received == size and got.hexdigest() == md5.hexdigest()
    assert after_upload - before < 64 * 1024, (before, after_upload)
    assert after_download - before < 64 * 1024, (before, after_download)
    assert after_download < 100 * 1024  # under 100 MB per process in all


def test_concurrent_uploads_are_independent(server) -> None:
    results: dict[int, dict] = {}
    payloads = {i: os.urandom(2 * 1024 * 1024 + i) for i in range(6)}

    def worker(i: int) -> None:
        results[i] = upload(server.url, payloads[i], f"concurrent-{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == len(payloads)
    for i, image in results.items():
        got = httpx.get(server.url + f"/v1/images/{image['id']}", timeout=60).content
        assert got == payloads[i]


def test_image_ids_cannot_escape_the_store(server) -> None:
    for bad in ("../escape", "..", ".hidden", "a/b", "x" * 65):
        response = httpx.post(server.url + "/v1/images", headers={
            **RAW, "x-image-meta-id": bad, "Content-Type": "application/octet-stream"},
            content=b"data")
        assert response.status_code in (400, 404, 405), (bad, response.status_code)
    assert not (server.data_dir / "escape").exists()
    assert not (server.data_dir.parent / "escape").exists()
