"""``hashing_algorithm``: os_hash_algo / os_hash_value of new uploads in any hashlib
algorithm; copies and verify follow each image's own algorithm; unknown names stop start-up."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import start_server
from tests.functional._cli import OURS, clean_env, run
from tests.functional.test_v2_copies import copy, settled

OCTETS = {"Content-Type": "application/octet-stream"}


def test_sha256_uploads_copies_of_older_sha512_images_and_verify(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stores = {"hot": {"driver": "file", "directory": str(tmp_path / "hot")},
              "cold": {"driver": "file", "directory": str(tmp_path / "cold")}}
    env = {"GLANCE_STORES": json.dumps(stores)}
    old_data = os.urandom(1_000_003)
    srv = start_server(data_dir, env=env)  # the default: sha512
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as http:
            old = http.post("/v2/images", json={"name": "old", "disk_format": "raw",
                                                "container_format": "bare"}).json()["id"]
            assert http.put(f"/v2/images/{old}/file", content=old_data,
                            headers=OCTETS).status_code == 204
            shown = http.get(f"/v2/images/{old}").json()
            assert shown["os_hash_algo"] == "sha512"
            assert shown["os_hash_value"] == hashlib.sha512(old_data).hexdigest()
    finally:
        srv.stop()

    srv = start_server(data_dir, ["--hashing-algorithm", "sha256"], env=env)
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as http:
            data = os.urandom(2_500_001)
            new = http.post("/v2/images", json={"name": "new", "disk_format": "raw",
                                                "container_format": "bare"}).json()["id"]
            assert http.put(f"/v2/images/{new}/file", content=data,
                            headers=OCTETS).status_code == 204
            shown = http.get(f"/v2/images/{new}").json()
            assert shown["os_hash_algo"] == "sha256"
            assert shown["os_hash_value"] == hashlib.sha256(data).hexdigest()
            assert shown["checksum"] == hashlib.md5(data).hexdigest()
            v1 = httpx.post(srv.url + "/v1/images", content=data, headers={
                **OCTETS, "x-image-meta-name": "v1", "x-image-meta-disk_format": "raw",
                "x-image-meta-container_format": "bare"}).json()["image"]
            v1_shown = http.get(f"/v2/images/{v1['id']}").json()
            assert v1_shown["os_hash_value"] == hashlib.sha256(data).hexdigest()

            # a copy of the older image is checked against its own sha512
            assert copy(http, old, stores=["cold"]).status_code == 202
            copied = settled(http, old)
            assert sorted(copied["stores"].split(",")) == ["cold", "hot"]
            assert copied["os_hash_algo"] == "sha512"
            assert (tmp_path / "cold" / old).read_bytes() == old_data

        result = run(OURS, "admin", "verify", "--data-dir", str(data_dir),
                     env=clean_env(**env))
        assert result.returncode == 0, result.stdout + result.stderr
        assert b"4 copies checked, 0 with problems" in result.stderr
    finally:
        srv.stop()


def test_unknown_hashing_algorithm_stops_startup(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "glance.cli.api", "--data-dir", str(tmp_path),
         "--hashing-algorithm", "sha-imaginary"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "hashing_algorithm" in result.stderr and "sha-imaginary" in result.stderr
    assert "Traceback" not in result.stderr
