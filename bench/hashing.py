"""``hashing_algorithm``: v2 upload throughput of one image with sha512 (the default) and
with sha256 (SHA-NI accelerates it on this machine's CPUs), beside the ceiling measured in
the same run — hashlib alone computing MD5 + the algorithm in two threads over as many
bytes, as the upload pipeline does. Medians of --runs; CPU seconds per GiB too (the
server's, and hashlib's), much less sensitive than wall time to a loaded machine.

    .venv/bin/python bench/hashing.py [--mib 1024] [--runs 3] [--algorithms sha512,sha256]

The file store does not fsync (``--file-store-fsync false``): the disk is not what is
measured. Not part of the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import cpu_seconds, log, tree_pids  # noqa: E402
from glance.testing import start_server  # noqa: E402

MiB = 1 << 20
MB = 1e6


def hash_rate(algorithm: str, mib: int) -> tuple[float, float]:
    """(MB/s, CPU seconds) of MD5 and ``algorithm`` over ``mib`` MiB, each in its own thread
    (1 MiB buffers, as the pipeline feeds them); the ceiling of an upload."""
    block = os.urandom(MiB)

    def run(name: str) -> None:
        hasher = hashlib.new(name)
        for _ in range(mib):
            hasher.update(block)
        hasher.hexdigest()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("md5", algorithm)]
    start, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return mib * MiB / MB / (time.perf_counter() - start), time.process_time() - cpu


def upload_rate(url: str, pids: list[int], path: Path) -> tuple[float, float, str]:
    """(MB/s, server CPU seconds, os_hash_algo) of one v2 create + PUT of ``path`` (curl,
    streamed from the file)."""
    with httpx.Client(base_url=url, timeout=600) as http:
        image = http.post("/v2/images", json={"disk_format": "raw",
                                              "container_format": "bare"}).json()
        cpu = cpu_seconds(pids)
        start = time.perf_counter()
        subprocess.run(["curl", "-sS", "--fail", "-X", "PUT", "-T", str(path), "-H",
                        "Content-Type: application/octet-stream",
                        f"{url}/v2/images/{image['id']}/file", "-o", "/dev/null"],
                       check=True)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds(pids) - cpu
        done = http.get(f"/v2/images/{image['id']}").json()
        assert done["status"] == "active" and done["size"] == path.stat().st_size, done
        http.delete(f"/v2/images/{image['id']}")
    return path.stat().st_size / MB / seconds, cpu, done["os_hash_algo"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--algorithms", default="sha512,sha256")
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-hashing-") as tmp:
        base = Path(tmp)
        source = base / "image.raw"
        with open(source, "wb") as out:
            for _ in range(args.mib):
                out.write(os.urandom(MiB))
        for algorithm in algorithms:
            ceilings, hash_cpus = [], []
            for _ in range(args.runs):
                rate, cpu = hash_rate(algorithm, args.mib)
                ceilings.append(rate)
                hash_cpus.append(cpu)
                log(f"hashlib md5+{algorithm}: {rate:.0f} MB/s, {cpu:.2f} CPU-s")
            server = start_server(base / f"data-{algorithm}",
                                  ["--hashing-algorithm", algorithm,
                                   "--file-store-fsync", "false", "--log-level", "WARNING"])
            try:
                pids = tree_pids(server.process.pid)
                rates, cpus = [], []
                for _ in range(args.runs):
                    rate, cpu, recorded = upload_rate(server.url, pids, source)
                    assert recorded == algorithm, recorded
                    rates.append(rate)
                    cpus.append(cpu)
                    log(f"upload {algorithm}: {rate:.0f} MB/s, server {cpu:.2f} CPU-s")
            finally:
                server.stop()
            rows[algorithm] = {"upload": statistics.median(rates),
                               "cpu": statistics.median(cpus),
                               "ceiling": statistics.median(ceilings),
                               "hash_cpu": statistics.median(hash_cpus)}
    gib = args.mib / 1024
    print(f"\n{args.mib} MiB v2 PUT (curl, file store without fsync), medians of "
          f"{args.runs}; load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} "
          f"{os.getloadavg()[2]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'algorithm':<10} {'upload MB/s':>12} {'hashlib MB/s':>13} {'ratio':>6} "
          f"{'server CPU-s/GiB':>17} {'hashlib CPU-s/GiB':>18} {'ratio':>6}")
    for algorithm, row in rows.items():
        print(f"{algorithm:<10} {row['upload']:>12.0f} {row['ceiling']:>13.0f} "
              f"{row['upload'] / row['ceiling']:>6.2f} {row['cpu'] / gib:>17.2f} "
              f"{row['hash_cpu'] / gib:>18.2f} {row['cpu'] / row['hash_cpu']:>6.2f}")
    if len(algorithms) >= 2:
        first, second = rows[algorithms[0]], rows[algorithms[1]]
        print(f"{algorithms[1]} vs {algorithms[0]}: upload "
              f"x{second['upload'] / first['upload']:.2f}, server CPU "
              f"x{second['cpu'] / first['cpu']:.2f}; hashlib MB/s "
              f"x{second['ceiling'] / first['ceiling']:.2f}, hashlib CPU "
              f"x{second['hash_cpu'] / first['hash_cpu']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
