"""Incremental disk-format inspection of uploaded image data.

``Inspector`` is fed the upload's chunks as they pass (any sizes). It keeps the first
``PREFIX_BYTES`` and the last ``TAIL_BYTES`` of the stream, plus, for VHDX only, one small
window (``WINDOW_BYTES``) whose offset the prefix names (the metadata region); memory stays
flat whatever the image's size. ``result()`` then names the format, its virtual size and
whether the disk is safe to hand to a hypervisor (no backing/parent files, no external data,
no extents in other files, a sane partition table).
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from dataclasses import dataclass

PREFIX_BYTES = 1 << 20
TAIL_BYTES = 512
WINDOW_BYTES = 128 * 1024  # a VHDX metadata table (64 KiB) and the items after it
SECTOR = 512

# disk_format values this module can recognise; any other declared format is not inspected
INSPECTED: frozenset[str] = frozenset({"raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso"})


@dataclass(frozen=True)
class Result:
    """What the data is: ``format`` (a disk_format name), ``virtual_size`` in bytes (None
    when unknown) and ``problem``, why it is unsafe (None when safe)."""

    format: str
    virtual_size: int | None
    problem: str | None = None
    detail: str = ""  # a subformat (e.g. the VHD disk type), for messages and rules

    @property
    def safe(self) -> bool:
        return self.problem is None


class Inspector:
    """Feed chunks with ``feed``; ask ``result()`` once the stream has ended."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._tail = bytearray()
        self.size = 0
        self._window: tuple[int, bytearray] | None = None  # (offset, captured bytes)
        self._window_asked = False

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Look at the next ``len(chunk)`` bytes of the stream."""
        n = len(chunk)
        start = self.size
        if len(self._head) < PREFIX_BYTES:
            self._head += chunk[:PREFIX_BYTES - len(self._head)]
        if n >= TAIL_BYTES:
            self._tail = bytearray(chunk[n - TAIL_BYTES:])
        else:  # small chunks: trimmed now and then, so the tail stays under 8 sectors
            self._tail += chunk
            if len(self._tail) > 8 * TAIL_BYTES:
                del self._tail[:-TAIL_BYTES]
        self.size += n
        if not self._window_asked and len(self._head) >= _VHDX_REGIONS_END:
            self._window_asked = True
            offset = _vhdx_metadata_offset(bytes(self._head[:_VHDX_REGIONS_END]))
            if offset is not None and offset >= PREFIX_BYTES:
                self._window = (offset, bytearray())
        if self._window is not None:
            offset, buf = self._window
            want = offset + len(buf)  # next stream offset the window needs
            if len(buf) < WINDOW_BYTES and start <= want < self.size:
                buf += chunk[want - start:want - start + WINDOW_BYTES - len(buf)]

    def read(self, offset: int, length: int) -> bytes:
        """Bytes kept at stream ``offset`` (shorter, possibly empty, where nothing was)."""
        if offset < 0:
            return b""
        if offset < len(self._head):
            return bytes(self._head[offset:offset + length])
        if self._window is not None:
            w_off, buf = self._window
            if w_off <= offset < w_off + len(buf):
                return bytes(buf[offset - w_off:offset - w_off + length])
        tail_start = self.size - len(self._tail)
        if tail_start <= offset < self.size:
            return bytes(self._tail[offset - tail_start:offset - tail_start + length])
        return b""

    def result(self) -> Result:
        """The format of everything fed so far (call after the last chunk)."""
        head = bytes(self._head)
        for probe in (_qcow2, _vmdk, _vdi, _vhdx, _vhd, _iso):
            found = probe(self, head)
            if found is not None:
                return found
        return _raw(self, head)


def inspect_bytes(data: bytes, chunk: int = 1 << 20) -> Result:
    """Inspect ``data`` held in memory (fed in ``chunk``-sized pieces)."""
    inspector = Inspector()
    for i in range(0, len(data), chunk):
        inspector.feed(data[i:i + chunk])
    return inspector.result()


def mismatch(declared: str, found: Result) -> str | None:
    """Why data that is ``found`` may not be stored as ``declared`` (None: it may).

    Formats this module does not know pass. ``raw`` takes raw data, an ISO (raw-compatible)
    and a fixed VHD (raw data with a footer), but not another recognised format.
    """
    if declared not in INSPECTED:
        return None
    if declared == found.format:
        return None
    if declared == "raw" and (found.format == "iso" or found.detail == "fixed"):
        return None
    what = found.format + (f" ({found.detail})" if found.detail else "")
    return f"the image data is {what}, not the declared disk_format {declared}"


# -- probes: each returns a Result when the data is its format, else None ------------------

def _u32be(data: bytes, off: int) -> int:
    return int(struct.unpack_from(">I", data, off)[0])


def _u64be(data: bytes, off: int) -> int:
    return int(struct.unpack_from(">Q", data, off)[0])


def _u32le(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", data, off)[0])


def _u64le(data: bytes, off: int) -> int:
    return int(struct.unpack_from("<Q", data, off)[0])


_QCOW2_KNOWN_INCOMPAT = 0b11011  # dirty, corrupt, compression type, extended L2
_QCOW2_DATA_FILE = 1 << 2


def _qcow2(_: Inspector, head: bytes) -> Result | None:
    if head[:4] != b"QFI\xfb":
        return None
    if len(head) < 72:
        return Result("qcow2", None, "truncated qcow2 header")
    version, size = _u32be(head, 4), _u64be(head, 24)
    if version not in (2, 3):
        return Result("qcow2", size, f"unsupported qcow2 version {version}")
    if _u64be(head, 8) != 0:
        return Result("qcow2", size, "qcow2 with a backing file")
    if version == 3:
        if len(head) < 104:
            return Result("qcow2", size, "truncated qcow2 header")
        incompat = _u64be(head, 72)
        if incompat & _QCOW2_DATA_FILE:
            return Result("qcow2", size, "qcow2 with an external data file")
        if incompat & ~(_QCOW2_KNOWN_INCOMPAT | _QCOW2_DATA_FILE):
            return Result("qcow2", size,
                          f"qcow2 with unknown incompatible features {incompat:#x}")
    return Result("qcow2", size)


_VMDK_CREATE_TYPE = re.compile(rb'^\s*createType\s*=\s*"([^"]*)"', re.MULTILINE)
_VMDK_EXTENT = re.compile(rb'^\s*(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\S+)(.*)$', re.MULTILINE)
_VMDK_SAFE_TYPES = ("monolithicSparse", "streamOptimized")


def _vmdk(inspector: Inspector, head: bytes) -> Result | None:
    if head[:4] == b"KDMV":
        if len(head) < 44:
            return Result("vmdk", None, "truncated vmdk header")
        capacity = _u64le(head, 12) * SECTOR
        offset, length = _u64le(head, 28) * SECTOR, _u64le(head, 36) * SECTOR
        if offset == 0 or length == 0:
            return Result("vmdk", capacity, "vmdk without an embedded descriptor")
        descriptor = inspector.read(offset, min(length, PREFIX_BYTES))
        if offset + length > PREFIX_BYTES or len(descriptor) < min(length, SECTOR):
            return Result("vmdk", capacity, "vmdk descriptor lies outside the inspected data")
        return _vmdk_descriptor(descriptor.split(b"\0", 1)[0], capacity)
    if head.startswith(b"# Disk DescriptorFile"):
        return _vmdk_descriptor(head.split(b"\0", 1)[0], None)
    return None


def _vmdk_descriptor(text: bytes, capacity: int | None) -> Result:
    match = _VMDK_CREATE_TYPE.search(text)
    create_type = match.group(1).decode("ascii", "replace") if match else "unknown"
    extents = _VMDK_EXTENT.findall(text)
    if capacity is None:
        capacity = sum(int(e[1]) for e in extents) * SECTOR if extents else None
    if create_type not in _VMDK_SAFE_TYPES:
        return Result("vmdk", capacity, f"vmdk of create type {create_type}", create_type)
    if b"parentFileNameHint" in text:
        return Result("vmdk", capacity, "vmdk with a parent disk", create_type)
    if len(extents) != 1 or extents[0][2] != b"SPARSE":
        return Result("vmdk", capacity, "vmdk with extents in other files", create_type)
    return Result("vmdk", capacity, None, create_type)


_VDI_SIGNATURE = 0xBEDA107F


def _vdi(_: Inspector, head: bytes) -> Result | None:
    if len(head) < 0x1C8 or _u32le(head, 0x40) != _VDI_SIGNATURE:
        return None
    size, image_type = _u64le(head, 0x170), _u32le(head, 0x4C)
    if image_type not in (1, 2):  # 1 dynamic, 2 fixed; 3 undo and 4 diff need a parent
        return Result("vdi", size, f"vdi of image type {image_type} (differencing)")
    if any(head[0x1A8:0x1C8]):
        return Result("vdi", size, "vdi with a parent disk")
    return Result("vdi", size)


_VHD_TYPES = {2: "fixed", 3: "dynamic", 4: "differencing"}


def _vhd(inspector: Inspector, head: bytes) -> Result | None:
    footer = inspector.read(inspector.size - SECTOR, SECTOR)
    if footer[:8] != b"conectix":
        footer = head[:SECTOR]  # a dynamic disk's copy of the footer
        if footer[:8] != b"conectix" or len(footer) < 64:
            return None
    size, kind = _u64be(footer, 48), _u32be(footer, 60)
    name = _VHD_TYPES.get(kind, f"type {kind}")
    if kind not in (2, 3):
        return Result("vhd", size, f"vhd of disk type {name}", name)
    return Result("vhd", size, None, name)


_VHDX_REGIONS = 0x30000  # region table (a copy follows at 0x40000)
_VHDX_REGIONS_END = _VHDX_REGIONS + 64 * 1024
_VHDX_METADATA = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E").bytes_le
_VHDX_FILE_PARAMETERS = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B").bytes_le
_VHDX_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8").bytes_le
_VHDX_PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C").bytes_le


def _vhdx_metadata_offset(head: bytes) -> int | None:
    """File offset of a VHDX's metadata region, from the region table in ``head``."""
    if head[:8] != b"vhdxfile" or len(head) < _VHDX_REGIONS_END or \
            head[_VHDX_REGIONS:_VHDX_REGIONS + 4] != b"regi":
        return None
    count = min(_u32le(head, _VHDX_REGIONS + 8), 2047)
    for i in range(count):
        entry = _VHDX_REGIONS + 16 + 32 * i
        if head[entry:entry + 16] == _VHDX_METADATA:
            return _u64le(head, entry + 16)
    return None


