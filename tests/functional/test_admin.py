"""``glance admin verify`` and ``glance admin orphans`` on the registry and file store of a
running server, with a corrupted, a truncated and a missing copy, and orphan files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx

from tests.conftest import RunningServer, start_server
from tests.functional._cli import OURS, clean_env, run

OCTETS = {"Content-Type": "application/octet-stream"}


def upload(url: str, name: str, data: bytes) -> str:
    image = httpx.post(url + "/v2/images", json={
        "name": name, "disk_format": "raw", "container_format": "bare"}).json()
    answer = httpx.put(f"{url}/v2/images/{image['id']}/file", content=data, headers=OCTETS)
    assert answer.status_code == 204, answer.text
    return str(image["id"])


def admin(srv: RunningServer, *args: str) -> tuple[int, str, str]:
    result = run(OURS, "admin", *args, "--data-dir", str(srv.data_dir), env=clean_env())
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_verify_reports_missing_corrupt_and_truncated_copies(fresh_server: RunningServer
                                                             ) -> None:
    url = fresh_server.url
    ids = {name: upload(url, name, os.urandom(2 * 1024 * 1024 + n))
           for n, name in enumerate(("good", "flipped", "truncated", "missing"))}
    assert admin(fresh_server, "verify")[0] == 0  # all well to begin with

    store = fresh_server.store_dir
    with open(store / ids["flipped"], "r+b") as fh:  # same size, one byte changed
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with open(store / ids["truncated"], "r+b") as fh:
        fh.truncate(1024)
    (store / ids["missing"]).unlink()

    code, out, err = admin(fresh_server, "verify")
    assert code == 1
    problems = dict(line.split("\t")[0::3] for line in out.splitlines())
    assert set(problems) == {ids["flipped"], ids["truncated"], ids["missing"]}
    assert problems[ids["missing"]] == "missing"
    assert problems[ids["flipped"]].startswith("corrupt: MD5 ")
    assert "sha512 differs from os_hash_value" in problems[ids["flipped"]]
    assert problems[ids["truncated"]].startswith("corrupt: size 1024, recorded 2097154")
    assert "verify: [4/4] image " in err and "4 copies checked, 3 with problems" in err

    code, out, _ = admin(fresh_server, "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["checked"] == 4 and report["problems"] == 3
    good = [c for c in report["copies"] if c["image_id"] == ids["good"]]
    assert good == [{"image_id": ids["good"], "store": "file", "key": ids["good"],
                     "problem": None, "bytes_read": 2 * 1024 * 1024, "checked": True}]

    assert admin(fresh_server, "verify", "--image", ids["good"])[0] == 0
    code, out, _ = admin(fresh_server, "verify", "--image", ids["missing"])
    assert code == 1 and out.split("\t")[3].strip() == "missing"
    code, _, err = admin(fresh_server, "verify", "--image", "no-such-image")
    assert code == 1 and "not found" in err and "Traceback" not in err
    # the server still serves the good one, and verify changed nothing
    assert hashlib.md5(httpx.get(f"{url}/v2/images/{ids['good']}/file").content).hexdigest() \
        == httpx.get(f"{url}/v2/images/{ids['good']}").json()["checksum"]


def test_orphans_listed_then_deleted(fresh_server: RunningServer) -> None:
    url = fresh_server.url
    kept = upload(url, "kept", b"k" * 4096)
    store = fresh_server.store_dir
    (store / "3f0c7b5e-0000-4000-8000-00000000dead").write_bytes(b"o" * 77)  # no record
    (store / "leftover").write_bytes(b"x")
    staging = fresh_server.data_dir / "staging"
    staging.mkdir(exist_ok=True)
    (staging / "3f0c7b5e-0000-4000-8000-0000000staged").write_bytes(b"s" * 5)

    code, out, err = admin(fresh_server, "orphans")
    assert code == 1
    rows = sorted(tuple(line.split("\t")) for line in out.splitlines())
    assert rows == [
        ("file", "3f0c7b5e-0000-4000-8000-00000000dead", "77", "kept"),
        ("file", "leftover", "1", "kept"),
        ("os_glance_staging_store", "3f0c7b5e-0000-4000-8000-0000000staged", "5", "kept")]
    assert "3 orphan object(s)" in err
    assert (store / "leftover").exists()

    code, out, err = admin(fresh_server, "orphans", "--delete", "--json")
    assert code == 0
    assert sorted(o["key"] for o in json.loads(out)["orphans"]) == [
        "3f0c7b5e-0000-4000-8000-00000000dead", "3f0c7b5e-0000-4000-8000-0000000staged",
        "leftover"]
    assert [p.name for p in fresh_server.stored_files()] == [kept]
    assert admin(fresh_server, "orphans") == (0, "", "0 orphan object(s)\n")
    assert httpx.get(f"{url}/v2/images/{kept}/file").content == b"k" * 4096
