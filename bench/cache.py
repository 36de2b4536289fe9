"""The image cache: a 1 GiB image in S3 on Ceph RGW and in Swift, downloaded uncached, first
through the cache (the fill runs beside the client), and again (from the cached file),
beside nginx serving the very same cached file from disk; medians of N runs, with each
server's CPU seconds and peak RSS rise during its downloads.

    .venv/bin/python bench/cache.py [--mib 1024] [--runs 3] [--stores rgw,archive]

Starts its own Swift (scripts/swift-setup + swift-start), Ceph RGW (scripts/rgw-setup +
rgw-start), nginx (Debian's, installed when missing) and two glance-api processes on one
registry: one without the cache (the uncached figure) and one with it. Downloads are made by
curl into /dev/null. Everything is stopped by PID at the end. Targets (issue 14): second ≥
0.9× nginx; first ≥ 0.9× uncached; RSS flat.
"""

from __future__ import annotations

import argparse
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

from bench.measure import cpu_seconds, reset_hwm  # noqa: E402
from bench.targets import Nginx  # noqa: E402
from glance.testing import RunningServer, free_port, free_port_range, start_server  # noqa: E402


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def curl_seconds(url: str) -> float:
    """Seconds curl takes to GET ``url`` into /dev/null (checking the whole body came)."""
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{time_total} %{size_download}"
                          " %{http_code}", url], check=True, capture_output=True, text=True)
    seconds, size, code = out.stdout.split()
    assert code == "200", out.stdout
    return float(seconds)


def timed(server: RunningServer, url: str) -> tuple[float, float, float]:
    """curl's seconds for ``url``, the CPU seconds ``server`` spent meanwhile, and how far
    its RSS rose above where it started (MiB, peak)."""
    pid = server.process.pid
    cpu = cpu_seconds([pid])
    reset_hwm([pid])
    before = rss_mib(pid)
    seconds = curl_seconds(url)
    return seconds, cpu_seconds([pid]) - cpu, rss_mib(pid, "VmHWM") - before


def upload(server: RunningServer, store: str, mib: int) -> str:
    block = os.urandom(1 << 20)
    image = httpx.post(server.url + "/v2/images", json={
        "name": "bench-cache", "disk_format": "raw", "container_format": "bare"}).json()
    resp = httpx.put(f"{server.url}/v2/images/{image['id']}/file",
                     content=(block for _ in range(mib)), timeout=3600,
                     headers={"Content-Type": "application/octet-stream",
                              "X-Image-Meta-Store": store})
    assert resp.status_code == 204, resp.text
    return str(image["id"])


def cached(server: RunningServer, image_id: str) -> bool:
    listed = httpx.get(server.url + "/v2/cache", timeout=60).json()["cached_images"]
    return any(entry["image_id"] == image_id for entry in listed)


