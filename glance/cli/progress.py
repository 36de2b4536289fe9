"""A one-line progress bar on stderr while image bytes move: bytes, percent, MB/s."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, TextIO


class Progress:
    """A progress bar drawn (at most five times a second) on a terminal stream.

    ``enabled`` False makes every method a no-op but the byte count, so callers need no
    branches.
    """

    WIDTH = 24

    def __init__(self, label: str, total: int | None, stream: TextIO, enabled: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last_draw = 0.0

    def update(self, count: int) -> None:
        """Count ``count`` more bytes (and redraw if it is time)."""
        self.done += count
        if self.enabled:
            now = self.clock()
            if now - self._last_draw >= 0.2:
                self._last_draw = now
                self._draw(now)

    def finish(self) -> None:
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(self.clock())
            self.stream.write("\n")
            self.stream.flush()

    def abort(self) -> None:
        """End the line after a failure, leaving the last state visible."""
        if self.enabled and self._last_draw:
            self.stream.write("\n")
            self.stream.flush()

    def render(self, now: float) -> str:
        """The bar's text at time ``now``."""
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed / 1e6
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount = f"{_mb(self.done)}/{_mb(self.total)} MB"
            return f"{self.label} [{bar}] {fraction * 100:5.1f}% {amount} {rate:7.1f} MB/s"
        return f"{self.label} {_mb(self.done)} MB {rate:7.1f} MB/s"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self.render(now) + "\x1b[K")
        self.stream.flush()


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f}"


def stderr_is_terminal() -> bool:
    """Whether a bar drawn on stderr would be seen on a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    """``chunks`` as they pass, each counted by ``progress``."""
    for chunk in chunks:
        progress.update(len(chunk))
        yield chunk


class ProgressReader:
    """A binary file wrapper that reports each ``read`` to a Progress.

    It keeps ``seekable``/``tell``/``seek`` so a client can still learn the size and send
    ``Content-Length``.
    """

    def __init__(self, fileobj: BinaryIO, progress: Progress) -> None:
        self._file = fileobj
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._progress.update(len(chunk))
        return chunk

    def seekable(self) -> bool:
        try:
            return self._file.seekable()
        except (AttributeError, ValueError, OSError):
            return False

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)
