"""A real Swift (tempauth + s3api) for the store tests, started from nothing by the scripts.

The session fixture runs scripts/swift-setup (the venv is built once under .cache/swift and
reused), then scripts/swift-start on free loopback ports with its state in a temporary
directory, and scripts/swift-stop (which stops the servers by their PIDs) at the end.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


@dataclass
class SwiftServer:
    """A running Swift proxy with tempauth (test:tester / testing) and s3api."""

    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth/v1.0"

    user = "test:tester"
    key = "testing"

    def s3_settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        return {"driver": "s3", "endpoint_url": self.url, "bucket": bucket,
                "access_key": self.user, "secret_key": self.key, "region": "us-east-1",
                "addressing_style": "path", "create_bucket": True, **extra}

    def swift_settings(self, container: str, **extra: Any) -> dict[str, Any]:
        return {"driver": "swift", "auth_url": self.auth_url, "user": self.user,
                "key": self.key, "auth_version": "1", "container": container,
                "create_container": True, **extra}

    def connection(self):  # noqa: ANN201 - a swiftclient Connection
        from swiftclient import client
        return client.Connection(authurl=self.auth_url, user=self.user, key=self.key,
                                 auth_version="1")

    def names(self, container: str) -> list[str]:
        """Object names in ``container`` ([] when it does not exist)."""
        from swiftclient.exceptions import ClientException
        conn = self.connection()
        try:
            _, listing = conn.get_container(container, full_listing=True)
            return [item["name"] for item in listing]
        except ClientException as exc:
            if exc.http_status == 404:
                return []
            raise
        finally:
            conn.close()


def _run(script: str, env: dict[str, str], timeout: float) -> None:
    result = subprocess.run([str(SCRIPTS / script)], env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{script} failed ({result.returncode}):\n{result.stdout}\n"
                           f"{result.stderr}")


@pytest.fixture(scope="session")
def swift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftServer]:
    root = tmp_path_factory.mktemp("swift")
    env = {**os.environ, "SWIFT_ROOT": str(root)}
    ports = set()
    while len(ports) < 5:
        ports.add(free_port())
    proxy, obj, cont, acct, memcached = sorted(ports)
    env.update({"SWIFT_PROXY_PORT": str(proxy), "SWIFT_OBJECT_PORT": str(obj),
                "SWIFT_CONTAINER_PORT": str(cont), "SWIFT_ACCOUNT_PORT": str(acct),
                "SWIFT_MEMCACHED_PORT": str(memcached)})
    started = time.monotonic()
    _run("swift-setup", env, 600)
    try:
        _run("swift-start", env, 120)
        print(f"\nSwift ready on :{proxy} in {time.monotonic() - started:.1f}s")
        yield SwiftServer(proxy, env)
    finally:
        subprocess.run([str(SCRIPTS / "swift-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
