"""Image data on this machine: the file or stdin an upload reads, the file or stdout a
download writes (removed again when the download fails)."""

from __future__ import annotations

import os
import stat
import sys
from types import TracebackType
from typing import BinaryIO

from glance.common import exception


def stdin_has_data() -> bool:
    """True when stdin is a pipe or a redirected file: not a terminal, not /dev/null, not
    a socket a supervisor left open, not closed."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def open_source(path: str | None, auto_stdin: bool) -> tuple[BinaryIO | None, bool]:
    """The data to upload and whether the caller must close it.

    ``path`` ``-`` is stdin; no path means stdin when ``auto_stdin`` and stdin holds data,
    else no data (None).
    """
    if path == "-":
        return sys.stdin.buffer, False
    if path:
        try:
            return open(path, "rb"), True
        except OSError as exc:
            raise exception.GlanceException(f"cannot read {path}: {exc.strerror}") from None
    if auto_stdin and stdin_has_data():
        return sys.stdin.buffer, False
    return None, False


class Sink:
    """Where downloaded bytes go: ``path``, or stdout when ``path`` is None.

    Used as a context manager: the file is closed at the end and removed if the block
    failed, so a broken download leaves no partial file behind.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._out: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.path is None:
            self._out = sys.stdout.buffer
        else:
            try:
                self._out = open(self.path, "wb")
            except OSError as exc:
                raise exception.GlanceException(
                    f"cannot write {self.path}: {exc.strerror}") from None
        return self._out

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        out, self._out = self._out, None
        if out is None:
            return
        if self.path is None:
            if exc_type is None:
                out.flush()
            return
        out.close()
        if exc_type is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
