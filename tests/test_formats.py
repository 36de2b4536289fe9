"""glance.formats against real disk images made by qemu-img, genisoimage and sfdisk.

Each image is fed whole, in 1 MiB chunks and in random 1–13-byte chunks; format and virtual
size are compared with ``qemu-img info``. The tools are required: scripts/test installs them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Callable, Iterator

import pytest

from glance import formats
from glance.formats import Inspector, Result, mismatch

TOOLS = ("qemu-img", "genisoimage", "sfdisk")
SEARCH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"  # sfdisk lives in sbin


def tool(name: str) -> str:
    return shutil.which(name, path=SEARCH) or name
MiB = 1 << 20


def run(*cmd: str, stdin: str | None = None) -> str:
    return subprocess.run([tool(cmd[0]), *cmd[1:]], input=stdin, capture_output=True, text=True, check=True,
                          timeout=60).stdout


def qemu_info(path: Path, fmt: str | None = None) -> dict:
    return json.loads(run("qemu-img", "info", "--output=json", *(["-f", fmt] if fmt else []),
                          str(path)))


def partitioned(path: Path, script: str, size: int = 4 * MiB) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    run("sfdisk", "-q", str(path), stdin=script)
    return path


def patched(src: Path, dst: Path, edit: Callable[[bytearray], None]) -> Path:
    data = bytearray(src.read_bytes())
    edit(data)
    dst.write_bytes(bytes(data))
    return dst


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    missing = [name for name in TOOLS if shutil.which(name, path=SEARCH) is None]
    assert not missing, f"missing {missing}: run scripts/test (installs qemu-utils, " \
        "genisoimage, fdisk)"
    d = tmp_path_factory.mktemp("formats")
    p: dict[str, Path] = {}

    def qemu(name: str, fmt: str, size: str, *opts: str) -> None:
        p[name] = d / name
        run("qemu-img", "create", "-q", "-f", fmt, *opts, str(p[name]), size)

    qemu("plain.qcow2", "qcow2", "64M")
    qemu("v2.qcow2", "qcow2", "10M", "-o", "compat=0.10")
    qemu("backed.qcow2", "qcow2", "64M", "-b", str(p["plain.qcow2"]), "-F", "qcow2")
    qemu("datafile.qcow2", "qcow2", "64M", "-o", f"data_file={d / 'data.raw'}")
    qemu("sparse.vmdk", "vmdk", "64M", "-o", "subformat=monolithicSparse")
    qemu("stream.vmdk", "vmdk", "64M", "-o", "subformat=streamOptimized")
    qemu("flat.vmdk", "vmdk", "4M", "-o", "subformat=monolithicFlat")
    qemu("dynamic.vhd", "vpc", "64M")
    qemu("fixed.vhd", "vpc", "2M", "-o", "subformat=fixed")
    qemu("disk.vhdx", "vhdx", "64M")
    qemu("disk.vdi", "vdi", "64M")
    (d / "iso").mkdir()
    (d / "iso" / "hello.txt").write_text("hello\n")
    p["disk.iso"] = d / "disk.iso"
    run("genisoimage", "-quiet", "-o", str(p["disk.iso"]), str(d / "iso"))
    p["mbr.raw"] = partitioned(d / "mbr.raw", "label: dos\n,1M,83\n,,82\n")
    p["gpt.raw"] = partitioned(d / "gpt.raw", "label: gpt\n,1M\n,\n")
    p["random.raw"] = d / "random.raw"
    p["random.raw"].write_bytes(random.Random(7).randbytes(3 * MiB + 1536))
    return p


def chunked(data: bytes, sizes: Iterator[int]) -> Iterator[memoryview]:
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        n = next(sizes)
        yield view[pos:pos + n]
        pos += n


def tiny(seed: int = 0) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, 13)


def inspect(data: bytes, feeding: str) -> Result:
    """``data`` through one Inspector, fed as ``feeding`` says."""
    inspector = Inspector()
    if feeding == "whole":
        inspector.feed(data)
    else:
        sizes = tiny(len(data)) if feeding == "tiny" else iter(lambda: MiB, 0)
        for chunk in chunked(data, sizes):
            inspector.feed(chunk)
    assert inspector.size == len(data)
    return inspector.result()


# name, our format, safe, qemu format (None: what qemu-img probes), qemu -f to read it
CASES = [
    ("plain.qcow2", "qcow2", True, "qcow2", None),
    ("v2.qcow2", "qcow2", True, "qcow2", None),
    ("backed.qcow2", "qcow2", False, "qcow2", None),
    ("datafile.qcow2", "qcow2", False, "qcow2", None),
    ("sparse.vmdk", "vmdk", True, "vmdk", None),
    ("stream.vmdk", "vmdk", True, "vmdk", None),
    ("flat.vmdk", "vmdk", False, "vmdk", None),
    ("dynamic.vhd", "vhd", True, "vpc", None),
    ("fixed.vhd", "vhd", True, "vpc", "vpc"),  # qemu probes a fixed VHD as raw
    ("disk.vhdx", "vhdx", True, "vhdx", None),
    ("disk.vdi", "vdi", True, "vdi", None),
    ("disk.iso", "iso", True, "raw", None),  # qemu sees an ISO as raw
    ("mbr.raw", "raw", True, "raw", None),
    ("gpt.raw", "raw", True, "raw", None),
    ("random.raw", "raw", True, "raw", None),
]


@pytest.mark.parametrize("feeding", ["whole", "mib", "tiny"])
@pytest.mark.parametrize("name,fmt,safe,qemu_fmt,force", CASES, ids=[c[0] for c in CASES])
def test_real_images_match_qemu_img(images: dict[str, Path], name: str, fmt: str, safe: bool,
                                    qemu_fmt: str, force: str | None, feeding: str) -> None:
    info = qemu_info(images[name], force)
    assert info["format"] == qemu_fmt
    found = inspect(images[name].read_bytes(), feeding)
    assert (found.format, found.virtual_size) == (fmt, info["virtual-size"]), found
    assert found.safe == safe, found


@pytest.mark.parametrize("name,words", [
    ("backed.qcow2", "backing file"),
    ("datafile.qcow2", "external data file"),
    ("flat.vmdk", "monolithicFlat"),
])
def test_unsafe_images_say_why(images: dict[str, Path], name: str, words: str) -> None:
    found = inspect(images[name].read_bytes(), "whole")
    assert found.problem is not None and words in found.problem


def test_qcow2_unknown_incompatible_feature(images: dict[str, Path], tmp_path: Path) -> None:
    path = patched(images["plain.qcow2"], tmp_path / "x.qcow2",
                   lambda b: b.__setitem__(slice(72, 80), struct.pack(">Q", 1 << 20)))
    assert "unknown incompatible" in (inspect(path.read_bytes(), "tiny").problem or "")


def _edit_descriptor(data: bytearray, old: bytes, new: bytes) -> None:
    start = data.index(b"# Disk DescriptorFile")
    end = data.index(b"\0", start)
    text = bytes(data[start:end]).replace(old, new)
    assert old in bytes(data[start:end]) and len(text) < 10 * 512
    data[start:start + len(text)] = text
    data[start + len(text):end] = b"\0" * (end - start - len(text))


@pytest.mark.parametrize("old,new,words", [
    (b"SPARSE", b"FLAT", "other files"),
    (b'RW 131072 SPARSE "sparse.vmdk"',
     b'RW 131072 SPARSE "sparse.vmdk"\nRW 131072 SPARSE "/etc/passwd"', "other files"),
    (b'createType="monolithicSparse"', b'createType="twoGbMaxExtentSparse"', "create type"),
    (b"# The Disk Data Base", b'parentFileNameHint="base.vmdk"\n# The Disk Data Base',
     "parent"),
])
def test_vmdk_descriptor_tricks(images: dict[str, Path], tmp_path: Path, old: bytes,
                                new: bytes, words: str) -> None:
    path = patched(images["sparse.vmdk"], tmp_path / "x.vmdk",
                   lambda b: _edit_descriptor(b, old, new))
    found = inspect(path.read_bytes(), "tiny")
    assert found.format == "vmdk" and words in (found.problem or ""), found


def test_differencing_vhd(images: dict[str, Path], tmp_path: Path) -> None:
    def edit(b: bytearray) -> None:
        for footer in (0, len(b) - 512):  # the copy at the start and the footer
            b[footer + 60:footer + 64] = struct.pack(">I", 4)
    found = inspect(patched(images["dynamic.vhd"], tmp_path / "x.vhd", edit).read_bytes(),
                    "tiny")
    assert (found.format, found.detail, found.safe) == ("vhd", "differencing", False)


def test_vhdx_with_a_parent(images: dict[str, Path], tmp_path: Path) -> None:
    def edit(b: bytearray) -> None:
        region = formats._vhdx_metadata_offset(bytes(b[:0x40000]))
        assert region is not None
        for i in range(struct.unpack_from("<H", b, region + 10)[0]):
            entry = region + 32 + 32 * i
            if bytes(b[entry:entry + 16]) == formats._VHDX_FILE_PARAMETERS:
                item = region + struct.unpack_from("<I", b, entry + 16)[0]
                b[item + 4] |= 2  # HasParent
    found = inspect(patched(images["disk.vhdx"], tmp_path / "x.vhdx", edit).read_bytes(),
                    "tiny")
    assert found.format == "vhdx" and "parent" in (found.problem or ""), found


def test_differencing_vdi(images: dict[str, Path], tmp_path: Path) -> None:
    path = patched(images["disk.vdi"], tmp_path / "x.vdi",
                   lambda b: b.__setitem__(slice(0x4C, 0x50), struct.pack("<I", 4)))
    found = inspect(path.read_bytes(), "whole")
    assert found.format == "vdi" and not found.safe


def _mbr_entry(b: bytearray, n: int, kind: int, start: int, count: int) -> None:
    b[446 + 16 * n:462 + 16 * n] = bytes([0, 0, 0, 0, kind, 0, 0, 0]) + \
        struct.pack("<II", start, count)


@pytest.mark.parametrize("edit,words", [
    (lambda b: _mbr_entry(b, 0, 0x83, 0, 2048), "overlaps the partition table"),
    (lambda b: _mbr_entry(b, 1, 0x83, 2000, 100), "overlap"),
    (lambda b: _mbr_entry(b, 1, 0xFF, 4096, 100), "unknown type"),
    (lambda b: _mbr_entry(b, 2, 0x00, 6000, 100), "empty"),
])
def test_bad_mbr(images: dict[str, Path], tmp_path: Path,
                 edit: Callable[[bytearray], None], words: str) -> None:
    found = inspect(patched(images["mbr.raw"], tmp_path / "x.raw", edit).read_bytes(), "tiny")
    assert found.format == "raw" and words in (found.problem or ""), found


def _gpt_resign(b: bytearray) -> None:
    size = struct.unpack_from("<I", b, 512 + 12)[0]
    b[512 + 16:512 + 20] = b"\0\0\0\0"
    b[512 + 16:512 + 20] = struct.pack("<I", zlib.crc32(bytes(b[512:512 + size])))


@pytest.mark.parametrize("edit,words", [
    (lambda b: b.__setitem__(512 + 40, b[512 + 40] ^ 1), "checksum"),
    (lambda b: b.__setitem__(slice(512 + 12, 512 + 16), struct.pack("<I", 600)), "size"),
    (lambda b: b.__setitem__(slice(512, 520), b"NOT PART"), "without a GPT header"),
    (lambda b: (b.__setitem__(slice(1024 + 128 + 32, 1024 + 128 + 40),
                              struct.pack("<Q", 2048)), _gpt_resign(b)), "overlap"),
])
def test_bad_gpt(images: dict[str, Path], tmp_path: Path,
                 edit: Callable[[bytearray], None], words: str) -> None:
    found = inspect(patched(images["gpt.raw"], tmp_path / "x.raw", edit).read_bytes(), "tiny")
    assert found.format == "raw" and words in (found.problem or ""), found


def test_filesystem_boot_sector_is_not_an_mbr() -> None:
    sector = bytearray(random.Random(3).randbytes(512))
    sector[54:59], sector[510:512] = b"FAT16", b"\x55\xaa"
    for i in range(4):
        sector[446 + 16 * i] = 0
    assert inspect(bytes(sector) + bytes(4096), "tiny").safe


@pytest.mark.parametrize("declared,found,ok", [
    ("raw", Result("raw", 1), True),
    ("raw", Result("iso", 1), True),
    ("raw", Result("vhd", 1, detail="fixed"), True),
    ("raw", Result("qcow2", 1), False),
    ("raw", Result("vhd", 1, detail="dynamic"), False),
    ("qcow2", Result("raw", 1), False),
    ("qcow2", Result("qcow2", 1), True),
    ("iso", Result("raw", 1), False),
    ("vmdk", Result("vhd", 1), False),
    ("ami", Result("qcow2", 1), True),
    ("ploop", Result("raw", 1), True),
])
def test_mismatch_rules(declared: str, found: Result, ok: bool) -> None:
    problem = mismatch(declared, found)
    assert (problem is None) == ok
    if problem:
        assert declared in problem and found.format in problem


def test_short_data_is_raw() -> None:
    for data in (b"", b"Q", b"QFI\xfb", b"some image data"):
        found = inspect(data, "tiny")
        assert found.format == ("qcow2" if data.startswith(b"QFI") else "raw")
        assert found.virtual_size == (None if data.startswith(b"QFI") else len(data))


def test_memory_stays_flat() -> None:
    inspector = Inspector()
    chunk = bytes(MiB)
    for _ in range(64):
        inspector.feed(chunk)
    for _ in range(10000):
        inspector.feed(b"x" * 7)
    assert len(inspector._head) == formats.PREFIX_BYTES
    assert len(inspector._tail) <= 8 * formats.TAIL_BYTES
    assert inspector._window is None
    assert inspector.result() == Result("raw", 64 * MiB + 70000)
