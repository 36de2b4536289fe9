"""The store interface: stores move bytes under keys and know nothing of images.

``Store``'s public methods are the one edge every driver shares: they check the key,
translate the driver's vendor errors (``vendor_errors`` → ``translate``) into store errors,
cut reads to the length asked for, and time each call. Drivers implement the ``_``-methods.
"""

from __future__ import annotations

import logging
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import AsyncGenerator, AsyncIterator, Callable, ClassVar, Literal, TypeAlias

from glance.common import exception

LOG = logging.getLogger(__name__)

Chunk: TypeAlias = bytes | bytearray  # what flows through an upload
Doing: TypeAlias = Literal["start", "write", "read", "stat", "delete", "discard"]

# observer of each call: (store name, operation, seconds, failed in the store)
StoreObserver: TypeAlias = Callable[[str, str, float, bool], None]

_KEY_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")


class StoreNotFound(exception.NotFound):
    """The key does not exist in the store."""


class StoreWriteError(exception.StoreError):
    """The store could not write or delete (disk full, permission, backend failure)."""


class StoreLeftovers(StoreWriteError):
    """A put failed and the store could not yet remove what it had written (it went away
    mid-write): ``discard_partial(key)`` must be called once it is back."""


class StoreReadError(exception.StoreError):
    """The store could not read (backend failure, lost connection)."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key (no path separators, no leading dot)."""
    if not _KEY_RE.match(key):
        raise exception.BadRequest(f"Invalid store key {key!r}")
    return key


def range_header(offset: int, length: int | None) -> str | None:
    """The HTTP ``Range`` value asking for ``length`` bytes (all: None) from ``offset``; None
    when the whole object is wanted."""
    if not offset and length is None:
        return None
    return f"bytes={offset}-{'' if length is None else offset + length - 1}"


@dataclass(frozen=True)
class StoredObject:
    """What a store reports after a successful put."""

    key: str
    size: int


class _Source:
    """The chunks given to ``put``, remembering what they raised: the source's own errors
    (a client gone, a size check) pass through untranslated."""

    def __init__(self, chunks: AsyncIterator[Chunk]) -> None:
        self._chunks = chunks.__aiter__()
        self.failure: BaseException | None = None

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> Chunk:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            raise
        except BaseException as exc:
            self.failure = exc
            raise


