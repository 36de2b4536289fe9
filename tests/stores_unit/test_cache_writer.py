"""The cache's file writer: whatever the sizes of the chunks and of the whole, the file holds
exactly the bytes given, written past the page cache where the file system allows it (the
test directory's ext4 does) or plainly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glance.cache.writer import BUFFER, CacheFileWriter

SIZES = [0, 1, 4095, 4096, 4097, BUFFER - 1, BUFFER, BUFFER + 1, 3 * BUFFER + 12345]
CHUNKS = [1, 65536, 1 << 20, BUFFER + 7]


def write(path: Path, data: bytes, chunk: int, direct: bool) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        writer = CacheFileWriter(fd, direct)
        assert writer.direct is direct  # (ext4 takes O_DIRECT)
        for start in range(0, len(data), chunk):
            writer.write(data[start:start + chunk])
        writer.close()
        assert writer.written == len(data)
        assert os.pread(fd, len(data) + 1, 0) == data  # (the fd reads back plainly)
    finally:
        os.close(fd)


@pytest.mark.parametrize("direct", [True, False], ids=["o_direct", "plain"])
@pytest.mark.parametrize("size", SIZES)
def test_every_size_is_written_exactly(tmp_path: Path, size: int, direct: bool) -> None:
    data = os.urandom(size)
    for chunk in CHUNKS:
        if chunk == 1 and size > 65536:
            continue
        path = tmp_path / f"{chunk}.part"
        write(path, data, chunk, direct)
        assert path.read_bytes() == data


def test_a_given_up_file_writes_no_more(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "gone.part", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        writer = CacheFileWriter(fd)
        writer.write(os.urandom(BUFFER + 100))
        writer.close(flush=False)
        assert os.fstat(fd).st_size == BUFFER  # the full buffer went out; the rest did not
        writer.close()  # closing twice does nothing
    finally:
        os.close(fd)


def test_writes_the_file_system_refuses_go_out_plainly(tmp_path: Path) -> None:
    """ext4 takes O_DIRECT but refuses a write at an unaligned offset (EINVAL): here the file
    already holds 100 bytes, so the first direct write is refused and the rest go plainly."""
    fd = os.open(tmp_path / "odd.part", os.O_RDWR | os.O_CREAT, 0o644)
    data = os.urandom(2 * BUFFER + 333)
    try:
        os.write(fd, b"x" * 100)
        writer = CacheFileWriter(fd)
        assert writer.direct
        for start in range(0, len(data), 1 << 20):
            writer.write(data[start:start + (1 << 20)])
        writer.close()
    finally:
        os.close(fd)
    assert (tmp_path / "odd.part").read_bytes() == b"x" * 100 + data
