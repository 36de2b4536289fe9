"""glance-api with 1 and with 2 worker processes (``--workers``): v2 creates per second with
concurrent clients, and concurrent 1 GiB uploads; medians of --runs, each beside a ceiling
measured in the same run.

    .venv/bin/python bench/workers.py [--workers 1,2] [--runs 3] [--clients 16]
        [--creates 2000] [--uploads 4] [--upload-mib 1024] [--database-url URL]

``--uploads 0`` measures creates only; ``--database-url`` puts the registry there (e.g. an
empty PostgreSQL database) instead of each run's own SQLite file.

Ceilings: for creates, the same clients asking the same server for ``GET /versions`` (no
registry, no body); for uploads, the same number of threads writing as many bytes into new
files on the same disk with the same fsync (no HTTP, no hashing). Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glance.testing import RunningServer, start_server  # noqa: E402

MiB = 1 << 20
CREATE = {"disk_format": "raw", "container_format": "bare"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def serve(data_dir: Path, workers: int, database_url: str | None) -> RunningServer:
    extra = ["--database-url", database_url] if database_url else []
    for attempt in range(3):  # a loaded machine may take longer than start_server waits
        try:
            server = start_server(data_dir, ["--workers", str(workers), *extra])
            break
        except RuntimeError:
            if attempt == 2:
                raise
            log("glance-api did not start in time; trying again")
    deadline = time.monotonic() + 120
    while server.log().count(" serving on ") < workers:  # every worker, not just one
        if time.monotonic() > deadline:
            raise RuntimeError(server.log())
        time.sleep(0.1)
    return server


def requests_per_second(clients: int, total: int, call: Callable[[httpx.Client], int],
                        url: str) -> float:
    """``total`` calls spread over ``clients`` threads, each on its own keep-alive client."""
    per_client = total // clients
    barrier = threading.Barrier(clients + 1)
    failures: list[int] = []

    def run() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            call(http)  # connect first
            barrier.wait()
            for _ in range(per_client):
                status = call(http)
                if status >= 300:
                    failures.append(status)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} failed requests, e.g. {failures[:5]}")
    return per_client * clients / elapsed


def body(size: int, block: bytes) -> Iterator[bytes]:
    for _ in range(size // len(block)):
        yield block


def uploads_mb_per_s(url: str, count: int, size: int) -> float:
    """``count`` concurrent v2 uploads of ``size`` bytes each; aggregate MB/s."""
    block = os.urandom(MiB)
    with httpx.Client(base_url=url, timeout=600) as http:
        ids = [http.post("/v2/images", json={**CREATE, "name": f"up{n}"}).json()["id"]
               for n in range(count)]

    def upload(image_id: str) -> int:
        return httpx.put(f"{url}/v2/images/{image_id}/file", content=body(size, block),
                         headers={"Content-Type": "application/octet-stream"},
                         timeout=600).status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(upload, ids))
    elapsed = time.perf_counter() - started
    if statuses != [204] * count:
        raise RuntimeError(f"uploads answered {statuses}")
    with httpx.Client(base_url=url, timeout=600) as http:
        for image_id in ids:
            http.delete(f"/v2/images/{image_id}")
    return count * size / elapsed / 1e6


def disk_mb_per_s(directory: Path, count: int, size: int) -> float:
    """``count`` threads each writing ``size`` bytes into a new file, fsynced: MB/s."""
    block = os.urandom(MiB)

    def write(n: int) -> None:
        path = directory / f"ceiling-{n}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for _ in range(size // MiB):
                os.write(fd, block)
            os.fsync(fd)
        finally:
            os.close(fd)

    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        list(pool.map(write, range(count)))
    elapsed = time.perf_counter() - started
    for n in range(count):
        (directory / f"ceiling-{n}").unlink()
    return count * size / elapsed / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--uploads", type=int, default=4)
    parser.add_argument("--upload-mib", type=int, default=1024)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    size = args.upload_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="glance-bench-workers-"))
    rows: dict[int, dict[str, list[float]]] = {}
    for workers in (int(n) for n in args.workers.split(",")):
        figures: dict[str, list[float]] = {"creates": [], "versions": [], "uploads": [],
                                           "disk": []}
        for run in range(args.runs):
            server = serve(work / f"w{workers}-r{run}" / "data", workers, args.database_url)
            try:
                figures["versions"].append(requests_per_second(
                    args.clients, args.creates, lambda h: h.get("/versions").status_code,
                    server.url))
                figures["creates"].append(requests_per_second(
                    args.clients, args.creates,
                    lambda h: h.post("/v2/images", json={**CREATE, "name": "b"}).status_code,
                    server.url))
                if args.uploads:
                    figures["disk"].append(disk_mb_per_s(server.data_dir, args.uploads, size))
                    figures["uploads"].append(uploads_mb_per_s(server.url, args.uploads, size))
            finally:
                server.stop()
            log(f"workers={workers} run {run + 1}: " + ", ".join(
                f"{k} {v[-1]:.0f}" for k, v in figures.items() if v))
        rows[workers] = {k: [statistics.median(v) if v else 0.0] for k, v in figures.items()}
    print(f"\nglance-api workers: medians of {args.runs} runs; {args.clients} clients x "
          f"{args.creates} requests; {args.uploads} concurrent uploads of {args.upload_mib} "
          f"MiB; registry {'given' if args.database_url else 'SQLite'}; {os.cpu_count()} "
          f"CPUs, load average {os.getloadavg()[0]:.0f}\n")
    print("| workers | v2 creates/s | GET /versions/s (ceiling) | ratio | uploads MB/s "
          "| disk write MB/s (ceiling) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for workers, f in rows.items():
        creates, versions = f["creates"][0], f["versions"][0]
        uploads, disk = f["uploads"][0], f["disk"][0]
        upload_ratio = f"{uploads / disk:.2f}" if disk else "–"
        print(f"| {workers} | {creates:,.0f} | {versions:,.0f} | {creates / versions:.2f} | "
              f"{uploads:,.0f} | {disk:,.0f} | {upload_ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
