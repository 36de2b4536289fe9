"""Upload and download a large image through glance-api with curl; print medians.

    .venv/bin/python bench/transfer.py [--size-mib 1024] [--runs 3] [--fsync true|false]

Starts its own glance-api on a free loopback port with a temporary data directory, measures
curl uploads (Content-Length and chunked) and downloads, and prints each median beside the
ceiling measured in the same run (dd of the same file onto the same disk, and a plain read
of the stored file), plus the server's peak RSS and CPU seconds per GiB. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAW_HEADERS = ["-H", "x-image-meta-disk_format: raw", "-H", "x-image-meta-container_format: bare",
               "-H", "Content-Type: application/octet-stream"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl(args: list[str]) -> dict:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{json}", *args],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fsync", default="true")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="glance-bench-", dir=os.environ.get("BENCH_DIR")))
    source = work / "image.bin"
    with open(source, "wb") as fh:
        block = os.urandom(1 << 20)
        for _ in range(args.size_mib):
            fh.write(block)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "glance.cli.api", "--port", str(port), "--data-dir",
         str(work / "data"), "--file-store-fsync", args.fsync, "--log-level", "WARNING"])
    try:
        for _ in range(200):
            try:
                curl([url + "/versions"])
                break
            except subprocess.CalledProcessError:
                time.sleep(0.05)
        rows: list[tuple[str, float, str]] = []
        dd = [size / timed(["dd", f"if={source}", f"of={work / 'dd.out'}", "bs=1M",
                            *(["conv=fsync"] if args.fsync == "true" else [])]) / 1e6
              for _ in range(args.runs)]
        (work / "dd.out").unlink()
        rows.append(("dd to the same disk (ceiling)", statistics.median(dd), "MB/s"))
        cpu_before = cpu_seconds(server.pid)
        uploads, chunked, image_id = [], [], ""
        for _ in range(args.runs):
            res = curl(["-X", "POST", url + "/v1/images", *RAW_HEADERS,
                        "-H", "x-image-meta-name: bench", "-T", str(source)])
            uploads.append(res["speed_upload"] / 1e6)
            res = curl(["-X", "POST", url + "/v1/images", *RAW_HEADERS, "-H",
                        "Transfer-Encoding: chunked", "-H", "x-image-meta-name: bench",
                        "-T", str(source)])
            chunked.append(res["speed_upload"] / 1e6)
        upload_cpu = (cpu_seconds(server.pid) - cpu_before) / (2 * args.runs) / (size / 2**30)
        listing = subprocess.run(["curl", "-sS", url + "/v1/images?name=bench&limit=1"],
                                 capture_output=True, text=True, check=True).stdout
        image_id = json.loads(listing)["images"][0]["id"]
        stored = work / "data" / "images" / image_id
        reads = [size / timed(["dd", f"if={stored}", "of=/dev/null", "bs=1M"]) / 1e6
                 for _ in range(args.runs)]
        cpu_before = cpu_seconds(server.pid)
        downloads = [curl([f"{url}/v1/images/{image_id}"])["speed_download"] / 1e6
                     for _ in range(args.runs)]
        download_cpu = (cpu_seconds(server.pid) - cpu_before) / args.runs / (size / 2**30)
        rows += [
            ("upload, Content-Length (curl)", statistics.median(uploads), "MB/s"),
            ("upload, chunked (curl)", statistics.median(chunked), "MB/s"),
            ("read of the stored file (ceiling)", statistics.median(reads), "MB/s"),
            ("download (curl)", statistics.median(downloads), "MB/s"),
            ("server CPU per GiB uploaded", upload_cpu, "CPU-s"),
            ("server CPU per GiB downloaded", download_cpu, "CPU-s"),
            ("server peak RSS", proc_status(server.pid, "VmHWM") / 1024, "MiB"),
        ]
        print(f"{args.size_mib} MiB image, {args.runs} runs each, medians, fsync={args.fsync}")
        for name, value, unit in rows:
            print(f"  {name:<36} {value:>9.1f} {unit}")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
