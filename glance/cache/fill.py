"""One image written into the cache from the chunks of a download, off the event loop.

The chunks go to a writer thread through a queue of at most LAG_BYTES (it writes past the
page cache where it can: glance.cache.writer); the reader never waits for it unless it asks
to (the prefetcher does). A reader that is not to wait and finds the queue full gives the
fill up: the partial file is removed, the lock released, and the client goes on untouched.
Once the writer is done — the download it copies is over — the MD5 and the image's own hash
are computed by threads reading the partial file back (into one reused buffer each: memory
stays flat; the first read leaves the file in the page cache for the downloads that follow)
at the lowest CPU priority; then the size and hashes are checked and the fill committed (or
discarded). Hashing after the download, not beside it, keeps its CPU off the client's
transfer: with the kernel's autogroups a thread's niceness only ranks it within its own
process's session, so hashing beside the transfer took CPU from the store and the client
(first download at 0.57× the uncached one on 2 cores).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import Callable

from glance.cache.entries import Hasher, Identity, ImageCache
from glance.cache.writer import CacheFileWriter

LOG = logging.getLogger(__name__)

_POLL = 0.1  # seconds between the hashing threads' looks at the fill's state
# The writer looks for chunks this often (and takes all there are) rather than being woken
# for each: every wake-up costs it the GIL, which a busy event loop may hold for up to
# sys.getswitchinterval() (5 ms) — per chunk, that starved the writer below the download.
_WRITER_NAP = 0.005
_READ = 1 << 20
HASH_NICENESS = 19
LAG_BYTES = 64 << 20  # how far the writer may lag behind the reader


class Fill:
    """A fill of ``image_id`` in progress; the caller holds the fill lock ``lock_fd``."""

    def __init__(self, cache: ImageCache, image_id: str, identity: Identity,
                 lock_fd: int) -> None:
        self.cache = cache
        self.image_id = image_id
        self.identity = identity
        self.lock_fd = lock_fd
        self.part, self.fd = cache.new_part(image_id)
        self.hasher = Hasher(identity)
        self.failure: str | None = None
        self.ended = False  # every chunk has been offered
        self.lagged = False  # given up because the writer fell behind
        self.given = 0
        self.written = 0  # bytes in the partial file, once the writer is done
        self.done = threading.Event()
        self.chunks: deque[bytes] = deque()  # offered, not yet written
        self.taken = 0  # bytes the writer has taken from ``chunks``
        self.writer = threading.Thread(target=self._write_all, daemon=True,
                                       name=f"cache-write-{image_id[:8]}")
        self.writer.start()
        self.followers = [
            threading.Thread(target=self._hash, args=(h.update,), daemon=True,
                             name=f"cache-hash-{image_id[:8]}")
            for h in (self.hasher.md5, self.hasher.other) if h is not None]
        for follower in self.followers:
            follower.start()
        self.closer = threading.Thread(target=self._finish, name=f"cache-{image_id[:8]}",
                                       daemon=True)
        self.closer.start()

    def _write_all(self) -> None:
        """Write the queued chunks into the partial file until the last one is written, the
        fill fails, or no chunk comes for ``stall_time``."""
        file: CacheFileWriter | None = None
        last_chunk = time.monotonic()
        try:
            file = CacheFileWriter(self.fd)
            while self.failure is None:
                try:
                    chunk = self.chunks.popleft()
                except IndexError:
                    if self.ended and not self.chunks:
                        break
                    if time.monotonic() - last_chunk >= self.cache.stall_time:
                        self.abandon(f"no data for {self.cache.stall_time:g} s (stalled)")
                    time.sleep(_WRITER_NAP)
                    continue
                last_chunk = time.monotonic()
                self.taken += len(chunk)
                file.write(chunk)
            file.close(flush=self.failure is None)
        except Exception as exc:  # noqa: BLE001 - a failed fill never reaches the client
            self.abandon(f"{type(exc).__name__}: {exc}")
            if file is not None:
                file.close(flush=False)
        finally:
            self.written = file.written if file is not None else 0
            self.chunks.clear()

    def _hash(self, update: Callable[[memoryview], None]) -> None:
        """Once the writer is done, hash the partial file at the lowest CPU priority
        (Linux: per thread)."""
        self.writer.join()
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)
        except OSError:
            pass
        buffer = bytearray(_READ)
        offset, end = 0, self.written
        try:
            os.posix_fadvise(self.fd, 0, end, os.POSIX_FADV_SEQUENTIAL)  # a larger read-ahead
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
        while self.given - len(chunk) - self.taken >= LAG_BYTES:
            if not wait:
                self.lagged = True
                self.abandon("the cache disk fell behind the download")
            if self.failure is not None:
                return False
            time.sleep(_WRITER_NAP)
        self.chunks.append(chunk)
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
            for thread in [self.writer, *self.followers]:
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
