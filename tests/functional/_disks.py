"""Small valid disk images for tests that upload data declared as a non-raw disk_format."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import RunningServer, start_server

QEMU_FORMATS = {"qcow2": "qcow2", "vmdk": "vmdk", "vhd": "vpc", "vhdx": "vhdx", "vdi": "vdi"}


def qcow2(length: int = 512, virtual_size: int = 1 << 30) -> bytes:
    """A minimal valid qcow2 (version 2) header, zero-padded to ``length`` (≥ 72) bytes."""
    assert length >= 72
    return (b"QFI\xfb" + struct.pack(">IQIIQ", 2, 0, 0, 16, virtual_size)).ljust(length, b"\0")


@lru_cache(maxsize=None)
def sample(disk_format: str) -> bytes:
    """A small valid image of ``disk_format`` (qemu-img / genisoimage); other formats get
    placeholder bytes (they are not inspected, or raw takes anything)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"disk.{disk_format}"
        if disk_format in QEMU_FORMATS:
            assert shutil.which("qemu-img"), "qemu-img is required: run scripts/test"
            subprocess.run(["qemu-img", "create", "-q", "-f", QEMU_FORMATS[disk_format],
                            str(path), "16M"], check=True, timeout=60)
        elif disk_format == "iso":
            assert shutil.which("genisoimage"), "genisoimage is required: run scripts/test"
            (Path(tmp) / "d").mkdir()
            (Path(tmp) / "d" / "f").write_text("x")
            subprocess.run(["genisoimage", "-quiet", "-o", str(path), str(Path(tmp) / "d")],
                           check=True, timeout=60)
        else:
            return b"d"
        return path.read_bytes()


def uninspected_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """(For a module's ``server`` fixture.) A server without format inspection, for tests that store tiny placeholder bytes of
    exact sizes under many disk formats (listing, filters, sorting)."""
    srv = start_server(tmp_path_factory.mktemp("glance") / "data",
                       env={"GLANCE_IMAGE_FORMAT_INSPECTION": "false"})
    yield srv
    srv.stop()
