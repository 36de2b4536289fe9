"""A 2 GiB image through the real glance-api into S3 (multipart, on Swift's s3api and on Ceph
RGW) and into Swift (SLO segments), and back: the bytes that come back are the bytes sent (SHA-256), and
the server's peak RSS stays flat (it does not grow with the image).

The peak RSS is recorded after a 256 MiB image and after the 2 GiB one; before them a first
256 MiB image warms the server up (its first big upload raises the peak by some 15-20 MiB
once: thread pools, buffers and allocator arenas coming into use; after that the peak stays
within a few MiB whatever the size, measured up to 2 × 2 GiB).

The data is generated while it is sent (deterministic pseudo-random 1 MiB blocks, each
stamped with its index so that a misplaced block changes the hash): nothing holds the image,
neither in memory nor in a file.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import start_server
from tests.servers import S3Server, SwiftServer, unique
from tests.stores.test_api_stores import RAW, toml_table

MIB = 1 << 20
SMALL = 256 * MIB
BIG = 2048 * MIB
SEGMENT = 16 * MIB  # Swift: 128 segments for 2 GiB (S3 keeps its 8 MiB default parts)
PEAK_LIMIT_MIB = 300
GROWTH_LIMIT_MIB = 32


class Source:
    """``size`` bytes of deterministic pseudo-random data, hashed as they are produced."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.sha256 = size, hashlib.sha256()
        self._base = random.Random(seed).randbytes(MIB)

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        index = 0
        while sent < self.size:
            block = (index.to_bytes(8, "big") + self._base[8:])[:self.size - sent]
            self.sha256.update(block)
            sent += len(block)
            index += 1
            yield block


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def round_trip(url: str, store: str, size: int, seed: int) -> str:
    """Upload ``size`` bytes into ``store``, download them, compare SHA-256; the image id."""
    source = Source(size, seed)
    response = httpx.post(url + "/v1/images", content=iter(source), timeout=900, headers={
        **RAW, "Content-Length": str(size), "x-image-meta-name": f"big-{size >> 20}",
        "x-image-meta-store": store})
    assert response.status_code == 201, response.text
    image = response.json()["image"]
    assert image["status"] == "active" and image["size"] == size
    got, received = hashlib.sha256(), 0
    with httpx.stream("GET", f"{url}/v1/images/{image['id']}", timeout=900) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes(MIB):
            got.update(chunk)
            received += len(chunk)
    assert received == size
    assert got.hexdigest() == source.sha256.hexdigest()
    return image["id"]


@pytest.mark.parametrize("store,s3_server", [("cold", "s3api"), ("cold", "rgw"),
                                             ("archive", "s3api")], indirect=["s3_server"])
def test_two_gib_image_round_trip_with_flat_memory(s3_server: S3Server,
                                                   swift_server: SwiftServer, tmp_path: Path,
                                                   store: str) -> None:
    bucket, container = unique("big"), unique("big")
    s3 = s3_server
    config = tmp_path / "glance.toml"
    config.write_text(toml_table("cold", s3.settings(bucket))
                      + toml_table("archive", swift_server.swift_settings(
                          container, segment_size=SEGMENT)))
    server = start_server(tmp_path / "data", ["--config", str(config)])
    try:
        pid = server.process.pid
        warm = round_trip(server.url, store, SMALL, seed=0)
        small = round_trip(server.url, store, SMALL, seed=1)
        after_small = vm_hwm_mib(pid)
        big = round_trip(server.url, store, BIG, seed=2)
        after_big = vm_hwm_mib(pid)
        print(f"\n{store} ({s3.kind if store == 'cold' else 'swift'}): glance-api peak RSS {after_small:.0f} MiB after 256 MiB, "
              f"{after_big:.0f} MiB after 2 GiB")
        if store == "cold":
            assert s3.part_count(bucket, big) == BIG // (8 * MIB)
        else:
            segments = swift_server.names(container + "_segments")
            assert len([n for n in segments if n.startswith(big + "/")]) == BIG // SEGMENT
        assert after_big < PEAK_LIMIT_MIB, f"peak RSS {after_big:.0f} MiB"
        assert after_big - after_small < GROWTH_LIMIT_MIB, (
            f"peak RSS grew from {after_small:.0f} to {after_big:.0f} MiB")
        for image_id in (warm, small, big):
            assert httpx.delete(f"{server.url}/v1/images/{image_id}",
                                timeout=300).status_code == 200
    finally:
        server.stop()
    assert s3.names(bucket) == [] and s3.parts(bucket) == []
    assert swift_server.names(container) == []
    assert swift_server.names(container + "_segments") == []
