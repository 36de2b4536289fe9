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
    keystone_port: int
    keystone_proxy_port: int

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

    def keystone_settings(self, container: str, **extra: Any) -> dict[str, Any]:
        """The store settings for the proxy that trusts Keystone v3 (user glance, project
        images, as scripts/keystone-start creates them)."""
        return {"driver": "swift", "auth_url": f"http://127.0.0.1:{self.keystone_port}/v3",
                "user": "glance", "key": "glance-secret", "auth_version": "3",
                "project_name": "images", "container": container, "create_container": True,
                **extra}

    def connection(self):  # noqa: ANN201 - a swiftclient Connection
        from swiftclient import client
        return client.Connection(authurl=self.auth_url, user=self.user, key=self.key,
                                 auth_version="1")

    def keystone_connection(self):  # noqa: ANN201 - a swiftclient Connection
        settings = self.keystone_settings("-")
        from swiftclient import client
        return client.Connection(authurl=settings["auth_url"], user=settings["user"],
                                 key=settings["key"], auth_version="3",
                                 os_options={"project_name": settings["project_name"],
                                             "project_domain_name": "Default",
                                             "user_domain_name": "Default"})

    def names(self, container: str, keystone: bool = False) -> list[str]:
        """Object names in ``container`` ([] when it does not exist), in the tempauth
        account or (``keystone``) in the Keystone project's account."""
        from swiftclient.exceptions import ClientException
        conn = self.keystone_connection() if keystone else self.connection()
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
    """Swift with tempauth + s3api on one proxy, and a second proxy that trusts a real
    Keystone v3 (scripts/keystone-*) over the same storage servers."""
    root = tmp_path_factory.mktemp("swift")
    env = {**os.environ, "SWIFT_ROOT": str(root), "KEYSTONE_ROOT": str(root / "keystone")}
    ports: set[int] = set()
    while len(ports) < 7:
        ports.add(free_port())
    proxy, obj, cont, acct, memcached, keystone, keystone_proxy = sorted(ports)
    env.update({"SWIFT_PROXY_PORT": str(proxy), "SWIFT_OBJECT_PORT": str(obj),
                "SWIFT_CONTAINER_PORT": str(cont), "SWIFT_ACCOUNT_PORT": str(acct),
                "SWIFT_MEMCACHED_PORT": str(memcached),
                "KEYSTONE_PORT": str(keystone),
                "KEYSTONE_SWIFT_URL": f"http://127.0.0.1:{keystone_proxy}",
                "SWIFT_KEYSTONE_URL": f"http://127.0.0.1:{keystone}",
                "SWIFT_KEYSTONE_PROXY_PORT": str(keystone_proxy)})
    started = time.monotonic()
    try:
        _run("keystone-setup", env, 900)
        _run("keystone-start", env, 120)
        _run("swift-setup", env, 600)
        _run("swift-start", env, 120)
        print(f"\nSwift ready on :{proxy} (Keystone v3 proxy :{keystone_proxy}) in "
              f"{time.monotonic() - started:.1f}s")
        yield SwiftServer(proxy, env, keystone, keystone_proxy)
    finally:
        subprocess.run([str(SCRIPTS / "swift-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)
        subprocess.run([str(SCRIPTS / "keystone-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
