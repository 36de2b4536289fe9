"""Real object stores for the tests, started from nothing by the scripts: one of each per
test run, whichever package asks first (tests/conftest.py offers these session fixtures to
every package; defining them again in a package would start a second Swift and RGW).

``swift_server`` runs scripts/swift-setup (the venv is built once under .cache/swift and
reused), then scripts/swift-start on free loopback ports with its state in a temporary
directory, and scripts/swift-stop (which stops the servers by their PIDs) at the end.

``rgw_server`` does the same with scripts/rgw-setup / rgw-start / rgw-stop: a one-node Ceph
(mon + bluestore OSD on a file) with a RADOS Gateway, a second and independent S3 server.

``s3_server`` is parametrized over both S3 implementations: ``s3api`` (Swift's S3 gateway,
on the Swift proxy) and ``rgw``. A server that cannot be started makes the tests fail.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

from glance.testing import free_port, free_port_range

if TYPE_CHECKING:
    from tests.conftest import KeystoneServer

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


@dataclass
class S3Server:
    """A running S3 endpoint: ``kind`` is ``s3api`` (Swift's gateway) or ``rgw`` (Ceph)."""

    kind: str
    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    swift: "SwiftServer | None" = None  # s3api: the Swift behind it (parts are visible there)

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """The settings of an ``s3`` store on ``bucket`` (created on start)."""
        return {"driver": "s3", "endpoint_url": self.endpoint, "bucket": bucket,
                "access_key": self.access_key, "secret_key": self.secret_key,
                "region": self.region, "addressing_style": "path", "create_bucket": True,
                **extra}

    @property
    def secrets(self) -> list[str]:
        """What must never appear in glance's answers or database."""
        return [self.secret_key, self.endpoint]

    def client(self):  # noqa: ANN201 - a boto3 S3 client
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(signature_version="s3v4", connect_timeout=10,
                                          read_timeout=60, s3={"addressing_style": "path"}))

    def names(self, bucket: str) -> list[str]:
        """Object keys in ``bucket`` ([] when it does not exist)."""
        from botocore.exceptions import ClientError
        s3 = self.client()
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchBucket":
                return []
            raise
        finally:
            s3.close()

    def parts(self, bucket: str) -> list[str]:
        """Everything multipart uploads hold in ``bucket`` beside its objects: for s3api the
        segments in Swift's ``<bucket>+segments`` container (parts of unfinished uploads and
        of completed objects); for rgw the parts of unfinished uploads (``key/upload/n``)."""
        if self.swift is not None:
            return self.swift.names(bucket + "+segments")
        from botocore.exceptions import ClientError
        s3 = self.client()
        try:
            found = []
            for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
                found += [f"{key}/{upload_id}/{p['PartNumber']}"
                          for p in listed.get("Parts", [])] or [f"{key}/{upload_id}/"]
            return found
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchBucket", "NoSuchUpload"):
                return []
            raise
        finally:
            s3.close()

    def uploads(self, bucket: str) -> list[str]:
        """Keys of the multipart uploads in progress in ``bucket``."""
        s3 = self.client()
        try:
            return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
        finally:
            s3.close()

    def part_count(self, bucket: str, key: str) -> int:
        """How many parts the object was uploaded in (1 for a plain PUT), from its ETag."""
        s3 = self.client()
        try:
            etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
        finally:
            s3.close()
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


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

    @property
    def s3(self) -> S3Server:
        """The s3api gateway on the same proxy (the access key is ``account:user``)."""
        return S3Server("s3api", self.url, self.user, self.key, swift=self)

    def s3_settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        return self.s3.settings(bucket, **extra)

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
def swift_server(tmp_path_factory: pytest.TempPathFactory,
                 keystone_server: KeystoneServer) -> Iterator[SwiftServer]:
    """Swift with tempauth + s3api on one proxy, and a second proxy that trusts the real
    Keystone v3 of ``keystone_server`` over the same storage servers."""
    root = tmp_path_factory.mktemp("swift")
    env = {**os.environ, "SWIFT_ROOT": str(root)}
    taken = {keystone_server.port, keystone_server.swift_proxy_port}
    ports: set[int] = set()
    while len(ports) < 5:
        port = free_port()
        if port not in taken:
            ports.add(port)
    proxy, obj, cont, acct, memcached = sorted(ports)
    keystone, keystone_proxy = keystone_server.port, keystone_server.swift_proxy_port
    env.update({"SWIFT_PROXY_PORT": str(proxy), "SWIFT_OBJECT_PORT": str(obj),
                "SWIFT_CONTAINER_PORT": str(cont), "SWIFT_ACCOUNT_PORT": str(acct),
                "SWIFT_MEMCACHED_PORT": str(memcached),
                "SWIFT_KEYSTONE_URL": f"http://127.0.0.1:{keystone}",
                "SWIFT_KEYSTONE_PROXY_PORT": str(keystone_proxy)})
    started = time.monotonic()
    try:
        _run("swift-setup", env, 600)
        _run("swift-start", env, 120)
        print(f"\nSwift ready on :{proxy} (Keystone v3 proxy :{keystone_proxy}) in "
              f"{time.monotonic() - started:.1f}s")
        yield SwiftServer(proxy, env, keystone, keystone_proxy)
    finally:
        subprocess.run([str(SCRIPTS / "swift-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)


@dataclass
class RgwServer:
    """A running one-node Ceph with a RADOS Gateway (scripts/rgw-*)."""

    port: int
    env: dict[str, str]
    access_key: str
    secret_key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3(self) -> S3Server:
        return S3Server("rgw", self.url, self.access_key, self.secret_key)


@pytest.fixture(scope="session")
def rgw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RgwServer]:
    """Ceph RGW on free loopback ports (installs Debian's radosgw, ceph-mon and ceph-osd
    when missing); stopped by PID and wiped at the end."""
    root = tmp_path_factory.mktemp("rgw")
    ports: set[int] = set()
    while len(ports) < 2:
        ports.add(free_port())
    rgw, mon = sorted(ports)
    osd = free_port_range(16)
    env = {**os.environ, "RGW_ROOT": str(root), "RGW_PORT": str(rgw), "RGW_MON_PORT": str(mon),
           "RGW_OSD_PORT_MIN": str(osd), "RGW_OSD_PORT_MAX": str(osd + 15),
           "RGW_ACCESS_KEY": "glance-test-key", "RGW_SECRET_KEY": "glance-test-secret"}
    started = time.monotonic()
    try:
        _run("rgw-setup", env, 900)
        _run("rgw-start", env, 180)
        print(f"\nCeph RGW ready on :{rgw} in {time.monotonic() - started:.1f}s")
        yield RgwServer(rgw, env, env["RGW_ACCESS_KEY"], env["RGW_SECRET_KEY"])
    finally:
        subprocess.run([str(SCRIPTS / "rgw-stop"), "--wipe"], env=env, timeout=120,
                       capture_output=True)


S3_KINDS = ["s3api", "rgw"]


def s3_server_of(request: pytest.FixtureRequest, kind: str) -> S3Server:
    """The S3 endpoint of one implementation (starting its server if not yet running)."""
    if kind == "s3api":
        return request.getfixturevalue("swift_server").s3
    if kind == "rgw":
        return request.getfixturevalue("rgw_server").s3
    raise ValueError(kind)


@pytest.fixture(scope="session", params=S3_KINDS)
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each real S3 implementation in turn: Swift's s3api, then Ceph RGW."""
    return s3_server_of(request, request.param)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
