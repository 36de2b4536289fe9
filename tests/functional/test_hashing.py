"""``hashing_algorithm``: the algorithm of ``os_hash_algo`` / ``os_hash_value`` recorded on
upload (v1, v2 PUT, glance-direct import), against glance-api processes. An image keeps the
algorithm it was uploaded with: after a restart under another algorithm its copies and
downloads are still verified by it. Unknown algorithms stop the start."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from glance.client import CorruptDownload, V2Client
from glance.testing import free_port
from tests.conftest import RunningServer, start_server
from tests.functional._v1 import create_ok, md5
from tests.functional._v2 import OCTET, active, create, show
from tests.functional.test_v2_copies import copy, newest_task, settled, start_site


def download_with_client(server: RunningServer, image_id: str) -> bytes:
    """The image's bytes through our client, which verifies them by the image's hash."""
    client = V2Client(server.url)
    body = client.download(image_id)
    assert body is not None
    return b"".join(body)


def test_sha256_uploads_record_sha256(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", ["--hashing-algorithm", "sha256"])
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            data = os.urandom(2 * 1024 * 1024 + 3)
            v1 = create_ok(http, data=data)
            assert v1["checksum"] == md5(data) and v1["status"] == "active"
            v2_of_v1 = show(http, v1["id"])
            assert v2_of_v1["os_hash_algo"] == "sha256"
            assert v2_of_v1["os_hash_value"] == hashlib.sha256(data).hexdigest()

            v2 = active(http, data)
            assert v2["os_hash_algo"] == "sha256"
            assert v2["os_hash_value"] == hashlib.sha256(data).hexdigest()
            assert v2["checksum"] == md5(data)

            staged = create(http)
            assert http.put(f"/v2/images/{staged['id']}/stage", content=data,
                            headers=OCTET).status_code == 204
            assert http.post(f"/v2/images/{staged['id']}/import",
                             json={"method": {"name": "glance-direct"}}).status_code == 202
            imported = wait_active(http, staged["id"])
            assert imported["os_hash_algo"] == "sha256"
            assert imported["os_hash_value"] == hashlib.sha256(data).hexdigest()

            for image_id in (v1["id"], v2["id"], staged["id"]):
                assert download_with_client(server, image_id) == data
    finally:
        server.stop()


def test_the_default_is_sha512_and_other_algorithms_work(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    server = start_server(tmp_path / "default")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            image = active(http, data)
            assert image["os_hash_algo"] == "sha512"
            assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    finally:
        server.stop()
    # the name in any case; blake2b's 128 hex characters fit the column and the schema
    server = start_server(tmp_path / "blake", env={"GLANCE_HASHING_ALGORITHM": "BLAKE2b"})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            image = active(http, data)
            assert image["os_hash_algo"] == "blake2b"
            assert image["os_hash_value"] == hashlib.blake2b(data).hexdigest()
            assert download_with_client(server, image["id"]) == data
    finally:
        server.stop()


def test_images_keep_their_algorithm_across_a_change(tmp_path: Path) -> None:
    """Uploaded under sha512, then the server restarts with sha256: the old images still
    copy (verified by their sha512), download through the client, and a corrupt source
    copy is still caught by the recorded sha512."""
    site = start_site(tmp_path)
    data, other = os.urandom(1024 * 1024 + 1), os.urandom(300_000)
    try:
        with httpx.Client(base_url=site.server.url, timeout=60) as http:
            old = active(http, data)
            corrupt = active(http, other)
            assert old["os_hash_algo"] == corrupt["os_hash_algo"] == "sha512"
    finally:
        site.server.stop()
    config = tmp_path / "glance.toml"
    site.server = start_server(site.server.data_dir, ["--config", str(config),
                                                      "--hashing-algorithm", "sha256"])
    try:
        with httpx.Client(base_url=site.server.url, timeout=60) as http:
            assert active(http, data)["os_hash_algo"] == "sha256"

            assert copy(http, old["id"], stores=["slow"]).status_code == 202
            copied = settled(http, old["id"])
            assert copied["stores"] == "fast,slow" and copied["os_glance_failed_import"] == ""
            assert newest_task(http, old["id"])["status"] == "success"
            assert (copied["os_hash_algo"], copied["os_hash_value"]) == (
                "sha512", hashlib.sha512(data).hexdigest())
            assert (site.dirs["slow"] / old["id"]).read_bytes() == data
            assert download_with_client(site.server, old["id"]) == data

            # other bytes of the same size; the registry forgets the MD5 so that only the
            # recorded sha512 can tell
            (site.dirs["fast"] / corrupt["id"]).write_bytes(os.urandom(len(other)))
            with site.db() as db:
                db.execute("UPDATE images SET checksum = NULL WHERE id = ?", (corrupt["id"],))
            assert copy(http, corrupt["id"], stores=["slow"]).status_code == 202
            failed = settled(http, corrupt["id"])
            assert failed["stores"] == "fast" and failed["os_glance_failed_import"] == "slow"
            task = newest_task(http, corrupt["id"])
            assert task["status"] == "failure" and "Hash mismatch" in task["message"]
            assert "sha512" in task["message"]
            assert site.holding(corrupt["id"]) == {"fast"}
            with pytest.raises(CorruptDownload, match="Hash was"):
                download_with_client(site.server, corrupt["id"])
    finally:
        site.server.stop()


@pytest.mark.parametrize("name", ["md6", "shake_128", ""])
def test_unusable_algorithm_stops_startup(tmp_path: Path, name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--data-dir", str(tmp_path),
         "--port", str(free_port()), "--hashing-algorithm", name],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "hashing_algorithm" in result.stderr and "Traceback" not in result.stderr
    if name:
        assert name in result.stderr


def test_unusable_algorithm_in_the_config_file_stops_startup(tmp_path: Path) -> None:
    config = tmp_path / "glance.toml"
    config.write_text(f"[glance]\nhashing_algorithm = {json.dumps('shake_256')}\n")
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--data-dir", str(tmp_path / "data"),
         "--port", str(free_port()), "--config", str(config)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "hashing_algorithm" in result.stderr and "shake_256" in result.stderr
    assert "fixed digest size" in result.stderr


def wait_active(http: httpx.Client, image_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        image = show(http, image_id)
        if image["status"] == "active":
            return image
        assert image["status"] in ("importing", "saving") and time.monotonic() < deadline, image
        time.sleep(0.05)
