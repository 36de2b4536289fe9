"""Measuring helpers of the benchmarks: processes (CPU, RSS, stopping), curl, timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

MB = 1e6


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- processes ----------------------------------------------------------------------------

def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def status_kib(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pids: list[int]) -> None:
    """Reset the peak RSS (VmHWM) of ``pids`` (``clear_refs`` 5; needs the same user/root)."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            pass


def stop_process(proc: subprocess.Popen, group: bool = False) -> None:
    if proc.poll() is not None:
        return
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait(10)


# -- measuring helpers --------------------------------------------------------------------

def curl(args: list[str]) -> dict:
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{json}", *args],
                         check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    if res.get("http_code", 0) >= 400:
        raise RuntimeError(f"curl {args[-1]}: HTTP {res['http_code']}")
    return res


def curl_body(args: list[str]) -> str:
    return subprocess.run(["curl", "-sS", "--fail", *args], check=True, capture_output=True,
                          text=True).stdout


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sync() -> None:
    os.sync()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[idx]


def make_file(path: Path, mib: int) -> None:
    if path.exists() and path.stat().st_size == mib << 20:
        return
    with open(path, "wb") as fh:
        for _ in range(mib):
            fh.write(os.urandom(1 << 20))


def create_worker(job: tuple[str, str, int, int]) -> tuple[float, float]:
    """One create-rate client (a process): ``count`` requests; (start, end) monotonic."""
    url, kind, first, count = job
    headers = {"Connection": "close"} if kind == "v2-close" else {}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as http:
        def one(i: int) -> None:
            if kind == "get":
                r = http.get("/tiny")
                ok = r.status_code == 200
            elif kind == "v1":
                r = http.post("/v1/images", headers={
                    "x-image-meta-name": f"rec-{i}", "x-image-meta-disk_format": "raw",
                    "x-image-meta-container_format": "bare"})
                ok = r.status_code == 201
            else:
                r = http.post("/v2/images", json={"name": f"rec-{i}", "disk_format": "raw",
                                                  "container_format": "bare"})
                ok = r.status_code == 201
            if not ok:
                raise RuntimeError(f"{kind} {url}: {r.status_code} {r.text[:200]}")
        one(first)  # warm-up: connection, first-request costs
        start = time.monotonic()
        for i in range(first + 1, first + count):
            one(i)
        return start, time.monotonic()
