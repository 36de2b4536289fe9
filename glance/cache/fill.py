"""One image written into the cache from the chunks of a download, off the event loop.

The chunks go to a writer thread behind a bounded queue: the reader never waits for it
unless it asks to (the prefetcher does). A reader that is not to wait and finds the queue
full gives the fill up: the partial file is removed, the lock released, and the client goes
on untouched. Once the writer is done — the download it copies is over — the MD5 and the
image's own hash are computed by threads reading the partial file back (from the page cache,
into one reused buffer each: memory stays flat) at the lowest CPU priority; then the size and
hashes are checked and the fill committed (or discarded). Hashing after the download, not
beside it, keeps its CPU off the client's transfer: with the kernel's autogroups a thread's
niceness only ranks it within its own process's session, so hashing beside the transfer took
CPU from the store and the client (first download at 0.57× the uncached one on 2 cores).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import Callable

from glance.cache.entries import Hasher, Identity, ImageCache

LOG = logging.getLogger(__name__)

_POLL = 0.1  # seconds between the workers' looks at the fill's state
_READ = 1 << 20
HASH_NICENESS = 19
LAG_BYTES = 64 << 20  # how far the writer may lag behind the reader


class _Lane:
    """A worker thread consuming the chunks of one fill from a bounded queue."""

    def __init__(self, fill: Fill, name: str, work: Callable[[bytes], None],
                 slots: int) -> None:
        self.fill = fill
        self.queue: queue.Queue[bytes] = queue.Queue(maxsize=slots)
        self.work = work
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)
        self.thread.start()

    def run(self) -> None:
        fill = self.fill
        idle = 0.0
        while fill.failure is None:
            try:
                chunk = self.queue.get(timeout=_POLL)
            except queue.Empty:
                if fill.ended:
                    return
                idle += _POLL
                if idle >= fill.cache.stall_time:
                    fill.abandon(f"no data for {fill.cache.stall_time:g} s (stalled)")
                continue
            idle = 0.0
            try:
                self.work(chunk)
            except Exception as exc:  # noqa: BLE001 - a failed fill never reaches the client
                fill.abandon(f"{type(exc).__name__}: {exc}")


class Fill:
    """A fill of ``image_id`` in progress; the caller holds the fill lock ``lock_fd``."""

    def __init__(self, cache: ImageCache, image_id: str, identity: Identity, lock_fd: int,
                 chunk_size: int) -> None:
        self.cache = cache
        self.image_id = image_id
        self.identity = identity
        self.lock_fd = lock_fd
        self.part, self.fd = cache.new_part(image_id)
        self.hasher = Hasher(identity)
        self.failure: str | None = None
        self.ended = False  # every chunk has been offered
        self.lagged = False  # given up because a worker fell behind
        self.given = 0
        self.done = threading.Event()
        self.written = 0  # bytes in the partial file
        slots = max(4, LAG_BYTES // max(chunk_size, 1))
        self.lanes = [_Lane(self, f"cache-write-{image_id[:8]}", self._write, slots)]
        self.followers = [
            threading.Thread(target=self._hash, args=(h.update,), daemon=True,
                             name=f"cache-hash-{image_id[:8]}")
            for h in (self.hasher.md5, self.hasher.other) if h is not None]
        for follower in self.followers:
            follower.start()
        self.closer = threading.Thread(target=self._finish, name=f"cache-{image_id[:8]}",
                                       daemon=True)
        self.closer.start()

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]
        self.written += len(chunk)

    def _hash(self, update: Callable[[memoryview], None]) -> None:
        """Once the writer is done, hash the partial file at the lowest CPU priority
        (Linux: per thread)."""
        self.lanes[0].thread.join()
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
        except OSError:
            pass
        buffer = bytearray(_READ)
        offset, end = 0, self.written
        try:
            while self.failure is None and offset < end:
                got = os.preadv(self.fd, [buffer], offset)
                if not got:
                    raise OSError(f"the partial file ends at {offset}, not {end}")
                update(memoryview(buffer)[:got])
                offset += got
        except Exception as exc:  # noqa: BLE001 - a failed fill never reaches the client
            self.abandon(f"{type(exc).__name__}: {exc}")

    def offer(self, chunk: bytes, wait: bool = False) -> bool:
        """Hand a chunk to the workers. Without ``wait``, a worker that lags LAG_BYTES
        behind gives the fill up. False once the fill is given up."""
        if self.failure is not None:
            return False
        self.given += len(chunk)
        if self.given > self.identity.size:
            self.abandon("more bytes than the image's size")
            return False
        for lane in self.lanes:
            while True:
                try:
                    lane.queue.put(chunk, timeout=_POLL) if wait else lane.queue.put_nowait(chunk)
                    break
                except queue.Full:
                    if not wait:
                        self.lagged = True
                        self.abandon("the cache disk fell behind the download")
                    if self.failure is not None:
                        return False
        return True

    def finish(self) -> None:
        """All chunks are in: the workers drain, then the fill is verified and committed."""
        self.ended = True

    def abandon(self, reason: str) -> None:
        """Give the fill up (its partial file is removed; the client is not affected)."""
        if self.failure is None:
            self.failure = reason
            LOG.warning("image cache: fill of %s given up: %s", self.image_id, reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the fill has ended; whether it was committed."""
        self.done.wait(timeout)
        return self.done.is_set() and self.failure is None

    def _finish(self) -> None:
        try:
            for thread in [lane.thread for lane in self.lanes] + self.followers:
                thread.join()
            if self.failure is None:
                self.hasher.size = os.fstat(self.fd).st_size
                wrong = self.hasher.mismatch()
                if wrong is not None:
                    self.failure = f"the data read is not the image's ({wrong})"
                    LOG.error("image cache: not caching %s: %s", self.image_id, self.failure)
            if self.failure is None:
                self.cache.commit(self.image_id, self.identity, self.part, self.fd)
        except Exception as exc:  # noqa: BLE001 - logged; the fill is simply not kept
            self.failure = f"{type(exc).__name__}: {exc}"
            LOG.exception("image cache: fill of %s failed", self.image_id)
        finally:
            if self.failure is not None:
                try:
                    os.unlink(self.part)
                except FileNotFoundError:
                    pass
            os.close(self.fd)
            os.close(self.lock_fd)
            self.done.set()
