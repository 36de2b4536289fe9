"""Writing a cache file past the page cache (O_DIRECT), where the file system allows it.

A buffered write of 1 GiB costs 0.8–2.5 CPU-seconds here (the kernel allocates and fills
page cache pages, and later writes them back); written with O_DIRECT from an aligned buffer
it costs ~0.25 (the copy into the buffer; the device does the rest). On a small machine that
CPU is taken from the download the fill copies. The data is read back once, to be hashed,
which leaves it in the page cache for the downloads that follow.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os

BLOCK = 4096  # O_DIRECT's alignment of offsets, lengths and memory (a safe upper bound)
# Bytes gathered before each write (a multiple of BLOCK). Each write costs the writer the I/O
# and then the GIL back, which a busy event loop may keep for up to 5 ms: under a 1 GiB
# download from RGW the writer managed ~500 MB/s in 4 MiB writes (barely the download's
# rate: fills fell behind), ~750 MB/s in 16 MiB ones.
BUFFER = 16 << 20


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for ``fd``; whether the file system took it."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_DIRECT if on else flags & ~os.O_DIRECT)
    except OSError:
        return False
    return True


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


class CacheFileWriter:
    """Appends to an empty file open on ``fd``: through an aligned buffer with O_DIRECT,
    or with plain writes where O_DIRECT is refused — by the flag or by a write — (or not
    ``direct``). ``close`` writes what is left (the unaligned tail plainly); ``written``
    counts the bytes given."""

    def __init__(self, fd: int, direct: bool = True) -> None:
        self.fd = fd
        self.written = 0
        self._buffer: mmap.mmap | None = None
        self._o_direct = direct and hasattr(os, "O_DIRECT") and _set_direct(fd, True)
        if self._o_direct:
            self._buffer = mmap.mmap(-1, BUFFER)  # page-aligned
        self._filled = 0

    @property
    def direct(self) -> bool:
        return self._buffer is not None

    def write(self, chunk: bytes) -> None:
        """Append ``chunk`` (raises OSError as the write does)."""
        self.written += len(chunk)
        if self._buffer is None:
            _write_all(self.fd, memoryview(chunk))
            return
        data = memoryview(chunk)
        with memoryview(self._buffer) as buffer:
            while data:
                n = min(len(data), BUFFER - self._filled)
                buffer[self._filled:self._filled + n] = data[:n]
                self._filled += n
                data = data[n:]
                if self._filled == BUFFER:
                    self._write_buffered(buffer)
                    self._filled = 0

    def _write_buffered(self, data: memoryview) -> None:
        while data:
            try:
                data = data[os.write(self.fd, data):]
            except OSError as exc:
                # a file system that takes the flag but not the writes: plain ones from now on
                if exc.errno != errno.EINVAL or not self._o_direct:
                    raise
                self._o_direct = False
                _set_direct(self.fd, False)

    def close(self, flush: bool = True) -> None:
        """Write what is buffered (unless not ``flush``: the file is given up) and leave
        ``fd`` open, without O_DIRECT."""
        if self._buffer is None:
            return
        try:
            with memoryview(self._buffer) as buffer:
                aligned = self._filled - self._filled % BLOCK
                if flush and aligned:
                    self._write_buffered(buffer[:aligned])
                _set_direct(self.fd, False)
                if flush:
                    _write_all(self.fd, buffer[aligned:self._filled])
        finally:
            self._buffer.close()
            self._buffer = None
            self._filled = 0
