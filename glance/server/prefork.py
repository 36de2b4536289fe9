"""Several worker processes on one port (``workers`` > 1): the parent binds the port once,
forks the workers — each accepts on the shared socket, with its own application, registry
connections and worker id, as separate processes sharing one catalogue do — restarts a
worker that dies, and on SIGTERM or SIGINT stops them all gracefully.

The parent stays single-threaded and runs no event loop, so forking it is safe; it waits on
the workers' sentinels and on a wake-up pipe that signals write to.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from glance.common.exception import ConfigError
from glance.common.metrics import MULTIPROCESS_ENV
from glance.config import Settings
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import upgrade_engine
from glance.server.process import CLEANUP_SECONDS, serve

LOG = logging.getLogger("glance.api")
FORK = multiprocessing.get_context("fork")
EX_CONFIG = 78  # a worker that cannot start for its configuration: restarting is no help
MAX_BACKOFF = 30.0  # seconds between restarts of a worker that keeps dying young
YOUNG = 10.0  # a worker that dies younger than this is restarted after a growing delay


@dataclass
class Slot:
    """One of the N worker places: its current process and its restart history."""

    number: int
    process: multiprocessing.process.BaseProcess | None = None
    started: float = 0.0
    backoff: float = 0.0
    due: float = field(default=0.0)  # when to (re)start it, while it has no process


def run_workers(settings: Settings, sock: socket.socket) -> int:
    """Serve ``sock`` with ``settings.workers`` processes until SIGTERM or SIGINT; 0 when
    every worker stopped cleanly, 1 otherwise."""
    if settings.auto_migrate:  # once, here, rather than racing in every worker
        engine = create_registry_engine(settings.resolved_database_url)
        try:
            upgrade_engine(engine)
        finally:
            engine.dispose()
    return Supervisor(settings, sock).run()


class Supervisor:
    """The parent of the worker processes."""

    def __init__(self, settings: Settings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.slots = [Slot(n) for n in range(settings.workers)]
        self.stopping = False
        self.failed = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)

    def run(self) -> int:
        signal.set_wakeup_fd(self.wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        LOG.info("glance-api parent %d: starting %d workers", os.getpid(), len(self.slots))
        try:
            while not self.stopping:
                self._start_due()
                self._wait()
                self._reap()
        finally:
            self.sock.close()  # new connections are refused once the workers close theirs
            clean = self._stop_all()
            signal.set_wakeup_fd(-1)
            os.close(self.wake_r)
            os.close(self.wake_w)
        LOG.info("glance-api parent %d: stopped", os.getpid())
        return 0 if clean and not self.failed else 1

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _start_due(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is None and slot.due <= now:
                process = FORK.Process(target=self._work, name=f"glance-api-{slot.number}",
                                       args=(os.getpid(),))
                process.start()
                slot.process, slot.started = process, time.monotonic()
                LOG.info("worker %d started (pid %s)", slot.number, process.pid)

    def _wait(self) -> None:
        """Until a worker ends, a signal arrives or a restart is due."""
        sentinels = [s.process.sentinel for s in self.slots if s.process is not None]
        due = [s.due for s in self.slots if s.process is None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        multiprocessing.connection.wait([self.wake_r, *sentinels], timeout)
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _reap(self) -> None:
        for slot in self.slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            slot.process = None
            code = process.exitcode
            if os.environ.get(MULTIPROCESS_ENV) and process.pid is not None:
                # its live gauges (transfers in flight) leave the sums over the workers
                mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
            if self.stopping:
                continue
            if code == EX_CONFIG:
                LOG.error("worker %d cannot start (configuration): stopping", slot.number)
                self.stopping = self.failed = True
                continue
            lived = time.monotonic() - slot.started
            slot.backoff = min(max(slot.backoff * 2, 1.0), MAX_BACKOFF) if lived < YOUNG else 0
            slot.due = time.monotonic() + slot.backoff
            how = f"was killed by signal {-code}" if code is not None and code < 0 else \
                f"exited with {code}"
            LOG.error("worker %d (pid %s) %s after %.1fs: restarting it%s", slot.number,
                      process.pid, how, lived,
                      f" in {slot.backoff:g}s" if slot.backoff else "")

    def _stop_all(self) -> bool:
        """SIGTERM to every worker; each stops gracefully (``shutdown_grace_seconds``), or is
        killed when it overstays by far. Whether all stopped cleanly."""
        running = [s.process for s in self.slots if s.process is not None]
        for process in running:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + \
            CLEANUP_SECONDS + 15
        clean = True
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                LOG.error("worker pid %s did not stop in time: killing it", process.pid)
                process.kill()
                process.join()
            clean = clean and process.exitcode == 0
        return clean

    def _work(self, parent: int) -> None:
        """A worker process: the parent's signal handling undone, then one server."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.close(self.wake_r)
        os.close(self.wake_w)
        try:
            asyncio.run(serve(self.settings, self.sock, parent=parent))
        except ConfigError as exc:
            LOG.error("worker cannot start: %s", exc)
            sys.exit(EX_CONFIG)