class Store(ABC):
    """A named instance of a byte store.

    Capabilities: ``writable`` (put and delete work), ``keys_are_urls`` (keys are public
    http(s) URLs, as registered by v1 locations), ``listable`` (``list_keys`` works),
    ``local_path`` (a local file to send with zero-copy). ``put`` consumes the chunks; if
    they raise, or the store fails, the partial object is removed before the exception
    propagates: nothing half-written survives.
    """

    driver: ClassVar[str]
    writable: ClassVar[bool] = True
    keys_are_urls: ClassVar[bool] = False
    listable: ClassVar[bool] = False  # list_keys works
    vendor_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        # store weights (tempest-rest): higher first where downloads read and where the
        # stores of an image and of this server are listed; set from the store's settings
        self.weight = 0
        self.observer: StoreObserver | None = None  # told of each call (metrics)

    def _observe(self, operation: str, started: float, error: BaseException | None) -> None:
        """Tell the observer of a call; only the store's own failures count as failed."""
        if self.observer is not None:
            self.observer(self.name, operation, time.monotonic() - started,
                          isinstance(error, exception.StoreError))

    # -- the edge ---------------------------------------------------------------------------

    def valid_key(self, key: str) -> str:
        """``key`` if this store can hold it, else BadRequest."""
        return check_key(key)

    def translate(self, exc: BaseException, key: str | None,
                  doing: Doing) -> exception.GlanceException:
        """The store error standing for the vendor error ``exc`` met while ``doing``."""
        return self.failed(doing, f"{type(exc).__name__}: {exc}")

    def failed(self, doing: Doing, reason: str) -> exception.StoreError:
        """StoreReadError for reads, StoreWriteError for everything else."""
        cls = StoreReadError if doing in ("read", "stat") else StoreWriteError
        return cls(f"Store {self.name} failed to {doing}: {reason}")

    async def start(self) -> None:
        """Prepare the store (create directories, buckets …). Raises StoreWriteError."""
        try:
            await self._start()
        except self.vendor_errors as exc:
            raise self.translate(exc, None, "start") from None

    async def close(self) -> None:
        """Release connections."""

    async def put(self, key: str, chunks: AsyncIterator[Chunk],
                  size_hint: int | None = None) -> StoredObject:
        """Store the chunks under ``key`` atomically. Raises StoreWriteError (or whatever
        the chunks raise)."""
        key = self.valid_key(key)
        if not self.writable:
            raise StoreWriteError(f"Store {self.name} is read-only")
        source = _Source(chunks)
        started = time.monotonic()
        failure: exception.GlanceException | None = None
        try:
            try:
                stored = await self._put(key, source, size_hint)
            except self.vendor_errors as exc:
                if exc is source.failure:
                    raise
                failure = self.translate(exc, key, "write")
            if failure is not None:
                raise await self._after_failed_put(key, failure)
        except BaseException as exc:
            self._observe("put", started, exc)
            raise
        self._observe("put", started, None)
        LOG.debug("store %s: put %s, %d bytes in %.3f s", self.name, key, stored.size,
                  time.monotonic() - started)
        return stored

    async def _after_failed_put(self, key: str,
                                failure: exception.GlanceException) -> exception.GlanceException:
        """``failure``, once what the failed put of ``key`` wrote is gone: the driver removed
        it unless the store failed meanwhile, so look again. StoreLeftovers when the store
        still cannot be reached."""
        try:
            await self._discard_partial(key)
        except self.vendor_errors as exc:
            LOG.warning("store %s: cannot remove yet what the failed put of %s left: %s",
                        self.name, key, self.translate(exc, key, "discard"))
            return StoreLeftovers(f"{failure}; what it wrote will be removed once the store "
                                  f"is back")
        return failure

    async def get(self, key: str, offset: int = 0,
                  length: int | None = None) -> AsyncGenerator[bytes, None]:
        """Stream ``length`` bytes (all when None) from ``offset``. Raises StoreNotFound,
        StoreReadError."""
        key = self.valid_key(key)
        if length == 0:
            return
        started = time.monotonic()
        stream = self._get(key, offset, length)
        remaining = length
        error: BaseException | None = None
        try:
            async for chunk in stream:
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                if chunk:
                    yield chunk
                if remaining == 0:
                    break
        except self.vendor_errors as exc:
            error = self.translate(exc, key, "read")
            raise error from None
        except BaseException as exc:
            error = exc
            raise
        finally:
            await stream.aclose()
            self._observe("get", started, error)
        LOG.debug("store %s: read %s from %d in %.3f s", self.name, key, offset,
                  time.monotonic() - started)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True if something was removed, False if it was not there."""
        key = self.valid_key(key)
        if not self.writable:
            return False  # the data is not ours to delete
        started = time.monotonic()
        try:
            removed = await self._delete(key)
        except self.vendor_errors as exc:
            error = self.translate(exc, key, "delete")
            self._observe("delete", started, error)
            raise error from None
        self._observe("delete", started, None)
        return removed

    async def stat(self, key: str) -> StoredObject:
        """Size of what is stored under ``key``. Raises StoreNotFound, StoreReadError."""
        key = self.valid_key(key)
        started = time.monotonic()
        try:
            stored = await self._stat(key)
        except self.vendor_errors as exc:
            error = self.translate(exc, key, "stat")
            self._observe("stat", started, error)
            raise error from None
        except BaseException as exc:
            self._observe("stat", started, exc)
            raise
        self._observe("stat", started, None)
        return stored

    async def discard_partial(self, key: str) -> None:
        """Remove what an interrupted ``put`` of ``key`` left behind (after a crash): pending
        multipart uploads, orphan segments. Never raises for what is not there;
        StoreWriteError when the store cannot be reached."""
        key = self.valid_key(key)
        try:
            await self._discard_partial(key)
        except self.vendor_errors as exc:
            raise self.translate(exc, key, "discard") from None

    async def check(self) -> None:
        """Whether the store answers (readiness): returns, or raises StoreReadError."""
        started = time.monotonic()
        try:
            await self._check()
        except StoreNotFound:
            pass  # it answered: "no such key" is an answer
        except self.vendor_errors as exc:
            error = self.translate(exc, None, "stat")
            self._observe("check", started, error)
            raise error from None
        self._observe("check", started, None)

    async def list_keys(self) -> list[str]:
        """Every key stored (not the parts of unfinished writes). Raises StoreReadError,
        also when the store cannot list (``listable`` is False)."""
        if not self.listable:
            raise StoreReadError(f"Store {self.name} cannot list what it holds")
        started = time.monotonic()
        try:
            keys = await self._list_keys()
        except self.vendor_errors as exc:
            error = self.translate(exc, None, "read")
            self._observe("list", started, error)
            raise error from None
        self._observe("list", started, None)
        return sorted(key for key in keys if _KEY_RE.match(key))

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

    # -- what drivers implement -------------------------------------------------------------

    async def _start(self) -> None:
        """Prepare the store."""

    @abstractmethod
    async def _put(self, key: str, chunks: AsyncIterator[Chunk],
                   size_hint: int | None) -> StoredObject:
        """Write the chunks under the (valid) ``key``; remove the partial object on failure."""

    @abstractmethod
    def _get(self, key: str, offset: int, length: int | None) -> AsyncGenerator[bytes, None]:
        """An async generator of the bytes from ``offset`` (at least ``length`` of them, or
        all); StoreNotFound when the key is missing."""

    @abstractmethod
    async def _delete(self, key: str) -> bool:
        """Remove ``key``; whether it was there."""

    @abstractmethod
    async def _stat(self, key: str) -> StoredObject:
        """The size under ``key``; StoreNotFound when missing."""

    async def _discard_partial(self, key: str) -> None:
        """Remove leftovers of an interrupted put of ``key``."""

    async def _list_keys(self) -> list[str]:
        """The keys stored (drivers that set ``listable``)."""
        raise NotImplementedError

    async def _check(self) -> None:
        """Ask the backend something cheap (default: the size of a key that is not there)."""
        await self._stat("glance-readiness-probe")
