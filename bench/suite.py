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
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    MB,
    cpu_seconds,
    create_worker,
    curl,
    log,
    make_file,
    percentile,
    reset_hwm,
    status_kib,
    sync,
    timed,
)
from bench.table import Row, Table, below, both, ratio_at_least  # noqa: E402
from bench.targets import Nginx, Ours, Reference, Target, start_reference  # noqa: E402
from glance.client import Client  # noqa: E402
from glance.testing import start_server  # noqa: E402

SECTIONS = ("ceilings", "transfer", "client", "rss", "list", "create")


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
                           lambda r: both(ratio_at_least(2.5, "reference")(r),
                                           ratio_at_least(0.6, "ceiling")(r)),
                           note=(f"hash-only ceiling {c['hash']:.0f} MB/s, "
                                 f"dd {c['dd']:.0f} MB/s" if "hash" in c else "")))
        self.table.add(Row("upload, Content-Length, vs the hashes alone", "MB/s", ours["up"],
                           c.get("hash"), "MD5+SHA-512 only", ref.get("up")))
        self.table.add(Row("upload 1 image, chunked (curl)", "MB/s", ours["up_chunked"],
                           c.get("put_chunked"), "nginx PUT chunked", ref.get("up_chunked"),
                           "≥2.5× ref, ≥0.6× nginx PUT",
                           lambda r: both(ratio_at_least(2.5, "reference")(r),
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
            spans = list(pool.map(create_worker, [(url, kind, k * per_client, per_client)
                                                   for k in range(clients)]))
        start = min(a for a, _ in spans)
        end = max(b for _, b in spans)
        return per_client * clients / (end - start)

    def create(self) -> None:
        assert self.ours is not None and self.nginx is not None
        (self.nginx.dav / "tiny").write_bytes(b"x")
        nginx_url, ours_url = self.nginx.url, self.ours.url
        for clients in (1, 8):
            log(f"create: {clients} client(s)")
            ceiling = self.median_runs(lambda n=clients: self.create_rate(
                nginx_url, "get", n, self.args.records))
            before = cpu_seconds(self.ours.pids())
            ours = self.median_runs(lambda n=clients: self.create_rate(
                ours_url, "v1", n, self.args.records))
            ours_cpu = ((cpu_seconds(self.ours.pids()) - before) * 1000
                        / (self.args.runs * self.args.records))
            ref = ref_cpu = None
            if self.ref is not None:
                before = cpu_seconds(self.ref.pids())
                ref = self.median_runs(lambda n=clients, url=self.ref.url: self.create_rate(
                    url, "v2-close", n, self.args.ref_records))
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
            plural = "s" if clients > 1 else ""
            self.table.add(Row(f"server CPU per create, {clients} client{plural}",
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
                target.fill(size)
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
