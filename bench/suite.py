"""The benchmark suite (issue "Performance"): one command, one table.

    bench/run [--quick] [--size-mib 1024] [--runs 3] [--rss-size-mib 5120] [--records 2000]
              [--list-sizes 10000,100000] [--reference auto|URL|none] [--only sections] [--fsync]

Starts its own glance-api (SQLite + file store, in a temporary directory on the same disk as
everything else) and its own nginx (WebDAV PUT, sendfile GET) on free loopback ports, and
measures in the same run the ceilings (MD5 + SHA-512 hash-only, ``dd`` to the same disk,
nginx PUT and GET) and ours (curl up and down, the seed client ``add_image``/``get_image``,
server CPU-s per GiB and peak RSS during a large transfer, record creation with 1 and 8
clients, list latency at 10k and 100k records). With ``--reference auto`` (the default) it
also runs the same workloads against the reference Glance (bench/reference-glance-setup; the
PyPI ``glance`` under uWSGI) when that is set up, starting and stopping it itself.

Each figure is the median of ``--runs`` runs. Sections: ceilings, transfer, client, rss,
create, list. Everything started is stopped by PID at the end. Not a test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from glance.client import Client  # noqa: E402
from tests.conftest import RunningServer, free_port, start_server  # noqa: E402

SECTIONS = ("ceilings", "transfer", "client", "rss", "list", "create")
MB = 1e6
V1_RAW = ["-H", "x-image-meta-disk_format: raw", "-H", "x-image-meta-container_format: bare",
          "-H", "Content-Type: application/octet-stream", "-H", "Expect:"]
REF_CACHE = ROOT / ".cache" / "reference-glance"


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


# -- the table ----------------------------------------------------------------------------

@dataclass
class Row:
    figure: str
    unit: str
    ours: float | None = None
    ceiling: float | None = None
    ceiling_name: str = ""
    reference: float | None = None
    target: str = ""
    check: Callable[["Row"], bool | None] | None = None
    lower_is_better: bool = False
    note: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def render(self) -> str:
        def num(v: float | None) -> str:
            if v is None:
                return "–"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"

        def ratio(a: float | None, b: float | None, lower: bool) -> str:
            if a is None or b is None or a == 0 or b == 0:
                return "–"
            return f"{(b / a if lower else a / b):.2f}×"

        head = ["figure", "unit", "ours", "ceiling", "ours/ceiling", "reference",
                "ours/ref", "target", "met"]
        lines = []
        for r in self.rows:
            met = "–"
            if r.check is not None:
                result = r.check(r)
                met = "–" if result is None else ("yes" if result else "NO")
            ceiling = num(r.ceiling) + (f" ({r.ceiling_name})" if r.ceiling_name else "")
            lines.append([r.figure, r.unit, num(r.ours), ceiling,
                          ratio(r.ours, r.ceiling, r.lower_is_better), num(r.reference),
                          ratio(r.ours, r.reference, r.lower_is_better), r.target, met])
        widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
        out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |"
                for line in lines]
        notes = [f"* {r.figure}: {r.note}" for r in self.rows if r.note]
        return "\n".join(self.meta + [""] + out + ([""] + notes if notes else []))


def ratio_at_least(limit: float, against: str) -> Callable[[Row], bool | None]:
    def check(row: Row) -> bool | None:
        other = row.ceiling if against == "ceiling" else row.reference
        if row.ours is None or not other:
            return None
        return row.ours / other >= limit
    return check


def below(limit: float) -> Callable[[Row], bool | None]:
    return lambda row: None if row.ours is None else row.ours < limit


# -- the servers under test ---------------------------------------------------------------

class Target:
    """One image service under test: ours (v1 + v2) or the reference (v2 only)."""

    name = ""
    url = ""

    def pids(self) -> list[int]:
        raise NotImplementedError

    def upload_curl(self, path: Path, chunked: bool) -> tuple[float, str]:
        """Upload ``path`` with curl; (MB/s over the whole request, image id)."""
        raise NotImplementedError

    def download_curl(self, image_id: str) -> float:
        res = curl([self.download_url(image_id)])
        return res["size_download"] / res["time_total"] / MB

    def download_url(self, image_id: str) -> str:
        raise NotImplementedError

    def delete(self, image_id: str) -> None:
        httpx.delete(f"{self.url}/v2/images/{image_id}", timeout=60)

    def create_one(self, http: httpx.Client, i: int) -> None:
        raise NotImplementedError

    def list_path(self, filtered: bool) -> str:
        return "/v2/images?limit=25" + ("&disk_format=qcow2" if filtered else "")

    db_path: Path | None = None


class Ours(Target):
    name = "ours"

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.url = server.url
        self.db_path = server.data_dir / "glance.sqlite"

    def pids(self) -> list[int]:
        return [self.server.process.pid]

    def upload_curl(self, path: Path, chunked: bool) -> tuple[float, str]:
        out = subprocess.run(
            ["curl", "-sS", "--fail", "-X", "POST", f"{self.url}/v1/images", *V1_RAW,
             "-H", "x-image-meta-name: bench",
             *(["-H", "Transfer-Encoding: chunked"] if chunked else []),
             "-T", str(path), "-w", "\n%{json}"], check=True, capture_output=True, text=True).stdout
        body, stats = out.rsplit("\n", 1)
        res = json.loads(stats)
        return res["size_upload"] / res["time_total"] / MB, json.loads(body)["image"]["id"]

    def download_url(self, image_id: str) -> str:
        return f"{self.url}/v1/images/{image_id}"

    def create_one(self, http: httpx.Client, i: int) -> None:
        r = http.post("/v1/images", headers={
            "x-image-meta-name": f"rec-{i}", "x-image-meta-disk_format": "raw",
            "x-image-meta-container_format": "bare"})
        if r.status_code != 201:
            raise RuntimeError(f"POST /v1/images: {r.status_code} {r.text[:200]}")


class Reference(Target):
    name = "reference"

    def __init__(self, url: str, pid: int | None, db_path: Path | None) -> None:
        self.url = url.rstrip("/")
        self.pid = pid
        self.db_path = db_path

    def pids(self) -> list[int]:
        return tree_pids(self.pid) if self.pid else []

    def create_image(self, name: str) -> str:
        r = httpx.post(f"{self.url}/v2/images", timeout=60, json={
            "name": name, "disk_format": "raw", "container_format": "bare"})
        r.raise_for_status()
        return r.json()["id"]

    def upload_curl(self, path: Path, chunked: bool) -> tuple[float, str]:
        image_id = self.create_image("bench")
        res = curl(["-X", "PUT", "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
                    *(["-H", "Transfer-Encoding: chunked"] if chunked else []),
                    "-T", str(path), f"{self.url}/v2/images/{image_id}/file"])
        return res["size_upload"] / res["time_total"] / MB, image_id

    def download_url(self, image_id: str) -> str:
        return f"{self.url}/v2/images/{image_id}/file"

    def create_one(self, http: httpx.Client, i: int) -> None:
        r = http.post("/v2/images", json={"name": f"rec-{i}", "disk_format": "raw",
                                           "container_format": "bare"})
        if r.status_code != 201:
            raise RuntimeError(f"POST /v2/images: {r.status_code} {r.text[:200]}")


def start_reference(mode: str) -> tuple[Reference | None, Callable[[], None]]:
    """The reference Glance for ``--reference`` (auto: bench/reference-glance-*), and a stop."""
    if mode == "none":
        return None, lambda: None
    if mode != "auto":
        return Reference(mode, None, None), lambda: None
    server = REF_CACHE / "server"
    if not (server / "ports.env").exists():
        log("reference: not set up (bench/reference-glance-setup); measuring ours only")
        return None, lambda: None
    # a fresh database and image directory for each run
    subprocess.run([ROOT / "bench/reference-glance-stop"], check=True)
    subprocess.run([ROOT / "bench/reference-glance-setup"], check=True,
                   env={**os.environ, "REFERENCE_GLANCE_PORT": str(free_port())},
                   stdout=subprocess.DEVNULL)
    url = subprocess.run([ROOT / "bench/reference-glance-start"], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]
    pid = int((server / "run/uwsgi.pid").read_text())

    def stop() -> None:
        subprocess.run([ROOT / "bench/reference-glance-stop"], check=False)
    return Reference(url, pid, server / "data/glance.sqlite"), stop


class Nginx:
    """nginx with WebDAV PUT on a free loopback port, its own config in ``work``."""

    def __init__(self, work: Path) -> None:
        self.root = work / "nginx"
        self.dav = self.root / "dav"
        for d in ("dav", "tmp", "logs"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = self.root / "nginx.conf"
        user = "user root;" if os.geteuid() == 0 else ""
        conf.write_text(textwrap.dedent(f"""\
            {user}
            worker_processes 1;
            pid {self.root}/nginx.pid;
            error_log {self.root}/logs/error.log warn;
            events {{ worker_connections 256; }}
            http {{
                access_log off;
                sendfile on;
                tcp_nopush on;
                client_body_temp_path {self.root}/tmp;
                proxy_temp_path {self.root}/tmp;
                fastcgi_temp_path {self.root}/tmp;
                uwsgi_temp_path {self.root}/tmp;
                scgi_temp_path {self.root}/tmp;
                client_max_body_size 0;
                server {{
                    listen 127.0.0.1:{self.port};
                    root {self.dav};
                    location / {{
                        dav_methods PUT DELETE;
                        create_full_put_path on;
                        dav_access user:rw;
                    }}
                }}
            }}
            """))
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", str(self.root), "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "logs/stderr.log", "wb"))
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(self.url + "/", timeout=1)
                break
            except httpx.TransportError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start: "
                                       + (self.root / "logs/stderr.log").read_text())
                time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.proc)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found:
        return found
    log("nginx missing: installing Debian's nginx (with its dav module) via apt")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "nginx"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("nginx") or "/usr/sbin/nginx"


# -- the sections -------------------------------------------------------------------------

class Suite:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.size = args.size_mib << 20
        self.source = work / f"image-{args.size_mib}MiB.bin"
        self.table = Table()
        self.ours: Ours | None = None
        self.ref: Reference | None = None
        self.nginx: Nginx | None = None
        self.c: dict[str, float] = {}  # ceilings measured in this run
        self.hash_cpu: list[float] = []

    def wanted(self, section: str) -> bool:
        return section in self.args.only

    def median_runs(self, fn: Callable[[], float]) -> float:
        return statistics.median(fn() for _ in range(self.args.runs))

    # ceilings ----------------------------------------------------------------------------

    def hash_only(self) -> float:
        """MD5 and SHA-512 over the file in 1 MiB chunks, in two threads per chunk (as the
        server runs them)."""
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha512()
        with concurrent.futures.ThreadPoolExecutor(2) as pool, \
                open(self.source, "rb", buffering=0) as fh:
            start, cpu = time.perf_counter(), time.process_time()
            while n := fh.readinto(buf):
                chunk = bytes(view[:n])
                a, b = pool.submit(md5.update, chunk), pool.submit(sha.update, chunk)
                a.result()
                b.result()
            self.hash_cpu.append((time.process_time() - cpu) / (self.size / 2**30))
            return self.size / (time.perf_counter() - start) / MB

    def ceilings(self) -> None:
        log("ceilings: hash-only, dd, nginx PUT/GET")
        self.c["hash"] = self.median_runs(self.hash_only)
        self.c["hash_cpu"] = statistics.median(self.hash_cpu)
        dd_out = self.work / "dd.out"

        def dd() -> float:
            sync()
            t = timed(lambda: subprocess.run(
                ["dd", f"if={self.source}", f"of={dd_out}", "bs=1M",
                 *(["conv=fsync"] if self.args.fsync else [])], check=True, capture_output=True))
            dd_out.unlink()
            return self.size / t / MB
        self.c["dd"] = self.median_runs(dd)
        assert self.nginx is not None
        url = self.nginx.url + "/img.bin"

        def put(chunked: bool) -> float:
            sync()
            res = curl(["-H", "Expect:", *(["-H", "Transfer-Encoding: chunked"] if chunked
                                           else []), "-T", str(self.source), url])
            speed = res["size_upload"] / res["time_total"] / MB
            subprocess.run(["curl", "-sS", "-X", "DELETE", url], check=True)
            return speed
        self.c["put"] = self.median_runs(lambda: put(False))
        self.c["put_chunked"] = self.median_runs(lambda: put(True))
        shutil.copyfile(self.source, self.nginx.dav / "img.bin")
        curl([url])  # warm the page cache, as the servers' files are after an upload
        self.c["get"] = self.median_runs(
            lambda: (lambda r: r["size_download"] / r["time_total"] / MB)(curl([url])))
        (self.nginx.dav / "img.bin").unlink()
        self.table.add(Row("hash-only MD5+SHA-512 (ceiling)", "MB/s", ours=self.c["hash"]))
        self.table.add(Row("hash-only CPU per GiB (ceiling)", "CPU-s", ours=self.c["hash_cpu"]))
        self.table.add(Row("dd to the same disk" + (" (fsync)" if self.args.fsync else ""),
                           "MB/s", ours=self.c["dd"]))

    # transfer ----------------------------------------------------------------------------

    def transfer_figures(self, target: Target) -> dict[str, float]:
        log(f"transfer: {target.name} upload (Content-Length, chunked) and download")
        ids: list[str] = []

        def up(chunked: bool) -> float:
            sync()
            speed, image_id = target.upload_curl(self.source, chunked)
            ids.append(image_id)
            return speed
        res = {"up": self.median_runs(lambda: up(False)),
               "up_chunked": self.median_runs(lambda: up(True))}
        keep = ids.pop()
        for image_id in ids:
            target.delete(image_id)
        target.download_curl(keep)  # warm
        if isinstance(target, Ours) and self.nginx is not None:
            # the nginx GET ceiling on the very file our store holds (a hard link), runs
            # interleaved with ours: same bytes, same page-cache state, same moment
            link = self.nginx.dav / "stored.bin"
            os.link(target.server.store_dir / keep, link)
            url = self.nginx.url + "/stored.bin"
            ours, ceiling = [], []
            for _ in range(self.args.runs):
                ours.append(target.download_curl(keep))
                r = curl([url])
                ceiling.append(r["size_download"] / r["time_total"] / MB)
            link.unlink()
            res["down"], res["get_same_file"] = statistics.median(ours), statistics.median(ceiling)
        else:
            res["down"] = self.median_runs(lambda: target.download_curl(keep))
        target.delete(keep)
        return res

    def transfer(self) -> None:
        assert self.ours is not None
        ours = self.transfer_figures(self.ours)
        ref = self.transfer_figures(self.ref) if self.ref else {}
        c = self.c
        self.table.add(Row("upload 1 image, Content-Length (curl)", "MB/s", ours["up"],
                           c.get("put"), "nginx PUT", ref.get("up"),
                           "≥2.5× ref, ≥0.6× nginx PUT",
                           lambda r: _both(ratio_at_least(2.5, "reference")(r),
                                           ratio_at_least(0.6, "ceiling")(r)),
                           note=(f"hash-only ceiling {c['hash']:.0f} MB/s, "
                                 f"dd {c['dd']:.0f} MB/s" if "hash" in c else "")))
        self.table.add(Row("upload, Content-Length, vs the hashes alone", "MB/s", ours["up"],
                           c.get("hash"), "MD5+SHA-512 only", ref.get("up")))
        self.table.add(Row("upload 1 image, chunked (curl)", "MB/s", ours["up_chunked"],
                           c.get("put_chunked"), "nginx PUT chunked", ref.get("up_chunked"),
                           "≥2.5× ref, ≥0.6× nginx PUT",
                           lambda r: _both(ratio_at_least(2.5, "reference")(r),
                                           ratio_at_least(0.6, "ceiling")(r))))
        self.table.add(Row("download (curl)", "MB/s", ours["down"],
                           ours.get("get_same_file", c.get("get")), "nginx GET, same file",
                           ref.get("down"), "≥0.9× nginx GET", ratio_at_least(0.9, "ceiling")))

    # client ------------------------------------------------------------------------------

    def client(self) -> None:
        assert self.ours is not None
        log("client: seed client add_image / get_image")
        port = self.ours.server.port
        ids: list[str] = []

        def add() -> float:
            sync()
            with Client("127.0.0.1", port, timeout=600) as cl, open(self.source, "rb") as fh:
                t = timed(lambda: ids.append(cl.add_image(
                    {"name": "client", "disk_format": "raw", "container_format": "bare"},
                    fh)["id"]))
            return self.size / t / MB

        def get(image_id: str) -> float:
            with Client("127.0.0.1", port, timeout=600) as cl:
                def read() -> None:
                    _meta, body = cl.get_image(image_id)
                    for _ in body:
                        pass
                return self.size / timed(read) / MB
        up = self.median_runs(add)
        for image_id in ids[:-1]:
            self.ours.delete(image_id)
        get(ids[-1])
        down = self.median_runs(lambda: get(ids[-1]))
        self.ours.delete(ids[-1])
        ref_up = ref_down = None
        if self.ref is not None:
            ref_up, ref_down = self.glanceclient_figures(self.ref)
        self.table.add(Row("upload, seed client add_image", "MB/s", up, self.c.get("put"),
                           "nginx PUT", ref_up, note="reference: python-glanceclient v2 "
                           "images.create + images.upload" if ref_up else ""))
        self.table.add(Row("download, seed client get_image", "MB/s", down, self.c.get("get"),
                           "nginx GET", ref_down, note="reference: python-glanceclient v2 "
                           "images.data" if ref_down else ""))

    def glanceclient_figures(self, ref: Reference) -> tuple[float | None, float | None]:
        try:
            from glanceclient import Client as GlanceClient
        except ImportError:
            return None, None
        log("client: reference through python-glanceclient v2")
        gc = GlanceClient("2", endpoint=ref.url, token="bench")
        ids: list[str] = []

        def add() -> float:
            sync()

            def run() -> None:
                image = gc.images.create(name="client", disk_format="raw",
                                         container_format="bare")
                with open(self.source, "rb") as fh:
                    gc.images.upload(image["id"], fh, image_size=self.size)
                ids.append(image["id"])
            return self.size / timed(run) / MB

        def get(image_id: str) -> float:
            def read() -> None:
                for _ in gc.images.data(image_id, allow_md5_fallback=True):
                    pass
            return self.size / timed(read) / MB
        up = self.median_runs(add)
        for image_id in ids[:-1]:
            ref.delete(image_id)
        get(ids[-1])
        down = self.median_runs(lambda: get(ids[-1]))
        ref.delete(ids[-1])
        return up, down

    # rss ---------------------------------------------------------------------------------

    def rss_figures(self, target: Target, path: Path, size: int) -> dict[str, float]:
        log(f"rss: {target.name} {size >> 20} MiB upload + download, CPU and peak RSS")
        pids = target.pids()
        reset_hwm(pids)
        sync()
        before = cpu_seconds(pids)
        _speed, image_id = target.upload_curl(path, chunked=False)
        up_cpu = (cpu_seconds(target.pids()) - before) / (size / 2**30)
        before = cpu_seconds(target.pids())
        target.download_curl(image_id)
        down_cpu = (cpu_seconds(target.pids()) - before) / (size / 2**30)
        rss = max(status_kib(p, "VmHWM") for p in target.pids()) / 1024
        target.delete(image_id)
        return {"up_cpu": up_cpu, "down_cpu": down_cpu, "rss": rss}

    def rss(self) -> None:
        assert self.ours is not None
        mib = self.args.rss_size_mib
        path = self.source if mib == self.args.size_mib else self.work / f"rss-{mib}MiB.bin"
        make_file(path, mib)
        ours = self.rss_figures(self.ours, path, mib << 20)
        ref = self.rss_figures(self.ref, path, mib << 20) if self.ref and self.ref.pid else {}
        if path != self.source:
            path.unlink()
        self.table.add(Row("server CPU per GiB uploaded", "CPU-s", ours["up_cpu"],
                           self.c.get("hash_cpu"), "hashes alone" if "hash_cpu" in self.c else "",
                           reference=ref.get("up_cpu"), lower_is_better=True,
                           note="reference: uWSGI master + workers" if ref else ""))
        self.table.add(Row("server CPU per GiB downloaded", "CPU-s", ours["down_cpu"],
                           reference=ref.get("down_cpu"), lower_is_better=True))
        self.table.add(Row(f"peak RSS per process, {mib} MiB up+down", "MiB", ours["rss"],
                           reference=ref.get("rss"), target="< 100 MiB", check=below(100),
                           lower_is_better=True))

    # create ------------------------------------------------------------------------------

    def create_rate(self, url: str, kind: str, clients: int, records: int) -> float:
        """Requests/s of ``clients`` client processes (httpx, one keep-alive connection each,
        as the server allows), ``records`` requests in all, timed from the first request
        after a warm-up to the last answer."""
        per_client = max(1, records // clients)
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(clients, mp_context=ctx) as pool:
            spans = list(pool.map(_create_worker, [(url, kind, k * per_client, per_client)
                                                   for k in range(clients)]))
        start = min(a for a, _ in spans)
        end = max(b for _, b in spans)
        return per_client * clients / (end - start)

    def create(self) -> None:
        assert self.ours is not None and self.nginx is not None
        (self.nginx.dav / "tiny").write_bytes(b"x")
        for clients in (1, 8):
            log(f"create: {clients} client(s)")
            ceiling = self.median_runs(lambda: self.create_rate(
                self.nginx.url, "get", clients, self.args.records))  # type: ignore
            before = cpu_seconds(self.ours.pids())
            ours = self.median_runs(lambda: self.create_rate(
                self.ours.url, "v1", clients, self.args.records))  # type: ignore
            ours_cpu = ((cpu_seconds(self.ours.pids()) - before) * 1000
                        / (self.args.runs * self.args.records))
            ref = ref_cpu = None
            if self.ref is not None:
                before = cpu_seconds(self.ref.pids())
                ref = self.median_runs(lambda: self.create_rate(
                    self.ref.url, "v2-close", clients, self.args.ref_records))  # type: ignore
                if self.ref.pid:
                    ref_cpu = ((cpu_seconds(self.ref.pids()) - before) * 1000
                               / (self.args.runs * self.args.ref_records))
            self.table.add(Row(f"record creation, {clients} client{'s' if clients > 1 else ''}",
                               "/s", ours, ceiling, "httpx GET nginx", ref, target="≥30× ref",
                               check=ratio_at_least(30, "reference"),
                               note=("ours: POST /v1/images (headers only); reference: POST "
                                     "/v2/images (JSON), Connection: close as it sends; "
                                     "ceiling: the same httpx client processes doing tiny "
                                     "GETs from nginx" if clients == 1 else "")))
            self.table.add(Row(f"server CPU per create, {clients} client{'s' if clients > 1 else ''}",
                               "CPU-ms", ours_cpu, reference=ref_cpu, lower_is_better=True,
                               note=("less sensitive to the machine's load than the rates"
                                     if clients == 1 else "")))

    # list --------------------------------------------------------------------------------

    def list_latency(self, target: Target, filtered: bool, n: int) -> tuple[float, float]:
        path = target.list_path(filtered)
        lat = []
        with httpx.Client(base_url=target.url, timeout=60) as http:
            for i in range(n + 10):
                t = time.perf_counter()
                r = http.get(path)
                dt = time.perf_counter() - t
                if r.status_code != 200 or len(r.json()["images"]) != 25:
                    raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")
                if i >= 10:
                    lat.append(dt * 1000)
        return statistics.median(lat), percentile(lat, 99)

    def list(self) -> None:
        assert self.ours is not None
        targets: list[Target] = [self.ours] + ([self.ref] if self.ref and self.ref.db_path
                                               else [])
        for size in self.args.list_sizes:
            res: dict[str, dict[bool, tuple[float, float]]] = {}
            for target in targets:
                assert target.db_path is not None
                fill_images(target, size)
                log(f"list: {target.name} at {size} images")
                res[target.name] = {f: self.list_latency(target, f, self.args.list_requests)
                                    for f in (False, True)}
            for filtered in (False, True):
                what = "limit 25, disk_format filter" if filtered else "limit 25"
                ours = res["ours"][filtered]
                ref = res.get("reference", {}).get(filtered)
                big = size == max(self.args.list_sizes)
                self.table.add(Row(f"list p50 at {size:,} images ({what})", "ms", ours[0],
                                   reference=ref[0] if ref else None, lower_is_better=True,
                                   target="< 5 ms" if big else "",
                                   check=below(5) if big else None))
                self.table.add(Row(f"list p99 at {size:,} images ({what})", "ms", ours[1],
                                   reference=ref[1] if ref else None, lower_is_better=True))

    # run ---------------------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        log(f"work dir {self.work}")
        make_file(self.source, args.size_mib)
        stops: list[Callable[[], None]] = []
        try:
            fsync = "true" if args.fsync else "false"
            server = start_server(self.work / "data",
                                  ["--file-store-fsync", fsync, "--log-level", "WARNING"])
            stops.append(server.stop)
            self.ours = Ours(server)
            self.nginx = Nginx(self.work)
            stops.append(self.nginx.stop)
            self.ref, stop_ref = start_reference(args.reference)
            stops.append(stop_ref)
            load = os.getloadavg()
            self.table.meta += [
                f"glance bench suite, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                f"{os.cpu_count()} CPUs, load average at start {load[0]:.2f} {load[1]:.2f} "
                f"{load[2]:.2f}",
                f"image {args.size_mib} MiB, medians of {args.runs} runs, fsync "
                f"{'on' if args.fsync else 'off'} (ours, dd; nginx and the reference never "
                f"fsync), reference: {self.ref.url if self.ref else 'none'}"]
            if self.wanted("ceilings") or self.wanted("transfer") or self.wanted("client"):
                self.ceilings()
            # list before create: the catalogue sizes are then exactly --list-sizes
            for section in ("transfer", "client", "rss", "list", "create"):
                if self.wanted(section):
                    try:
                        getattr(self, section)()
                    except Exception as exc:  # report it, keep the other sections' figures
                        log(f"section {section} failed: {exc!r}")
                        self.table.meta.append(f"SECTION {section} FAILED: {exc!r}")
            load = os.getloadavg()
            self.table.meta.append(f"load average at end {load[0]:.2f} {load[1]:.2f} "
                                   f"{load[2]:.2f}")
        finally:
            for stop in reversed(stops):
                try:
                    stop()
                except Exception as exc:  # keep stopping the others
                    log(f"stop failed: {exc}")
        print(self.table.render())


def _both(a: bool | None, b: bool | None) -> bool | None:
    if a is None and b is None:
        return None
    return bool((a is None or a) and (b is None or b))


def _create_worker(job: tuple[str, str, int, int]) -> tuple[float, float]:
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


def fill_images(target: Target, total: int) -> None:
    """Bring the catalogue to ``total`` live images, fast: one template image is created
    through the API, then copied in SQL (a recursive CTE, one INSERT … SELECT per call) into
    the server's SQLite file, varying id, name, created_at/updated_at and disk_format (half
    raw, half qcow2). Rows are exactly what the API writes; 100k take about a second, where
    100k POSTs to the reference would take an hour."""
    assert target.db_path is not None
    conn = sqlite3.connect(target.db_path, timeout=60)
    try:
        have = conn.execute("SELECT count(*) FROM images WHERE deleted = 0 "
                            "AND status != 'killed'").fetchone()[0]
        missing = total - have
        if missing <= 0:
            return
        with httpx.Client(base_url=target.url, timeout=60) as http:
            target.create_one(http, 0)
        template = conn.execute("SELECT id FROM images WHERE deleted = 0 "
                                "ORDER BY created_at DESC LIMIT 1").fetchone()[0]
        cols = [r[1] for r in conn.execute("PRAGMA table_info(images)")]
        batch = uuid.uuid4().hex[:8]
        exprs = {
            "id": f"printf('{batch}-%04x-4%03x-8000-%012x', 0, 0, n)",
            "name": "printf('bench-%07d', n)",
            "created_at": "strftime('%Y-%m-%d %H:%M:%S', t.created_at, '-' || n || ' seconds')"
                          " || '.000000'",
            "updated_at": "strftime('%Y-%m-%d %H:%M:%S', t.created_at, '-' || n || ' seconds')"
                          " || '.000000'",
            "disk_format": "CASE WHEN n % 2 THEN 'raw' ELSE 'qcow2' END",
        }
        select = ", ".join(exprs.get(c, f"t.{c}") for c in cols)
        with conn:
            conn.execute(
                f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq "
                f"WHERE n < ?) INSERT INTO images ({', '.join(cols)}) "
                f"SELECT {select} FROM seq, images t WHERE t.id = ?", (missing - 1, template))
        conn.execute("ANALYZE")
    finally:
        conn.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a smoke run (64 MiB, 1 run, 1k/5k records)")
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rss-size-mib", type=int, default=5120)
    parser.add_argument("--records", type=int, default=2000,
                        help="records created per create-rate run (ours)")
    parser.add_argument("--ref-records", type=int, default=240,
                        help="records created per create-rate run (reference: ~30/s)")
    parser.add_argument("--list-sizes", default="10000,100000")
    parser.add_argument("--list-requests", type=int, default=200)
    parser.add_argument("--reference", default="auto", help="auto, a URL, or none")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="sections: " + ",".join(SECTIONS))
    parser.add_argument("--fsync", action="store_true",
                        help="fsync uploads (our file store) and dd (conv=fsync)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.runs, args.rss_size_mib = 64, 1, 256
        args.records, args.ref_records, args.list_requests = 400, 40, 50
        args.list_sizes = "1000,5000"
    args.list_sizes = [int(x) for x in str(args.list_sizes).split(",") if x]
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="glance-suite-", dir=os.environ.get("BENCH_DIR")))
    try:
        Suite(args, work).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