def _vhdx(inspector: Inspector, head: bytes) -> Result | None:
    if head[:8] != b"vhdxfile":
        return None
    offset = _vhdx_metadata_offset(head[:_VHDX_REGIONS_END])
    if offset is None:
        return Result("vhdx", None, "vhdx without a readable region table")
    table = inspector.read(offset, WINDOW_BYTES)
    if table[:8] != b"metadata" or len(table) < 32:
        return Result("vhdx", None, "vhdx metadata lies outside the inspected data")
    items: dict[bytes, bytes] = {}
    for i in range(min(int(struct.unpack_from("<H", table, 10)[0]), 2047)):
        entry = 32 + 32 * i
        if entry + 32 > len(table):
            break
        item_off, item_len = _u32le(table, entry + 16), _u32le(table, entry + 20)
        if item_off + item_len > len(table):
            return Result("vhdx", None, "vhdx metadata lies outside the inspected data")
        items[table[entry:entry + 16]] = table[item_off:item_off + item_len]
    size_item = items.get(_VHDX_DISK_SIZE, b"")
    size = _u64le(size_item, 0) if len(size_item) >= 8 else None
    params = items.get(_VHDX_FILE_PARAMETERS, b"")
    if _VHDX_PARENT_LOCATOR in items or (len(params) >= 8 and _u32le(params, 4) & 2):
        return Result("vhdx", size, "vhdx differencing disk (it has a parent)")
    if size is None:
        return Result("vhdx", None, "vhdx without a virtual disk size")
    return Result("vhdx", size)


