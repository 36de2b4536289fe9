"""One conformance suite for every writable store: file, S3 (on Swift's s3api and on Ceph
RGW) and Swift (tempauth and Keystone v3).

The network stores run against real servers started by the session fixtures, with small part
and segment sizes so that multipart uploads and SLO segments are exercised with a few MiB.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest

from glance.config import Settings, parse_stores
from glance.stores import DRIVERS, Store, StoreNotFound, StoreReadError, StoreWriteError
from tests.servers import S3_KINDS, SwiftServer, s3_server_of, unique

S3_PART = 5 << 20        # the smallest part S3 (and s3api) accepts but for the last
SWIFT_SEGMENT = 1 << 20
SIZES = {"empty": 0, "small": 1000, "multi": 2 * S3_PART + 123}
SWIFT_MULTI = 3 * SWIFT_SEGMENT + 77


class Boom(Exception):
    """Raised by a chunk source in the middle of an upload."""


@dataclass
class StoreUnderTest:
    store: Store
    leftovers: Callable[[], list[str]]  # everything the store holds (objects, parts, segments)
    multi_size: int  # a size that needs several parts or segments


def build(name: str, conf: dict) -> Store:
    conf = parse_stores({name: conf})[name]
    driver = conf.pop("driver")
    conf.pop("weight", None)  # build_stores' setting, not the driver's
    return DRIVERS[driver](name, conf, Settings())


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


@pytest.fixture(params=["file", *(f"s3-{kind}" for kind in S3_KINDS), "swift",
                        "swift-keystone"])
def sut(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    if request.param == "file":
        directory = tmp_path / "store"
        store = build("local", {"driver": "file", "directory": str(directory), "fsync": False})
        under = StoreUnderTest(store, lambda: sorted(p.name for p in directory.iterdir()),
                               SIZES["multi"])
    elif request.param.startswith("s3-"):
        s3 = s3_server_of(request, request.param[3:])
        bucket = unique("conf")
        store = build("cold", s3.settings(
            bucket, part_size=S3_PART, multipart_threshold=S3_PART, max_concurrency=3))

        def leftovers() -> list[str]:
            return s3.names(bucket) + [f"+parts/{n}" for n in s3.parts(bucket)]
        under = StoreUnderTest(store, leftovers, SIZES["multi"])
    else:
        swift: SwiftServer = request.getfixturevalue("swift_server")
        container = unique("conf")
        keystone = request.param == "swift-keystone"
        settings = swift.keystone_settings if keystone else swift.swift_settings
        store = build("archive", settings(
            container, segment_size=SWIFT_SEGMENT, max_concurrency=3))

        def leftovers() -> list[str]:
            return swift.names(container, keystone) + [
                f"_segments/{n}" for n in swift.names(container + "_segments", keystone)]
        under = StoreUnderTest(store, leftovers, SWIFT_MULTI)
    run(under.store.start())
    yield under
    run(under.store.close())


async def chunks_of(data: bytes, size: int = 1 << 20, fail_after: int | None = None,
                    kind: type = bytes) -> AsyncIterator[bytes]:
    sent = 0
    for start in range(0, len(data), size):
        if fail_after is not None and sent >= fail_after:
            raise Boom("the source failed")
        piece = kind(data[start:start + size])
        sent += len(piece)
        yield piece
        await asyncio.sleep(0)
    if fail_after is not None:
        raise Boom("the source failed at the end")


async def read_all(store: Store, key: str, offset: int = 0, length: int | None = None) -> bytes:
    out = bytearray()
    async for chunk in store.get(key, offset, length):
        out += chunk
    return bytes(out)


@pytest.mark.parametrize("size_name", ["empty", "small", "multi"])
def test_round_trip(sut: StoreUnderTest, size_name: str) -> None:
    size = sut.multi_size if size_name == "multi" else SIZES[size_name]
    data = os.urandom(size)
    key = unique("img")

    async def go() -> None:
        stored = await sut.store.put(key, chunks_of(data, 700_001), size)
        assert (stored.key, stored.size) == (key, size)
        assert (await sut.store.stat(key)).size == size
        assert await sut.store.exists(key)
        got = await read_all(sut.store, key)
        assert hashlib.md5(got).hexdigest() == hashlib.md5(data).hexdigest()
        assert len(got) == size

    run(go())
    assert key in sut.leftovers()


def test_bytearray_chunks_and_no_size_hint(sut: StoreUnderTest) -> None:
    data = os.urandom(sut.multi_size)

    async def go() -> None:
        await sut.store.put("ba", chunks_of(data, 333_333, kind=bytearray))
        assert await read_all(sut.store, "ba") == data

    run(go())


def test_ranges(sut: StoreUnderTest) -> None:
    size = sut.multi_size
    data = os.urandom(size)
    part = S3_PART if sut.store.driver == "s3" else SWIFT_SEGMENT

    async def go() -> None:
        await sut.store.put("r", chunks_of(data), size)
        cases = [(0, 1), (0, 10), (5, 100), (part - 10, 20), (part - 1, part + 2),
                 (size - 1, 1), (size - 50, None), (1234, None), (0, size),
                 (size - 10, 100)]
        for offset, length in cases:
            want = data[offset:] if length is None else data[offset:offset + length]
            got = await read_all(sut.store, "r", offset, length)
            assert got == want, (offset, length, len(got), len(want))
        assert await read_all(sut.store, "r", 10, 0) == b""

    run(go())


def test_missing_keys(sut: StoreUnderTest) -> None:
    async def go() -> None:
        with pytest.raises(StoreNotFound):
            await sut.store.stat("nope")
        with pytest.raises(StoreNotFound):
            await read_all(sut.store, "nope")
        with pytest.raises(StoreNotFound):
            await read_all(sut.store, "nope", 5, 10)
        assert not await sut.store.exists("nope")
        assert await sut.store.delete("nope") is False

    run(go())


@pytest.mark.parametrize("size_name", ["small", "multi"])
def test_delete(sut: StoreUnderTest, size_name: str) -> None:
    size = sut.multi_size if size_name == "multi" else SIZES[size_name]

    async def go() -> None:
        await sut.store.put("d", chunks_of(os.urandom(size)), size)
        assert await sut.store.delete("d") is True
        assert await sut.store.delete("d") is False
        with pytest.raises(StoreNotFound):
            await sut.store.stat("d")

    run(go())
    assert sut.leftovers() == []


@pytest.mark.parametrize("fail_after", [0, 500_000, "one part", "end"])
def test_failing_source_leaves_nothing(sut: StoreUnderTest, fail_after: int | str) -> None:
    """The chunk iterator raises (before anything, mid-part, after parts went up, at EOF)."""
    data = os.urandom(sut.multi_size)
    part = S3_PART if sut.store.driver == "s3" else SWIFT_SEGMENT
    after = {"one part": 2 * part + 1, "end": None}.get(fail_after, fail_after)  # type: ignore

    async def go() -> None:
        source = chunks_of(data, 300_000, fail_after=after if after is not None else len(data))
        with pytest.raises(Boom):
            await sut.store.put("f", source, len(data))
        with pytest.raises(StoreNotFound):
            await sut.store.stat("f")

    run(go())
    assert sut.leftovers() == []


def test_concurrent_puts_of_different_keys(sut: StoreUnderTest) -> None:
    payloads = {f"c{i}": os.urandom(sut.multi_size - i * 1000) for i in range(4)}

    async def go() -> None:
        await asyncio.gather(*(sut.store.put(k, chunks_of(v), len(v))
                               for k, v in payloads.items()))
        for key, value in payloads.items():
            assert await read_all(sut.store, key) == value
        await asyncio.gather(*(sut.store.delete(k) for k in payloads))

    run(go())
    assert sut.leftovers() == []


def test_overwrite_replaces_the_bytes(sut: StoreUnderTest) -> None:
    async def go() -> None:
        await sut.store.put("o", chunks_of(b"first" * 1000))
        await sut.store.put("o", chunks_of(b"second"))
        assert await read_all(sut.store, "o") == b"second"

    run(go())


def test_abandoned_download_releases_the_store(sut: StoreUnderTest) -> None:
    data = os.urandom(sut.multi_size)

    async def go() -> None:
        await sut.store.put("a", chunks_of(data))
        for _ in range(3):  # stop reading after one chunk, several times
            stream = sut.store.get("a")
            first = await stream.__anext__()
            assert data.startswith(first)
            await stream.aclose()
        assert await read_all(sut.store, "a") == data

    run(go())


def test_list_keys_and_check(sut: StoreUnderTest) -> None:
    """``list_keys`` names whole objects only (no parts, segments or partial writes), for
    ``glance admin orphans``; ``check`` (readiness) passes on a store that answers."""
    async def go() -> None:
        await sut.store.check()
        assert await sut.store.list_keys() == []
        await sut.store.put("b-small", chunks_of(b"x" * SIZES["small"]))
        await sut.store.put("a-multi", chunks_of(os.urandom(sut.multi_size)), sut.multi_size)
        await sut.store.put("c-empty", chunks_of(b""))
        assert await sut.store.list_keys() == ["a-multi", "b-small", "c-empty"]
        await sut.store.delete("b-small")
        assert await sut.store.list_keys() == ["a-multi", "c-empty"]
        for key in ("a-multi", "c-empty"):
            await sut.store.delete(key)

    run(go())


@pytest.mark.parametrize("driver", [*(f"s3-{kind}" for kind in S3_KINDS), "swift"])
def test_wrong_credentials_are_store_errors(request: pytest.FixtureRequest,
                                            driver: str) -> None:
    if driver.startswith("s3-"):
        s3 = s3_server_of(request, driver[3:])
        store = build("x", {**s3.settings(unique("bad")), "secret_key": "wrong"})
    else:
        swift: SwiftServer = request.getfixturevalue("swift_server")
        store = build("x", {**swift.swift_settings(unique("bad")), "key": "wrong"})

    async def go() -> None:
        with pytest.raises(StoreWriteError):
            await store.start()
        with pytest.raises(StoreWriteError):
            await store.put("k", chunks_of(b"data"))
        with pytest.raises(StoreReadError):  # a failed read is not a write error
            await store.stat("k")
        with pytest.raises(StoreReadError):  # readiness: this store does not answer
            await store.check()
        await store.close()

    run(go())


def test_unreachable_endpoint_is_a_store_error(tmp_path: Path) -> None:
    from tests.conftest import free_port
    port = free_port()
    store = build("x", {"driver": "s3", "endpoint_url": f"http://127.0.0.1:{port}",
                        "bucket": "b", "access_key": "a", "secret_key": "s",
                        "connect_timeout": 1})

    async def go() -> None:
        with pytest.raises(StoreWriteError):
            await store.put("k", chunks_of(b"data"))
        with pytest.raises(StoreReadError):  # readiness: a store that is down
            await store.check()
        await store.close()

    run(go())
