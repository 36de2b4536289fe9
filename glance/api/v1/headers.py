"""x-image-meta-* headers ⇄ image records, and v1's JSON image dicts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from glance.api.params import nonnegative_int
from glance.common import exception
from glance.domain import BY_NAME, Field, Image, v1_fields, v1_names

META_PREFIX = "x-image-meta-"
PROPERTY_PREFIX = "x-image-meta-property-"

# Read-only fields a request may carry as checks (the image must match them, or the upload
# must: size and checksum), and request controls that are no field at all.
CHECKS: frozenset[str] = frozenset({"id", "size", "checksum", "status"})
CONTROLS: frozenset[str] = frozenset({"type", "store", "location"})
# Fields a v1 client may send, and those accepted and ignored (old clients send them).
ACCEPTED_FIELDS: frozenset[str] = frozenset(
    {f.v1_name for f in v1_fields() if f.settable}) | CHECKS | CONTROLS
IGNORED_FIELDS: frozenset[str] = (v1_names() - ACCEPTED_FIELDS) | {"uri", "copy_from"}
INT_FIELDS: frozenset[str] = v1_names("int") & ACCEPTED_FIELDS
BOOL_FIELDS: frozenset[str] = v1_names("bool") & ACCEPTED_FIELDS
TRUE_STRINGS = frozenset({"true", "on", "1", "yes"})
FALSE_STRINGS = frozenset({"false", "off", "0", "no"})
# What a boolean header may also say for false: python-glanceclient 2.x's v1 CLI sends
# `x-image-meta-is_public: None` when --is-public is not given, and an empty header is empty.
ABSENT_STRINGS = frozenset({"none", ""})
# What a header value cannot carry (control characters but tab), and what a header name
# cannot (anything but a token's characters). Values written before control characters were
# refused may hold them: they go out percent-encoded, so that v1 always answers.
UNSENDABLE_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
UNSENDABLE_IN_NAME = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")


def _percent_encoded(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogatepass"))


def sendable_value(text: str) -> str:
    """``text`` as a header value: control characters (but tab) percent-encoded."""
    return UNSENDABLE_IN_VALUE.sub(_percent_encoded, text)


def sendable_name(text: str) -> str:
    """``text`` as part of a header name: every character outside a token percent-encoded."""
    return UNSENDABLE_IN_NAME.sub(_percent_encoded, text)


def parse_bool(value: str, what: str) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    raise exception.BadRequest(
        f"Invalid value {value!r} for {what}: use true/false, on/off, 1/0 or yes/no")


def parse_bool_header(value: str, what: str) -> bool:
    """A boolean x-image-meta-* header: `None` and the empty value are false, as the
    original v1 server read them; otherwise as :func:`parse_bool`."""
    if value.strip().lower() in ABSENT_STRINGS:
        return False
    return parse_bool(value, what)


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
        if key in BOOL_FIELDS:
            meta.fields[key] = parse_bool_header(value, raw_name)
        elif value == "":
            meta.fields[key] = None
        elif key in INT_FIELDS:
            meta.fields[key] = nonnegative_int(value, raw_name, BY_NAME[key].maximum)
        else:
            meta.fields[key] = value
    return meta


def _field_value(image: Image, field: Field) -> Any:
    if field.name == "visibility":
        return image.is_public
    return getattr(image, field.name)


def _header_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return sendable_value(str(value))  # booleans become True/False, as v1 always wrote them


def image_headers(image: Image) -> dict[str, str]:
    """The x-image-meta-* headers of ``image`` (null fields omitted)."""
    headers: dict[str, str] = {}
    for shown in v1_fields():
        value = _field_value(image, shown)
        if value is not None:
            headers[META_PREFIX + shown.v1_name] = _header_text(value)
    for key, value in image.properties.items():
        headers[PROPERTY_PREFIX + sendable_name(key)] = sendable_value(value)
    if image.checksum:
        headers["ETag"] = image.checksum
    return headers


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def image_dict(image: Image, base: str, detail: bool = True) -> dict[str, Any]:
    """The JSON form of ``image`` in lists (brief or detailed) and create/update answers."""
    result = {f.v1_name: _json_value(_field_value(image, f)) for f in v1_fields(index=not detail)}
    if detail:
        result["properties"] = dict(image.properties)
    result["uri"] = image_uri(base, image.id)
    return result


def image_uri(base: str, image_id: str) -> str:
    return f"{base}/v1/images/{image_id}"
