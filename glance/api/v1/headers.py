"""x-image-meta-* headers ⇄ image records, and v1's JSON image dicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from glance.common import exception
from glance.domain import Image

META_PREFIX = "x-image-meta-"
PROPERTY_PREFIX = "x-image-meta-property-"

# Fields a v1 client may send, and those accepted and ignored (old clients send them).
ACCEPTED_FIELDS: frozenset[str] = frozenset({
    "id", "name", "type", "disk_format", "container_format", "size", "checksum", "is_public",
    "protected", "min_ram", "min_disk", "owner", "store", "location", "status"})
IGNORED_FIELDS: frozenset[str] = frozenset({
    "created_at", "updated_at", "deleted_at", "deleted", "uri", "virtual_size", "copy_from"})
INT_FIELDS: frozenset[str] = frozenset({"size", "min_ram", "min_disk"})
BOOL_FIELDS: frozenset[str] = frozenset({"is_public", "protected"})
TRUE_STRINGS = frozenset({"true", "on", "1", "yes"})
FALSE_STRINGS = frozenset({"false", "off", "0", "no"})

# Record fields shown in v1 (headers and detail), in order.
DETAIL_FIELDS: tuple[str, ...] = (
    "id", "name", "disk_format", "container_format", "size", "virtual_size", "checksum",
    "status", "is_public", "protected", "min_ram", "min_disk", "owner", "created_at",
    "updated_at", "deleted_at", "deleted")
INDEX_FIELDS: tuple[str, ...] = (
    "id", "name", "disk_format", "container_format", "size", "checksum")


def parse_bool(value: str, what: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    raise exception.BadRequest(
        f"Invalid value {value!r} for {what}: use true/false, on/off, 1/0 or yes/no")


def parse_nonnegative_int(value: str, what: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise exception.BadRequest(f"Invalid value {value!r} for {what}: must be an integer") \
            from None
    if number < 0:
        raise exception.BadRequest(f"Invalid value {value!r} for {what}: must be >= 0")
    return number


@dataclass
class MetaHeaders:
    """What a request's x-image-meta-* headers say (values typed, names normalised)."""

    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


def parse_meta_headers(headers: Mapping[str, str]) -> MetaHeaders:
    """Read x-image-meta-* headers; 400 for an unknown field or a bad value."""
    meta = MetaHeaders()
    for raw_name, value in headers.items():
        name = raw_name.lower()
        if name.startswith(PROPERTY_PREFIX):
            key = name[len(PROPERTY_PREFIX):].replace("-", "_")
            if not key:
                raise exception.BadRequest(f"Bad header: {raw_name} (empty property name)")
            meta.properties[key] = value
            continue
        if not name.startswith(META_PREFIX):
            continue
        key = name[len(META_PREFIX):].replace("-", "_")
        if key in IGNORED_FIELDS:
            continue
        if key not in ACCEPTED_FIELDS:
            raise exception.BadRequest(f"Bad header: {raw_name}")
        if value == "":
            meta.fields[key] = None
        elif key in INT_FIELDS:
            meta.fields[key] = parse_nonnegative_int(value, raw_name)
        elif key in BOOL_FIELDS:
            meta.fields[key] = parse_bool(value, raw_name)
        else:
            meta.fields[key] = value
    return meta


def _field_value(image: Image, name: str) -> Any:
    if name == "is_public":
        return image.is_public
    return getattr(image, name)


def _header_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # booleans become True/False, as v1 always wrote them


def image_headers(image: Image) -> dict[str, str]:
    """The x-image-meta-* headers of ``image`` (null fields omitted)."""
    headers: dict[str, str] = {}
    for name in DETAIL_FIELDS:
        value = _field_value(image, name)
        if value is not None:
            headers[META_PREFIX + name] = _header_text(value)
    for key, value in image.properties.items():
        headers[PROPERTY_PREFIX + key] = value
    if image.checksum:
        headers["ETag"] = image.checksum
    return headers


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def image_dict(image: Image, base: str, detail: bool = True) -> dict[str, Any]:
    """The JSON form of ``image`` in lists (brief or detailed) and create/update answers."""
    names = DETAIL_FIELDS if detail else INDEX_FIELDS
    result = {name: _json_value(_field_value(image, name)) for name in names}
    if detail:
        result["properties"] = dict(image.properties)
    result["uri"] = image_uri(base, image.id)
    return result


def image_uri(base: str, image_id: str) -> str:
    return f"{base}/v1/images/{image_id}"