_ISO_PVD = 16 * 2048


def _iso(_: Inspector, head: bytes) -> Result | None:
    pvd = head[_ISO_PVD:_ISO_PVD + 2048]
    if len(pvd) < 136 or pvd[1:6] != b"CD001" or pvd[0] != 1:
        return None
    blocks, block_size = _u32le(pvd, 80), int(struct.unpack_from("<H", pvd, 128)[0])
    return Result("iso", blocks * block_size)


# MBR partition types seen on real disks (DOS/Windows, Linux, BSD, EFI, recovery, ...)
_MBR_TYPES = frozenset({
    0x01, 0x04, 0x05, 0x06, 0x07, 0x0B, 0x0C, 0x0E, 0x0F, 0x11, 0x12, 0x14, 0x16, 0x17,
    0x1B, 0x1C, 0x1E, 0x27, 0x39, 0x3C, 0x42, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
    0x87, 0x88, 0x8E, 0x93, 0x96, 0x98, 0x9F, 0xA5, 0xA6, 0xA8, 0xA9, 0xAB, 0xAF, 0xBE,
    0xBF, 0xDA, 0xDE, 0xE8, 0xEA, 0xEB, 0xEE, 0xEF, 0xFB, 0xFC, 0xFD})


def _raw(inspector: Inspector, head: bytes) -> Result:
    return Result("raw", inspector.size, _partition_problem(head))


