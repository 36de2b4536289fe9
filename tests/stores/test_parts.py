"""The part reader and the bounded part sender shared by the S3 and Swift stores."""

from __future__ import annotations

import asyncio
import os

import pytest

from glance.stores.multipart import BufferReader, PartReader, PartSender


async def source(data: bytes, size: int, log: list[int] | None = None):
    for start in range(0, len(data), size):
        if log is not None:
            log.append(start)
        yield data[start:start + size]


@pytest.mark.parametrize("chunk", [1, 7, 1000, 4096, 10_000])
def test_parts_are_exact_whatever_the_chunks(chunk: int) -> None:
    data = os.urandom(10_007)

    async def go() -> list[bytearray]:
        reader = PartReader(source(data, chunk), 1024)
        parts = []
        while (part := await reader.next_part()) is not None:
            parts.append(part)
        assert reader.eof and reader.total == len(data)
        return parts

    parts = asyncio.run(go())
    assert [len(p) for p in parts] == [1024] * 9 + [791]
    assert b"".join(parts) == data


def test_push_back_and_empty_stream() -> None:
    async def go() -> None:
        reader = PartReader(source(b"", 10), 4)
        assert await reader.next_part() is None
        reader = PartReader(source(b"abcdef", 10), 4)
        first = await reader.next_part()
        reader.push_back(first)
        assert await reader.next_part() == b"abcd"
        assert await reader.next_part() == b"ef"
        assert await reader.next_part() is None

    asyncio.run(go())


@pytest.mark.parametrize("concurrency", [1, 3])
def test_sender_bounds_parts_in_flight_and_in_memory(concurrency: int) -> None:
    data = os.urandom(64 * 100)
    running = alive = max_running = max_alive = 0
    read_log: list[int] = []

    class CountingReader(PartReader):
        async def next_part(self):  # noqa: ANN201
            nonlocal alive, max_alive
            part = await super().next_part()
            if part is not None:
                alive += 1
                max_alive = max(max_alive, alive)
            return part

    async def send(number: int, part: bytearray) -> int:
        nonlocal running, max_running, alive
        running += 1
        max_running = max(max_running, running)
        await asyncio.sleep(0.001 * (number % 3))
        running -= 1
        alive -= 1
        return number

    async def go() -> list[int]:
        sender = PartSender(send, concurrency)
        return await sender.run(CountingReader(source(data, 50, read_log), 100))

    assert asyncio.run(go()) == list(range(1, 65))
    assert max_running <= concurrency
    assert max_alive <= concurrency  # the part being read holds a slot too


def test_sender_stops_reading_after_a_failed_send() -> None:
    read_log: list[int] = []

    async def send(number: int, part: bytearray) -> None:
        if number == 2:
            raise OSError("backend down")
        await asyncio.sleep(0.01)

    async def go() -> None:
        sender = PartSender(send, 2)
        with pytest.raises(OSError):
            await sender.run(PartReader(source(os.urandom(100_000), 100, read_log), 1000))
        await sender.settle()

    asyncio.run(go())
    assert len(read_log) < 100  # far from the 1000 chunks of the stream


def test_buffer_reader_rewinds_and_releases() -> None:
    reader = BufferReader(bytearray(b"0123456789"))
    assert reader.read(4) == b"0123" and reader.tell() == 4
    reader.seek(0)
    assert reader.read() == b"0123456789" and len(reader) == 10
    reader.release()
    assert reader.read() == b""
