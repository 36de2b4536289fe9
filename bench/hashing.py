"""What ``hashing_algorithm = sha256`` gains over the default ``sha512``: upload throughput
of a 1 GiB image (v2 PUT, file store) with each, medians of --runs, beside the ceiling
measured in the same run — raw hashlib speed of MD5 and of each algorithm on the same 1 MiB
buffers (an upload hashes MD5 and the algorithm in two threads at once, so the slower of
the two bounds it).

    .venv/bin/python bench/hashing.py [--runs 3] [--mib 1024] [--fsync false]

With ``--fsync false`` (the default here) the file store does not fsync, so the disk's
write-back speed weighs less. Not part of the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glance.testing import start_server  # noqa: E402

MiB = 1 << 20
ALGORITHMS = ("sha512", "sha256")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def raw_speed(algorithm: str, buffer: bytes, mib: int) -> float:
    """MB/s of hashlib ``algorithm`` over ``mib`` updates of ``buffer`` (1 MiB)."""
    digest = hashlib.new(algorithm)
    started = time.perf_counter()
    for _ in range(mib):
        digest.update(buffer)
    return mib * MiB / (time.perf_counter() - started) / 1e6


def chunks(buffer: bytes, mib: int) -> Iterator[bytes]:
    for _ in range(mib):
        yield buffer


def upload_speed(url: str, buffer: bytes, mib: int) -> tuple[float, str]:
    """MB/s of one v2 upload of ``mib`` MiB; the image's os_hash_algo."""
    with httpx.Client(base_url=url, timeout=600) as http:
        image = http.post("/v2/images", json={"name": "bench", "disk_format": "raw",
                                              "container_format": "bare"}).json()
        started = time.perf_counter()
        answer = http.put(f"/v2/images/{image['id']}/file", content=chunks(buffer, mib),
                          headers={"Content-Type": "application/octet-stream"})
        seconds = time.perf_counter() - started
        assert answer.status_code == 204, answer.text
        algo = str(http.get(f"/v2/images/{image['id']}").json()["os_hash_algo"])
        http.delete(f"/v2/images/{image['id']}")
    return mib * MiB / seconds / 1e6, algo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=1024, help="image size in MiB")
    parser.add_argument("--fsync", default="false", help="file_store_fsync of the server")
    args = parser.parse_args()
    buffer = os.urandom(MiB)
    raw: dict[str, list[float]] = {name: [] for name in ("md5", *ALGORITHMS)}
    uploads: dict[str, list[float]] = {name: [] for name in ALGORITHMS}
    with tempfile.TemporaryDirectory(prefix="glance-bench-hash-") as tmp:
        for run in range(args.runs):
            for name in raw:
                raw[name].append(raw_speed(name, buffer, args.mib))
            for algorithm in ALGORITHMS:
                server = start_server(Path(tmp) / f"{algorithm}-{run}", [
                    "--hashing-algorithm", algorithm, "--file-store-fsync", args.fsync])
                try:
                    speed, recorded = upload_speed(server.url, buffer, args.mib)
                    assert recorded == algorithm
                    uploads[algorithm].append(speed)
                finally:
                    server.stop()
            log(f"run {run + 1}: raw " + ", ".join(f"{n} {v[-1]:.0f}" for n, v in raw.items())
                + " MB/s; uploads " + ", ".join(f"{n} {v[-1]:.0f}" for n, v in uploads.items())
                + " MB/s")
    raw_med = {name: statistics.median(values) for name, values in raw.items()}
    up_med = {name: statistics.median(values) for name, values in uploads.items()}
    print(f"{args.mib} MiB upload, medians of {args.runs} (MB/s); ceiling = the slower of "
          f"raw MD5 ({raw_med['md5']:.0f}) and the raw algorithm, same run; fsync {args.fsync}")
    print(f"{'algorithm':<10} {'raw hash':>9} {'ceiling':>8} {'upload':>8} {'upload/ceiling':>15}")
    for algorithm in ALGORITHMS:
        ceiling = min(raw_med["md5"], raw_med[algorithm])
        print(f"{algorithm:<10} {raw_med[algorithm]:>9.0f} {ceiling:>8.0f} "
              f"{up_med[algorithm]:>8.0f} {up_med[algorithm] / ceiling:>15.2f}")
    print(f"sha256 upload / sha512 upload = {up_med['sha256'] / up_med['sha512']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
