"""Upload and download one image through glance-api into each store; print MB/s and peak RSS.

    .venv/bin/python bench/store_throughput.py [--mib 1024] [--stores local,cold,archive,rgw]
        [--runs 3]

Starts its own Swift (scripts/swift-setup + swift-start on free ports, stopped by PID at the
end), its own Ceph RGW when the store ``rgw`` is asked for (scripts/rgw-setup + rgw-start,
likewise stopped), and its own glance-api with stores local (file), cold (S3 on Swift's
s3api), archive (Swift) and rgw (S3 on Ceph RGW), using the drivers' default part and segment
sizes unless told otherwise. With --runs N, each store's figures are the median of N runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glance.testing import free_port, free_port_range, start_server  # noqa: E402


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
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    names = args.stores.split(",")
    work = Path(tempfile.mkdtemp(prefix="glance-bench-"))
    ports = sorted({free_port() for _ in range(10)})[:7]
    env = {**os.environ, "SWIFT_ROOT": str(work / "swift"), "SWIFT_PROXY_PORT": str(ports[0]),
           "SWIFT_OBJECT_PORT": str(ports[1]), "SWIFT_CONTAINER_PORT": str(ports[2]),
           "SWIFT_ACCOUNT_PORT": str(ports[3]), "SWIFT_MEMCACHED_PORT": str(ports[4]),
           "RGW_ROOT": str(work / "rgw"), "RGW_PORT": str(ports[5]),
           "RGW_MON_PORT": str(ports[6])}
    server = None
    rgw = "rgw" in names
    try:
        subprocess.run([ROOT / "scripts/swift-setup"], env=env, check=True)
        subprocess.run([ROOT / "scripts/swift-start"], env=env, check=True)
        if rgw:
            osd = free_port_range(16)
            env.update(RGW_OSD_PORT_MIN=str(osd), RGW_OSD_PORT_MAX=str(osd + 15))
            subprocess.run([ROOT / "scripts/rgw-setup"], env=env, check=True)
            subprocess.run([ROOT / "scripts/rgw-start"], env=env, check=True)
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
        if rgw:
            stores["rgw"] = {**s3, "endpoint_url": f"http://127.0.0.1:{ports[5]}",
                             "access_key": "testkey", "secret_key": "testsecret"}
        server = start_server(work / "data", env={"GLANCE_STORES": json.dumps(stores),
                                                  "GLANCE_DEFAULT_STORE": "local"})
        block = os.urandom(1 << 20)
        size = args.mib << 20
        print(f"{args.mib} MiB through glance-api (load average {os.getloadavg()[0]:.1f}), "
              f"median of {args.runs} run(s)")
        for name in names:
            ups, downs = [], []
            for _ in range(args.runs):
                up, down, rss_up = one_run(server, name, block, args.mib)
                ups.append(up)
                downs.append(down)
            up, down = statistics.median(ups), statistics.median(downs)
            print(f"  {name:8s} up {size / up / 1e6:7.1f} MB/s ({up:5.1f} s)   down "
                  f"{size / down / 1e6:7.1f} MB/s ({down:5.1f} s)   glance-api peak RSS so far: "
                  f"after upload {rss_up:4.0f} MiB, after download "
                  f"{hwm_mib(server.process.pid):4.0f} MiB"
                  + (f"   (runs: up {' '.join(f'{size / u / 1e6:.0f}' for u in ups)}, down "
                     f"{' '.join(f'{size / d / 1e6:.0f}' for d in downs)} MB/s)"
                     if args.runs > 1 else ""))
    finally:
        if server is not None:
            server.stop()
        if rgw:
            subprocess.run([ROOT / "scripts/rgw-stop", "--wipe"], env=env)
        subprocess.run([ROOT / "scripts/swift-stop", "--wipe"], env=env)
        subprocess.run(["rm", "-rf", str(work)])
    return 0


def one_run(server, name: str, block: bytes, mib: int) -> tuple[float, float, float]:  # noqa: ANN001
    """Upload and download ``mib`` MiB through store ``name``, then delete the image: the
    upload and download seconds and the server's peak RSS after the upload."""
    md5 = hashlib.md5()

    def body():
        for _ in range(mib):
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
    httpx.delete(f"{server.url}/v1/images/{image['id']}", timeout=600)
    return up, down, rss_up


if __name__ == "__main__":
    raise SystemExit(main())
