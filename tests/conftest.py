"""Shared fixtures: a real glance-api process on a free loopback port (``glance.testing``,
which the benchmarks use too)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from glance.testing import RunningServer, free_port, start_server

# one Swift (with s3api and a Keystone proxy) and one Ceph RGW per run, for every package
from tests.servers import rgw_server, s3_server, swift_server  # noqa: F401  (fixtures)

__all__ = ["RunningServer", "free_port", "start_server"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server per test module (tests must not depend on each other's images)."""
    srv = start_server(tmp_path_factory.mktemp("glance") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, for tests that count what is in the store or the catalogue."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


# -- a real Keystone ------------------------------------------------------------------------

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@dataclass
class KeystoneServer:
    """A real Keystone v3 (scripts/keystone-*) on a free loopback port.

    It holds what keystone-start creates: ``admin``/``admin-secret`` (admin of project
    ``admin``), ``glance``/``glance-secret`` (member of project ``images``), ``swift``/
    ``swift-secret`` (admin of project ``service``), all in domain Default, and an
    object-store endpoint on ``swift_proxy_port`` (the Swift proxy of tests/stores).
    """

    port: int
    swift_proxy_port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def admin_token(self) -> str:
        """A token of the admin user, scoped to the admin project."""
        return self.token("admin", "admin-secret", "admin")

    def token(self, user: str, password: str, project: str) -> str:
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        resp = httpx.post(self.url + "/auth/tokens", json=body, timeout=30)
        resp.raise_for_status()
        return resp.headers["X-Subject-Token"]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One admin request to the v3 API; its JSON answer ({} when empty)."""
        resp = httpx.request(method, self.url + path, json=body, timeout=30,
                             headers={"X-Auth-Token": self.admin_token()})
        resp.raise_for_status()
        return resp.json() if resp.content else {}


def _script(name: str, env: dict[str, str], timeout: float) -> None:
    result = subprocess.run([str(SCRIPTS / name)], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed ({result.returncode}):\n{result.stdout}\n"
                           f"{result.stderr}")


@pytest.fixture(scope="session")
def keystone_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneServer]:
    """Keystone from PyPI (its venv built once under .cache/keystone), configured anew in a
    temporary directory, stopped by PID and wiped at the end."""
    root = tmp_path_factory.mktemp("keystone")
    port = free_port()
    proxy = free_port()
    while proxy == port:
        proxy = free_port()
    env = {**os.environ, "KEYSTONE_ROOT": str(root), "KEYSTONE_PORT": str(port),
           "KEYSTONE_SWIFT_URL": f"http://127.0.0.1:{proxy}"}
    started = time.monotonic()
    try:
        _script("keystone-setup", env, 900)
        _script("keystone-start", env, 120)
        print(f"\nKeystone ready on :{port} in {time.monotonic() - started:.1f}s")
        yield KeystoneServer(port, proxy, env)
    finally:
        subprocess.run([str(SCRIPTS / "keystone-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)
