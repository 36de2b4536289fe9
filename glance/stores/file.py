"""File store: one file per key in a directory; writes go to a ``.part`` file renamed on success."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
import uuid
from pathlib import Path
from typing import AsyncGenerator, AsyncIterator

from glance.common import exception
from glance.stores.base import Chunk, Doing, Store, StoredObject, StoreNotFound

LOG = logging.getLogger(__name__)
PART_SUFFIX = ".part"
STALE_PART_SECONDS = 24 * 3600  # no live write leaves its part file untouched this long


class FileStore(Store):
    """Keys are file names inside ``directory``; a key can never name a path outside it.
    Every OSError becomes a store error here (a full or unwritable disk: 503)."""

    driver = "file"
    listable = True
    vendor_errors = (OSError,)

    def __init__(self, name: str, directory: str, *, fsync: bool, read_chunk_size: int) -> None:
        super().__init__(name)
        self.directory = Path(directory).resolve()
        self.fsync = fsync
        self.read_chunk_size = read_chunk_size

    def translate(self, exc: BaseException, key: str | None,
                  doing: Doing) -> exception.GlanceException:
        if isinstance(exc, FileNotFoundError) and key is not None and doing in ("read", "stat"):
            return StoreNotFound(f"{key} is not in store {self.name}")
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return self.failed(doing, reason)

    async def _start(self) -> None:
        """Create the directory. Partial files of interrupted writes are removed by
        ``discard_partial`` when the registry says whose they were (other processes may be
        writing into the same directory), or here once untouched for STALE_PART_SECONDS."""
        await asyncio.to_thread(self._remove_stale_parts)

    def _remove_stale_parts(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = time.time() - STALE_PART_SECONDS
        for leftover in self.directory.glob("*" + PART_SUFFIX):
            try:
                if leftover.stat().st_mtime < stale:
                    LOG.warning("removing a partial write untouched for a day: %s", leftover)
                    leftover.unlink(missing_ok=True)
            except FileNotFoundError:
                pass

    async def _discard_partial(self, key: str) -> None:
        await asyncio.to_thread(self._remove_parts, key)

    def _remove_parts(self, key: str) -> None:
        for leftover in self.directory.glob(f"{key}.*{PART_SUFFIX}"):
            LOG.warning("removing partial upload left by a crash: %s", leftover)
            leftover.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        path = self.directory / self.valid_key(key)
        if path.parent != self.directory:
            raise StoreNotFound(f"Invalid key {key!r}")
        return path

    async def _put(self, key: str, chunks: AsyncIterator[Chunk],
                   size_hint: int | None) -> StoredObject:
        final = self._path(key)
        part = self.directory / f"{key}.{uuid.uuid4().hex}{PART_SUFFIX}"
        committed = False
        fd = await asyncio.to_thread(
            os.open, part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        size = 0
        try:
            async for chunk in chunks:  # the source's own errors propagate unchanged
                await asyncio.to_thread(_write_all, fd, chunk)
                size += len(chunk)
            if self.fsync:
                await asyncio.to_thread(os.fsync, fd)
            os.close(fd)
            fd = -1
            await asyncio.to_thread(os.replace, part, final)
            committed = True
        finally:
            if fd >= 0:
                os.close(fd)
            if not committed:
                # a big partial file takes long to unlink: in a thread, finished even if
                # this task is cancelled meanwhile
                await asyncio.shield(asyncio.to_thread(_unlink, part))
        return StoredObject(key=key, size=size)

    async def _get(self, key: str, offset: int,
                   length: int | None) -> AsyncGenerator[bytes, None]:
        fd = await asyncio.to_thread(os.open, self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        try:
            remaining = length
            position = offset
            while remaining is None or remaining > 0:
                want = self.read_chunk_size if remaining is None else min(remaining,
                                                                          self.read_chunk_size)
                data = await asyncio.to_thread(os.pread, fd, want, position)
                if not data:
                    break
                position += len(data)
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            os.close(fd)

    async def _delete(self, key: str) -> bool:
        # unlinking a big file takes long (about 0.7 s per GiB here): never on the loop;
        # shielded, so that a cancelled caller still leaves the file gone
        return await asyncio.shield(asyncio.to_thread(_unlink, self._path(key)))

    async def _stat(self, key: str) -> StoredObject:
        path = self._path(key)
        return StoredObject(key=key, size=(await asyncio.to_thread(path.stat)).st_size)

    async def _list_keys(self) -> list[str]:
        def names() -> list[str]:
            with os.scandir(self.directory) as entries:
                return [e.name for e in entries
                        if not e.name.endswith(PART_SUFFIX) and e.is_file(follow_symlinks=False)]
        return await asyncio.to_thread(names)

    async def _check(self) -> None:
        """The directory is there and writable (a missing mount is not 'no such key')."""
        if not await asyncio.to_thread(os.path.isdir, self.directory):
            raise NotADirectoryError(errno.ENOTDIR, "directory missing", str(self.directory))
        if not await asyncio.to_thread(os.access, self.directory, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "directory not writable", str(self.directory))

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))


def _unlink(path: Path) -> bool:
    """Remove ``path``; whether it was there."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _write_all(fd: int, data: Chunk) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
