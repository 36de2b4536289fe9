"""What image metadata may say: disk and container formats, the seed's ``type``, names,
ids and visibilities."""

from __future__ import annotations

import re

from glance.common import exception

DISK_FORMATS: tuple[str, ...] = (
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker")
AMAZON_FORMATS: frozenset[str] = frozenset({"aki", "ari", "ami"})

# The seed's `type` values and the formats they imply when no formats are given.
TYPE_FORMATS: dict[str, tuple[str, str]] = {
    "kernel": ("aki", "aki"),
    "ramdisk": ("ari", "ari"),
    "machine": ("ami", "ami"),
    "raw": ("raw", "bare"),
}

VISIBILITIES: tuple[str, ...] = ("public", "private", "shared", "community")

_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_NAME_LENGTH = 255
# C0 control characters and DEL: refused in names, owners, property keys and values, tags and
# member ids (they cannot travel in v1's headers, and no one means them).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# NUL and lone surrogates (not UTF-8; how aiohttp passes on header bytes that are not UTF-8,
# and what JSON's "\ud800" gives): no database stores them.
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


def validate_image_id(image_id: str) -> str:
    """Return ``image_id`` if it is a safe identifier, else raise BadRequest."""
    if not isinstance(image_id, str) or not _ID_RE.match(image_id) or image_id.startswith("."):
        raise exception.BadRequest(
            "Invalid image id: use 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
            "not starting with '.'")
    return image_id


def is_storable(text: str) -> bool:
    """Whether the registry can store ``text``: UTF-8 (no lone surrogate) without NUL."""
    return _UNSTORABLE_RE.search(text) is None


def check_text(value: str, what: str) -> str:
    """``value`` if it has no control characters, else BadRequest naming ``what``."""
    found = _CONTROL_RE.search(value)
    if found is not None:
        raise exception.BadRequest(
            f"{what} must not contain control characters (found {found.group()!r})")
    return value


def apply_format_rules(disk_format: str | None, container_format: str | None,
                       image_type: str | None, *,
                       amazon_pairs: bool = True) -> tuple[str | None, str | None]:
    """Validate formats (and the seed's ``type``) and fill in what they imply.

    Returns the effective ``(disk_format, container_format)``; raises BadRequest on an
    unknown format, an unknown type or (with ``amazon_pairs``: v1's rule; upstream v2 has
    none) an invalid aki/ari/ami mix.
    """
    if image_type is not None and image_type not in TYPE_FORMATS:
        raise exception.BadRequest(
            f"Invalid type {image_type!r}: must be one of {', '.join(TYPE_FORMATS)}")
    if disk_format is None and container_format is None and image_type is not None:
        disk_format, container_format = TYPE_FORMATS[image_type]
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise exception.BadRequest(
            f"Invalid disk_format {disk_format!r}: must be one of {', '.join(DISK_FORMATS)}")
    if container_format is not None and container_format not in CONTAINER_FORMATS:
        raise exception.BadRequest(
            f"Invalid container_format {container_format!r}: must be one of "
            f"{', '.join(CONTAINER_FORMATS)}")
    if not amazon_pairs:
        return disk_format, container_format
    if disk_format in AMAZON_FORMATS and container_format is None:
        container_format = disk_format
    elif container_format in AMAZON_FORMATS and disk_format is None:
        disk_format = container_format
    if (disk_format in AMAZON_FORMATS or container_format in AMAZON_FORMATS) and \
            disk_format != container_format:
        raise exception.BadRequest(
            "Invalid mix of disk and container formats: when either is aki, ari or ami, "
            "both must be the same")
    return disk_format, container_format