def wait_cached(server: RunningServer, image_id: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while not cached(server, image_id):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{image_id} not cached after {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stores", default="rgw,archive")
    args = parser.parse_args()
    names = args.stores.split(",")
    work = Path(tempfile.mkdtemp(prefix="glance-bench-cache-"))
    ports = sorted({free_port() for _ in range(10)})[:7]
    env = {**os.environ, "SWIFT_ROOT": str(work / "swift"), "SWIFT_PROXY_PORT": str(ports[0]),
           "SWIFT_OBJECT_PORT": str(ports[1]), "SWIFT_CONTAINER_PORT": str(ports[2]),
           "SWIFT_ACCOUNT_PORT": str(ports[3]), "SWIFT_MEMCACHED_PORT": str(ports[4]),
           "RGW_ROOT": str(work / "rgw"), "RGW_PORT": str(ports[5]),
           "RGW_MON_PORT": str(ports[6])}
    rgw = "rgw" in names
    stops = []
    try:
        subprocess.run([ROOT / "scripts/swift-setup"], env=env, check=True)
        subprocess.run([ROOT / "scripts/swift-start"], env=env, check=True)
        stops.append(lambda: subprocess.run([ROOT / "scripts/swift-stop", "--wipe"], env=env))
        if rgw:
            osd = free_port_range(16)
            env.update(RGW_OSD_PORT_MIN=str(osd), RGW_OSD_PORT_MAX=str(osd + 15))
            subprocess.run([ROOT / "scripts/rgw-setup"], env=env, check=True)
            subprocess.run([ROOT / "scripts/rgw-start"], env=env, check=True)
            stops.append(lambda: subprocess.run([ROOT / "scripts/rgw-stop", "--wipe"], env=env))
        swift_url = f"http://127.0.0.1:{ports[0]}"
        stores = {
            "local": {"driver": "file", "directory": str(work / "local"), "fsync": False},
            "archive": {"driver": "swift", "auth_url": swift_url + "/auth/v1.0",
                        "user": "test:tester", "key": "testing", "container": "bench",
                        "create_container": True},
            "rgw": {"driver": "s3", "endpoint_url": f"http://127.0.0.1:{ports[5]}",
                    "bucket": "bench", "access_key": "testkey", "secret_key": "testsecret",
                    "create_bucket": True},
        }
        if not rgw:
            del stores["rgw"]
        common = {"GLANCE_STORES": json.dumps(stores), "GLANCE_DEFAULT_STORE": "local"}
        plain = start_server(work / "data", env=common)
        stops.append(plain.stop)
        caching = start_server(work / "data", env={
            **common, "GLANCE_IMAGE_CACHE_ENABLED": "true",
            "GLANCE_IMAGE_CACHE_DIR": str(work / "cache"),
            "GLANCE_IMAGE_CACHE_MAX_SIZE": str(4 * (args.mib << 20))})
        stops.append(caching.stop)
        nginx = Nginx(work)
        stops.append(nginx.stop)
        size = args.mib << 20
        print(f"{args.mib} MiB image, median of {args.runs} runs (load average "
              f"{os.getloadavg()[0]:.1f}); MB/s by curl into /dev/null")
        print(f"{'store':8s} {'uncached':>9s} {'first':>9s} {'second':>9s} {'nginx':>9s} "
              f"{'first/unc':>9s} {'2nd/nginx':>9s}  fill done after   RSS MiB before → after: "
              "caching server; uncached server")
        for name in names:
            image_id = upload(plain, name, args.mib)
            rows: dict[str, list[float]] = {k: [] for k in (
                "unc", "first", "second", "nginx", "fill", "unc_cpu", "first_cpu", "unc_rss",
                "first_rss", "second_rss")}
            rss_before = rss_mib(caching.process.pid)
            plain_before = rss_mib(plain.process.pid)
            for _ in range(args.runs):
                for kind, server in (("unc", plain), ("first", caching), ("second", caching)):
                    if kind == "first":
                        httpx.delete(f"{caching.url}/v2/cache/{image_id}")
                    seconds, cpu, rss = timed(server, f"{server.url}/v2/images/{image_id}/file")
                    rows[kind].append(seconds)
                    rows[f"{kind}_rss"].append(rss)
                    if kind != "second":
                        rows[f"{kind}_cpu"].append(cpu)
                    if kind == "first":
                        rows["fill"].append(wait_cached(caching, image_id))
                link = nginx.dav / "cached.bin"
                link.unlink(missing_ok=True)
                os.link(work / "cache" / "data" / image_id, link)
                rows["nginx"].append(curl_seconds(nginx.url + "/cached.bin"))
            med = {k: statistics.median(v) for k, v in rows.items()}
            rate = {k: size / med[k] / 1e6 for k in ("unc", "first", "second", "nginx")}
            print(f"{name:8s} {rate['unc']:9.0f} {rate['first']:9.0f} {rate['second']:9.0f} "
                  f"{rate['nginx']:9.0f} {rate['first'] / rate['unc']:9.2f} "
                  f"{rate['second'] / rate['nginx']:9.2f}  {med['fill']:6.2f} s        "
                  f"{rss_before:5.0f} → {rss_mib(caching.process.pid):5.0f}; "
                  f"{plain_before:.0f} → {rss_mib(plain.process.pid):.0f}")
            print("         runs (MB/s): " + "; ".join(
                f"{k} " + " ".join(f"{size / s / 1e6:.0f}" for s in rows[k])
                for k in ("unc", "first", "second", "nginx")))
            print(f"         server CPU-s during the download: uncached {med['unc_cpu']:.2f}, "
                  f"first {med['first_cpu']:.2f} (the fill's hashing comes after it); RSS rise "
                  f"during it (peak MiB): uncached {med['unc_rss']:.0f}, first "
                  f"{med['first_rss']:.0f}, second {med['second_rss']:.0f}")
        gave_up = caching.log().count("fell behind")
        print(f"fills given up because the disk fell behind (then prefetched): {gave_up}")
    finally:
        for stop in reversed(stops):
            stop()
        subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
