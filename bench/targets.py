"""The servers under test (ours, the reference Glance) and the nginx ceiling."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import Callable

import httpx

from bench.measure import MB, curl, log, stop_process, tree_pids
from glance.testing import RunningServer, fill_catalogue, free_port

ROOT = Path(__file__).resolve().parents[1]
V1_RAW = ["-H", "x-image-meta-disk_format: raw", "-H", "x-image-meta-container_format: bare",
          "-H", "Content-Type: application/octet-stream", "-H", "Expect:"]
REF_CACHE = ROOT / ".cache" / "reference-glance"


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

    def fill(self, total: int) -> None:
        """Bring the catalogue to ``total`` live images (half raw, half qcow2), fast."""
        raise NotImplementedError


class Ours(Target):
    name = "ours"

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.url = server.url

    def fill(self, total: int) -> None:
        fill_catalogue(self.server.data_dir, total)  # through our registry, in batches

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

    def fill(self, total: int) -> None:
        """One template image is created through the API, then copied in SQL (a recursive
        CTE, one INSERT … SELECT per call) into the reference's SQLite file, varying id, name,
        created_at/updated_at and disk_format. This is the only SQL the benchmarks write, and
        only into the reference's own database (another program, with no bulk API): 100k
        rows take about a second, where 100k POSTs to it would take an hour."""
        assert self.db_path is not None
        conn = sqlite3.connect(self.db_path, timeout=60)
        try:
            have = conn.execute("SELECT count(*) FROM images WHERE deleted = 0 "
                                "AND status != 'killed'").fetchone()[0]
            missing = total - have
            if missing <= 0:
                return
            with httpx.Client(base_url=self.url, timeout=60) as http:
                self.create_one(http, 0)
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
                                       + (self.root / "logs/stderr.log").read_text()) from None
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
