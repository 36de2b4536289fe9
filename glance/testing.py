"""A real glance-api process for tests and benchmarks: started on a free loopback port with
its own data directory, waited for, stopped by PID.

It lives in the package (as ``aiohttp.test_utils`` does) because two kinds of callers need
it — the test suite and ``bench/`` — and the benchmarks must not import the tests.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx

from glance.config import Settings
from glance.domain import Image, new_image_id
from glance.registry import Registry
from glance.registry.engine import create_registry_engine


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_range(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports, below the ephemeral range
    (so that outgoing connections are unlikely to take them in the meantime)."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)
        if all(_bindable(p) for p in range(base, base + count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


@dataclass
class RunningServer:
    """A glance-api process started by ``start_server``."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    data_dir: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "images"

    def stored_files(self) -> list[Path]:
        """Every file in the file store, including temporary parts."""
        if not self.store_dir.exists():
            return []
        return sorted(p for p in self.store_dir.rglob("*") if p.is_file())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# How long a server may take to answer; generous, as a loaded machine (many test runs at
# once on 2 cores) can take 30 s and more just to import; a server that fails exits sooner.
START_SECONDS = 120


def start_server(data_dir: Path, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None) -> RunningServer:
    """Start glance-api on a free port and wait until it answers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = data_dir.parent / f"glance-api-{port}.log"
    cmd = [sys.executable, "-m", "glance.cli.api", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", str(data_dir), *(extra_args or [])]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GLANCE_")}
    full_env.update(env or {})
    log = open(log_path, "wb")  # the child writes to it until it stops
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    server = RunningServer(proc, "127.0.0.1", port, data_dir, log_path)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"glance-api exited with {proc.returncode}:\n{server.log()}")
        try:
            httpx.get(server.url + "/versions", timeout=1)
            return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"glance-api did not start:\n{server.log()}")


def fill_catalogue(data_dir: Path, total: int, batch: int = 10_000) -> int:
    """Bring the registry of the server keeping ``data_dir`` to ``total`` live images, fast:
    records like those a v1 create makes (half raw, half qcow2; a second apart, older than
    any made so far), written through the registry in batches. How many were added."""
    settings = Settings(data_dir=str(data_dir))
    registry = Registry(create_registry_engine(settings.resolved_database_url))
    try:
        missing = total - registry.usage(None)["count"]
        oldest = min((image.created_at for image in registry.ids_in_status("queued")),
                     default=None)
        start = oldest or Image(id="now").created_at
        prefix = new_image_id()[:8]
        for first in range(0, max(missing, 0), batch):
            registry.create_many([
                Image(id=f"{prefix}-0000-4000-8000-{n:012x}", name=f"bench-{n:07d}",
                      disk_format="raw" if n % 2 else "qcow2", container_format="bare",
                      created_at=(moment := start - timedelta(seconds=n + 1)),
                      updated_at=moment)
                for n in range(first, min(first + batch, missing))])
        registry.refresh_statistics()
        return max(missing, 0)
    finally:
        registry.close()



# -- a private PostgreSQL server --------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest installed PostgreSQL server binaries (initdb, pg_ctl)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """A PostgreSQL server of one test's own (``start_postgres``): its data directory in a
    temporary directory, on a free loopback port, trusting local connections. Tests may stop
    and start it at will — nothing else uses it. As root it runs as the ``postgres`` user."""

    root: Path
    port: int
    bindir: Path
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL of ``database`` on this server (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            log = (self.root / "postgres.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed:\n{result.stdout}"
                               f"{result.stderr}\n{log}")
        return result

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._ctl("-w", "-t", "60", "-l", str(self.root / "postgres.log"), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                  f"-c fsync=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected, transactions rolled back;
        ``immediate``: as a crash)."""
        self._ctl("-w", "-t", "60", "-m", mode, "stop", check=False)

    def destroy(self) -> None:
        """Stop the server and remove its files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> PrivatePostgres:
    """Create and start a private PostgreSQL server (``PrivatePostgres``); the caller calls
    ``destroy`` at the end. Its files live in a new directory under the system's temporary
    directory (which the ``postgres`` user can reach, unlike pytest's)."""
    bindir = postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="glance-pg-"))
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        shutil.chown(root, run_as, run_as)
    cmd = [str(bindir / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres",
           "-E", "UTF8", "--no-sync"]
    if run_as:
        cmd = ["runuser", "-u", run_as, "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{result.stdout}{result.stderr}")
    server = PrivatePostgres(root, free_port(), bindir, run_as)
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server
