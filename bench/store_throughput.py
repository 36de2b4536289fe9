"""Upload and download one image through glance-api into each store; print MB/s and peak RSS.

    .venv/bin/python bench/store_throughput.py [--mib 1024] [--stores local,cold,archive]

Starts its own Swift (scripts/swift-setup + swift-start on free ports, stopped by PID at the
end) and its own glance-api with stores local (file), cold (S3 on Swift's s3api) and archive
(Swift), using the drivers' default part and segment sizes unless told otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, start_server  # noqa: E402


def hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--stores", default="local,cold,archive")
    parser.add_argument("--s3-part-size", type=int, default=None)
    parser.add_argument("--swift-segment-size", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="glance-bench-"))
    ports = sorted({free_port() for _ in range(8)})[:5]
    env = {**os.environ, "SWIFT_ROOT": str(work / "swift"), "SWIFT_PROXY_PORT": str(ports[0]),
           "SWIFT_OBJECT_PORT": str(ports[1]), "SWIFT_CONTAINER_PORT": str(ports[2]),
           "SWIFT_ACCOUNT_PORT": str(ports[3]), "SWIFT_MEMCACHED_PORT": str(ports[4])}
    subprocess.run([ROOT / "scripts/swift-setup"], env=env, check=True)
    subprocess.run([ROOT / "scripts/swift-start"], env=env, check=True)
    server = None
    try:
        url = f"http://127.0.0.1:{ports[0]}"
        s3 = {"driver": "s3", "endpoint_url": url, "bucket": "bench", "access_key": "test:tester",
              "secret_key": "testing", "create_bucket": True}
        swift = {"driver": "swift", "auth_url": url + "/auth/v1.0", "user": "test:tester",
                 "key": "testing", "container": "bench", "create_container": True}
        if args.s3_part_size:
            s3.update(part_size=args.s3_part_size, multipart_threshold=args.s3_part_size)
        if args.swift_segment_size:
            swift["segment_size"] = args.swift_segment_size
        if args.concurrency:
            s3["max_concurrency"] = swift["max_concurrency"] = args.concurrency
        stores = {"local": {"driver": "file", "directory": str(work / "local")},
                  "cold": s3, "archive": swift}
        server = start_server(work / "data", env={"GLANCE_STORES": json.dumps(stores),
                                                  "GLANCE_DEFAULT_STORE": "local"})
        block = os.urandom(1 << 20)
        size = args.mib << 20
        print(f"{args.mib} MiB through glance-api (load average {os.getloadavg()[0]:.1f})")
        for name in args.stores.split(","):
            md5 = hashlib.md5()

            def body():
                for _ in range(args.mib):
                    md5.update(block)
                    yield block

            t0 = time.monotonic()
            answer = httpx.post(server.url + "/v1/images", content=body(), timeout=3600,
                                headers={"x-image-meta-name": "bench",
                                         "x-image-meta-disk_format": "raw",
                                         "x-image-meta-container_format": "bare",
                                         "x-image-meta-store": name,
                                         "Content-Type": "application/octet-stream"})
            up = time.monotonic() - t0
            rss_up = hwm_mib(server.process.pid)
            assert answer.status_code == 201, answer.text
            image = answer.json()["image"]
            assert image["checksum"] == md5.hexdigest()
            got = hashlib.md5()
            t0 = time.monotonic()
            with httpx.stream("GET", f"{server.url}/v1/images/{image['id']}", timeout=3600) as r:
                for chunk in r.iter_bytes(1 << 20):
                    got.update(chunk)
            down = time.monotonic() - t0
            assert got.hexdigest() == md5.hexdigest()
            print(f"  {name:8s} up {size / up / 1e6:7.1f} MB/s ({up:5.1f} s)   down "
                  f"{size / down / 1e6:7.1f} MB/s ({down:5.1f} s)   glance-api peak RSS so far: "
                  f"after upload {rss_up:4.0f} MiB, after download "
                  f"{hwm_mib(server.process.pid):4.0f} MiB")
            httpx.delete(f"{server.url}/v1/images/{image['id']}", timeout=600)
    finally:
        if server is not None:
            server.stop()
        subprocess.run([ROOT / "scripts/swift-stop", "--wipe"], env=env)
        subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
