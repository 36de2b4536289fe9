"""Helpers of the network stores: cut a chunk stream into parts, send parts concurrently."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, TypeVar

from glance.stores.base import Chunk

T = TypeVar("T")


class PartReader:
    """Reads an upload's chunks into parts of exactly ``part_size`` bytes (the last shorter).

    At most one part is buffered here at a time; ``eof`` tells whether the stream has ended.
    """

    def __init__(self, chunks: AsyncIterator[Chunk], part_size: int) -> None:
        if part_size < 1:
            raise ValueError("part size must be positive")
        self._chunks = chunks.__aiter__()
        self.part_size = part_size
        self._buffer = bytearray()
        self.eof = False
        self.total = 0

    async def next_part(self) -> bytes | None:
        """The next part, or None when the stream is exhausted."""
        while not self.eof and len(self._buffer) < self.part_size:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self.eof = True
                break
            self._buffer += chunk
            self.total += len(chunk)
        if not self._buffer:
            return None
        if len(self._buffer) <= self.part_size:
            part, self._buffer = bytes(self._buffer), bytearray()
        else:
            part = bytes(memoryview(self._buffer)[:self.part_size])
            del self._buffer[:self.part_size]
        return part


class PartSender(Generic[T]):
    """Sends numbered parts with at most ``concurrency`` in flight.

    ``run`` raises the first failure (of the reader or of a send) at once; ``settle`` then
    waits until no send is running any more, so that the caller can clean up after all of
    them (abort, delete segments) without a late part reappearing.
    """

    def __init__(self, send: Callable[[int, bytes], Awaitable[T]], concurrency: int) -> None:
        self._send = send
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._tasks: list[asyncio.Task[T]] = []

    async def run(self, first: bytes, reader: PartReader) -> list[T]:
        """Send ``first`` and every further part of ``reader``; the results in part order."""
        await self._slots.acquire()
        part: bytes | None = first
        number = 0
        while True:
            # here we hold one slot: it passes to the send of ``part``, or is given back
            if part is None:
                self._slots.release()
                break
            number += 1
            self._tasks.append(asyncio.create_task(self._one(number, part)))
            part = None
            await self._slots.acquire()
            try:
                self._raise_failures()
                part = await reader.next_part()
            except BaseException:
                self._slots.release()
                raise
        return list(await asyncio.gather(*self._tasks))

    async def _one(self, number: int, data: bytes) -> T:
        try:
            return await self._send(number, data)
        finally:
            self._slots.release()

    def _raise_failures(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

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