def _partition_problem(head: bytes) -> str | None:
    """Why the MBR (and GPT) at the start of a raw disk is not sane; None when it is, or
    when there is none."""
    if len(head) < SECTOR or head[510:512] != b"\x55\xaa" or _is_boot_record(head):
        return None
    entries = [head[446 + 16 * i:462 + 16 * i] for i in range(4)]
    if any(e[0] not in (0x00, 0x80) for e in entries):
        return None  # not a partition table (random data that ends in 55AA)
    spans = []
    for n, entry in enumerate(entries, 1):
        kind, start, count = entry[4], _u32le(entry, 8), _u32le(entry, 12)
        if kind == 0:
            if start or count:
                return f"MBR partition {n} is empty but has sectors"
            continue
        if kind not in _MBR_TYPES:
            return f"MBR partition {n} has an unknown type {kind:#04x}"
        if kind != 0xEE and (start == 0 or count == 0):
            return f"MBR partition {n} overlaps the partition table or is empty"
        spans.append((start, start + count, n))
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:], strict=False):
        if start < end:
            return f"MBR partitions {a} and {b} overlap"
    if any(e[4] == 0xEE for e in entries) or head[512:520] == b"EFI PART":
        return _gpt_problem(head)
    return None


def _is_boot_record(sector: bytes) -> bool:
    """A filesystem's boot sector (FAT, NTFS, exFAT) also ends in 55AA but is no MBR."""
    return sector[3:11] in (b"NTFS    ", b"EXFAT   ") or sector[54:59] == b"FAT12" or \
        sector[54:59] == b"FAT16" or sector[82:87] == b"FAT32"


def _gpt_problem(head: bytes) -> str | None:
    hdr = head[SECTOR:2 * SECTOR]
    if hdr[:8] != b"EFI PART":
        return "protective MBR without a GPT header"
    size = _u32le(hdr, 12)
    if not 92 <= size <= SECTOR:
        return f"GPT header size {size} is invalid"
    if zlib.crc32(hdr[:16] + b"\0\0\0\0" + hdr[20:size]) != _u32le(hdr, 16):
        return "GPT header checksum is wrong"
    first, last = _u64le(hdr, 40), _u64le(hdr, 48)
    table, count, entry_size = _u64le(hdr, 72), _u32le(hdr, 80), _u32le(hdr, 84)
    if _u64le(hdr, 24) != 1 or table < 2 or first > last + 1:
        return "GPT header locations are invalid"
    if entry_size < 128 or entry_size & (entry_size - 1) or count > 16384:
        return "GPT partition entry array is invalid"
    spans = []
    for i in range(count):
        entry = head[table * SECTOR + i * entry_size:table * SECTOR + (i + 1) * entry_size]
        if len(entry) < 48:
            break  # beyond the inspected prefix
        if not any(entry[:16]):
            continue
        lo, hi = _u64le(entry, 32), _u64le(entry, 40)
        if lo > hi or lo < first or hi > last:
            return f"GPT partition {i + 1} lies outside the usable area"
        spans.append((lo, hi, i + 1))
    spans.sort()
    for (_, hi, a), (lo, _, b) in zip(spans, spans[1:], strict=False):
        if lo <= hi:
            return f"GPT partitions {a} and {b} overlap"
    return None
