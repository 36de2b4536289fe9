"""Records → v2 JSON (image, member), and v2 JSON → service fields for create."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Mapping, Sequence

from glance.common import exception
from glance.domain import (
    FIELDS,
    SETTABLE,
    V2_VIRTUAL_KEYS,
    Image,
    Membership,
    Task,
    v2_fields,
)
from glance.service import ShownLocation

# Keys every image shows (null when unset), in this order.
BASE_KEYS: tuple[str, ...] = tuple(f.name for f in v2_fields())
# Keys v2 computes for each response (links, stores) or does not serve (locations).
VIRTUAL_KEYS: frozenset[str] = V2_VIRTUAL_KEYS
# Keys a caller may set on create and change with PATCH.
WRITABLE_KEYS: frozenset[str] = SETTABLE
# Keys the server sets: sending them is 403.
READ_ONLY_KEYS: frozenset[str] = frozenset(BASE_KEYS) - SETTABLE | VIRTUAL_KEYS
RESERVED_KEYS: frozenset[str] = frozenset(f.name for f in FIELDS if not f.v2) | {"location"}
MAX_PROPERTY_KEY = 255


def timestamp(moment: datetime | None) -> str | None:
    """ISO 8601 UTC without a fraction: 2015-11-29T22:21:42Z."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_view(image: Image, weights: Mapping[str, int] | None = None,
               locations: Sequence[ShownLocation] | None = None) -> dict[str, Any]:
    """The v2 JSON of ``image``: every base key, then its extra properties; its ``stores``
    the highest ``weights`` first (then in the order they were added), and ``locations``
    if this server shows them."""
    body: dict[str, Any] = {}
    for key in BASE_KEYS:
        value = getattr(image, key)
        body[key] = timestamp(value) if isinstance(value, datetime) else value
    body["tags"] = list(image.tags)
    body["self"] = f"/v2/images/{image.id}"
    body["file"] = f"/v2/images/{image.id}/file"
    body["schema"] = "/v2/schemas/image"
    copies = sorted(image.active_locations, key=lambda loc: -(weights or {}).get(loc.store, 0))
    if copies:
        body["stores"] = ",".join(loc.store for loc in copies)
    if locations is not None:
        body["locations"] = [{"url": loc.url, "metadata": loc.metadata} for loc in locations]
    for key, value in image.properties.items():
        if key not in body and not key.startswith("os_glance_stage"):
            body[key] = value
    return body


def member_view(member: Membership) -> dict[str, Any]:
    return {"member_id": member.member_id, "image_id": member.image_id,
            "status": member.status, "created_at": timestamp(member.created_at),
            "updated_at": timestamp(member.updated_at), "schema": "/v2/schemas/member"}


def task_view(task: Task) -> dict[str, Any]:
    return {"id": task.id, "type": task.type, "status": task.status, "owner": task.owner,
            "image_id": task.image_id, "input": task.input, "message": task.message,
            "result": None, "request_id": task.request_id, "user_id": task.user_id,
            "created_at": timestamp(task.created_at), "updated_at": timestamp(task.updated_at),
            "expires_at": None}


def check_key(key: str) -> None:
    """403 for keys the server owns or reserves."""
    if key in READ_ONLY_KEYS:
        raise exception.Forbidden(f"Attribute '{key}' is read-only.")
    if key in RESERVED_KEYS or key.startswith("os_glance"):
        raise exception.Forbidden(f"Attribute '{key}' is reserved.")


def check_property(key: str, value: Any) -> None:
    """400 unless an extra property has a short name and a string value."""
    if len(key) > MAX_PROPERTY_KEY:
        raise exception.BadRequest(
            f"Provided object does not match schema 'image': property name {key[:40]}… is "
            f"longer than {MAX_PROPERTY_KEY} characters")
    if not isinstance(value, str):
        raise exception.BadRequest(
            f"Provided object does not match schema 'image': {value!r} is not of type "
            f"'string' (property {key})")


def create_request(body: object) -> tuple[str | None, dict[str, Any], dict[str, str]]:
    """``(id, fields, properties)`` from a POST /v2/images body."""
    if not isinstance(body, dict):
        raise exception.BadRequest("Provided object does not match schema 'image': the body "
                                   "must be a JSON object")
    image_id = body.get("id")
    fields: dict[str, Any] = {}
    properties: dict[str, str] = {}
    for key, value in body.items():
        if key == "id":
            continue
        check_key(key)
        if key in WRITABLE_KEYS:
            fields[key] = value
        else:
            check_property(key, value)
            properties[key] = value
    if image_id is not None:
        try:
            image_id = str(uuid.UUID(str(image_id)))
        except ValueError:
            raise exception.BadRequest(
                f"Provided object does not match schema 'image': id {image_id!r} is not a "
                f"UUID") from None
    return image_id, fields, properties
