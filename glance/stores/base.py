"""The store interface: stores move bytes under keys and know nothing of images."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import AsyncIterator, ClassVar, TypeAlias

from glance.common import exception

Chunk: TypeAlias = bytes | bytearray  # what flows through an upload

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")


class StoreNotFound(exception.NotFound):
    """The key does not exist in the store."""


class StoreWriteError(exception.StoreError):
    """The store could not write (disk full, permission, backend failure)."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key (no path separators, no leading dot)."""
    if not _KEY_RE.match(key):
        raise exception.BadRequest(f"Invalid store key {key!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """What a store reports after a successful put."""

    key: str
    size: int


class Store(ABC):
    """A named instance of a byte store.

    ``put`` consumes the chunks; if the iterator raises, or the store fails, the partial
    object is removed before the exception propagates: nothing half-written survives.
    Vendor errors never escape: they become ``StoreNotFound`` or ``StoreWriteError``.
    """

    driver: ClassVar[str]
    writable: ClassVar[bool] = True

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        """Prepare the store (create directories, buckets …); clean leftovers of a crash."""

    async def close(self) -> None:
        """Release connections."""

    @abstractmethod
    async def put(self, key: str, chunks: AsyncIterator[Chunk],
                  size_hint: int | None = None) -> StoredObject:
        """Store the chunks under ``key`` atomically. Raises StoreWriteError."""

    @abstractmethod
    def get(self, key: str, offset: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes (all when None) from ``offset``. Raises StoreNotFound."""

    @abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if something was removed, False if it was not there."""

    @abstractmethod
    async def stat(self, key: str) -> StoredObject:
        """Size of what is stored under ``key``. Raises StoreNotFound."""

    async def discard_partial(self, key: str) -> None:
        """Remove what an interrupted ``put`` of ``key`` left behind (after a crash): pending
        multipart uploads, orphan segments. Never raises for what is not there; StoreWriteError
        when the store cannot be reached."""

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        try:
            await self.stat(key)
            return True
        except StoreNotFound:
            return False

    def local_path(self, key: str) -> str | None:
        """A local file holding ``key``'s bytes, for zero-copy sends; None if not local."""
        return None
