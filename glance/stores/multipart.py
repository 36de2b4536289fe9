"""The network stores' shared write path: small objects in one request, large ones cut
into parts sent concurrently (S3 multipart uploads, Swift SLO segments)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from abc import abstractmethod
from typing import Any, AsyncIterator, Awaitable, Callable, ClassVar, Generic, TypeVar

from glance.stores.base import Chunk, Store, StoredObject

T = TypeVar("T")


class PartReader:
    """Reads an upload's chunks into parts of exactly ``part_size`` bytes (the last shorter).

    Each part is a fresh ``bytearray`` filled in place (no second copy), handed over to the
    caller; at most one part is being filled here at a time. ``eof`` tells whether the stream
    has ended; ``total`` counts the bytes read so far.
    """

    def __init__(self, chunks: AsyncIterator[Chunk], part_size: int) -> None:
        if part_size < 1:
            raise ValueError("part size must be positive")
        self._chunks = chunks.__aiter__()
        self.part_size = part_size
        self._carry: memoryview | None = None  # the rest of a chunk that crossed a part's end
        self._pushed_back: bytearray | None = None
        self.eof = False
        self.total = 0

    def push_back(self, part: bytearray) -> None:
        """Make ``part`` (just read) the next part again; the caller drops its reference."""
        self._pushed_back = part

    async def next_part(self) -> bytearray | None:
        """The next part, or None when the stream is exhausted."""
        if self._pushed_back is not None:
            part, self._pushed_back = self._pushed_back, None
            return part
        part = bytearray(self.part_size)
        filled = 0
        while filled < self.part_size:
            if self._carry is not None:
                piece, self._carry = self._carry, None
            elif self.eof:
                break
            else:
                try:
                    chunk = await self._chunks.__anext__()
                except StopAsyncIteration:
                    self.eof = True
                    break
                self.total += len(chunk)
                piece = memoryview(chunk)
            room = self.part_size - filled
            if len(piece) > room:
                self._carry = piece[room:]
                piece = piece[:room]
            part[filled:filled + len(piece)] = piece
            filled += len(piece)
        if filled == 0:
            return None
        if filled < self.part_size:
            del part[filled:]
        return part


class BufferReader:
    """A seekable file object over a part, so that an HTTP client can stream and rewind it
    without copying the whole part."""

    def __init__(self, data: bytearray) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view),
                                                                     self._pos + size)
        out = bytes(self._view[self._pos:end])
        self._pos = end
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, min(len(self._view), base + offset))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def __len__(self) -> int:
        return len(self._view)

    def release(self) -> None:
        """Let go of the part (HTTP clients may keep the body object of their last request)."""
        view, self._view = self._view, memoryview(b"")
        try:
            view.release()
        except BufferError:  # still exported somewhere: dropping our reference is enough
            pass
        self._pos = 0


class PartSender(Generic[T]):
    """Sends numbered parts with at most ``concurrency`` in flight.

    ``run`` raises the first failure (of the reader or of a send) at once; ``settle`` then
    waits until no send is running any more, so that the caller can clean up after all of
    them (abort, delete segments) without a late part reappearing.
    """

    def __init__(self, send: Callable[[int, bytearray], Awaitable[T]], concurrency: int) -> None:
        self._send = send
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: list[asyncio.Task[T]] = []

    async def run(self, reader: PartReader) -> list[T]:
        """Send every part of ``reader``; the results in part order."""
        number = 0
        while True:
            await self._slots.acquire()  # a slot for the next part, held from reading to sent
            try:
                self._raise_failures()
                part = await reader.next_part()
            except BaseException:
                self._slots.release()
                raise
            if part is None:
                self._slots.release()
                break
            number += 1
            self._tasks.append(asyncio.create_task(self._one(number, part)))
            del part  # the send task owns it now
        return list(await asyncio.gather(*self._tasks))

    async def _one(self, number: int, data: bytearray) -> T:
        try:
            return await self._send(number, data)
        finally:
            self._slots.release()

    def _raise_failures(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                raise error

    async def settle(self) -> None:
        """Wait for every send started so far, ignoring their outcomes."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


class Blocking:
    """Runs a blocking client's calls in the store's own worker threads."""

    def __init__(self, max_threads: int, name: str) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(2, max_threads),
                                                           thread_name_prefix=f"store-{name}")

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Awaitable[T]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def shielded(cleanup: Awaitable[Any]) -> None:
    """Run a cleanup to its end even if the caller is cancelled meanwhile."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])  # finish cleaning, then let the cancellation go on
        raise


class PartedStore(Store):
    """A store that writes an object smaller than ``part_size`` (and than ``whole_below``,
    if set) in one request, and anything else in parts of ``part_size`` — grown so that a
    declared size fits in ``max_parts``."""

    max_parts: ClassVar[int]

    def __init__(self, name: str, *, part_size: int, whole_below: int | None = None) -> None:
        super().__init__(name)
        self.part_size = part_size
        self.whole_below = whole_below

    async def _put(self, key: str, chunks: AsyncIterator[Chunk],
                   size_hint: int | None) -> StoredObject:
        part_size = self.part_size
        if size_hint is not None and size_hint > part_size * self.max_parts:
            part_size = -(-size_hint // self.max_parts)  # bigger parts, so that it fits
        reader = PartReader(chunks, part_size)
        first = await reader.next_part() or bytearray()
        whole_below = part_size if self.whole_below is None else min(part_size,
                                                                     self.whole_below)
        if reader.eof and len(first) < whole_below:
            await self._put_whole(key, first)
            return StoredObject(key=key, size=len(first))
        reader.push_back(first)
        del first  # only the reader holds the part now
        await self._put_parts(key, reader)
        return StoredObject(key=key, size=reader.total)

    @abstractmethod
    async def _put_whole(self, key: str, data: bytearray) -> None:
        """Write ``data`` under ``key`` in one request."""

    @abstractmethod
    async def _put_parts(self, key: str, reader: PartReader) -> None:
        """Write every part of ``reader`` under ``key``; on failure remove what was sent."""
