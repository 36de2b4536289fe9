"""File store: one file per key in a directory; writes go to a ``.part`` file renamed on success."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, TypeVar

from glance.stores.base import Chunk, Store, StoredObject, StoreNotFound, StoreWriteError, check_key

LOG = logging.getLogger(__name__)
PART_SUFFIX = ".part"
STALE_PART_SECONDS = 24 * 3600  # no live write leaves its part file untouched this long
T = TypeVar("T")


class FileStore(Store):
    """Keys are file names inside ``directory``; a key can never name a path outside it."""

    driver = "file"

    def __init__(self, name: str, directory: str, fsync: bool = True,
                 read_chunk_size: int = 1 << 20) -> None:
        super().__init__(name)
        self.directory = Path(directory).resolve()
        self.fsync = fsync
        self.read_chunk_size = read_chunk_size

    async def start(self) -> None:
        """Create the directory. Partial files of interrupted writes are removed by
        ``discard_partial`` when the registry says whose they were (other processes may be
        writing into the same directory), or here once untouched for STALE_PART_SECONDS."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stale = time.time() - STALE_PART_SECONDS
        for leftover in self.directory.glob("*" + PART_SUFFIX):
            try:
                if leftover.stat().st_mtime < stale:
                    LOG.warning("removing a partial write untouched for a day: %s", leftover)
                    leftover.unlink(missing_ok=True)
            except FileNotFoundError:
                pass

    async def discard_partial(self, key: str) -> None:
        for leftover in self.directory.glob(f"{check_key(key)}.*{PART_SUFFIX}"):
            LOG.warning("removing partial upload left by a crash: %s", leftover)
            leftover.unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        path = self.directory / check_key(key)
        if path.parent != self.directory:
            raise StoreNotFound(f"Invalid key {key!r}")
        return path

    async def put(self, key: str, chunks: AsyncIterator[Chunk],
                  size_hint: int | None = None) -> StoredObject:
        final = self._path(key)
        part = self.directory / f"{key}.{uuid.uuid4().hex}{PART_SUFFIX}"
        try:
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise StoreWriteError(f"Cannot write to store {self.name}: {exc.strerror}") from None
        size = 0
        try:
            async for chunk in chunks:  # the source's own errors propagate unchanged
                await self._io(asyncio.to_thread(_write_all, fd, chunk))
                size += len(chunk)
            if self.fsync:
                await self._io(asyncio.to_thread(os.fsync, fd))
            os.close(fd)
            fd = -1
            await self._io(asyncio.to_thread(os.replace, part, final))
        finally:
            if fd >= 0:
                os.close(fd)
            part.unlink(missing_ok=True)
        return StoredObject(key=key, size=size)

    async def _io(self, operation: Awaitable[T]) -> T:
        """Await a disk operation, translating OSError into StoreWriteError."""
        try:
            return await operation
        except OSError as exc:
            raise StoreWriteError(f"Cannot write to store {self.name}: {exc.strerror}") from None

    async def get(self, key: str, offset: int = 0,
                  length: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StoreNotFound(f"{key} is not in store {self.name}") from None
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

    async def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
            return True
        except FileNotFoundError:
            return False

    async def stat(self, key: str) -> StoredObject:
        try:
            return StoredObject(key=key, size=self._path(key).stat().st_size)
        except FileNotFoundError:
            raise StoreNotFound(f"{key} is not in store {self.name}") from None

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))


def _write_all(fd: int, data: Chunk) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
