"""JSON-patch (v2.1 RFC 6902 subset, and the older v2.0 form) → an image change."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from glance.api.v2.views import VIRTUAL_KEYS, WRITABLE_KEYS, check_key, check_property
from glance.common import exception
from glance.domain import Image
from glance.service import Change, LocationEdit, NewLocation

PATCH_V21 = "application/openstack-images-v2.1-json-patch"
PATCH_V20 = "application/openstack-images-v2.0-json-patch"
PATCH_TYPES: tuple[str, ...] = (PATCH_V21, PATCH_V20)
OPS: tuple[str, ...] = ("add", "replace", "remove", "move", "copy")
# Keys the server computes for each response: removing one is a no-op (openstacksdk's
# generated patches remove `stores`, which its Image resource does not model).
REMOVABLE_VIRTUAL_KEYS: frozenset[str] = VIRTUAL_KEYS - {"locations"}


@dataclass
class _Edits:
    """What a patch does to an image: base fields set, properties set and removed."""

    fields: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)


def _key(path: object) -> str:
    """The one attribute a path names (``/name``, with ~1 and ~0 unescaped)."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) < 2:
        raise exception.BadRequest(f"Invalid JSON pointer for this resource: {path!r}")
    raw = path[1:]
    if "/" in raw:
        raise exception.BadRequest(
            f"Invalid JSON pointer for this resource: {path!r} (depth must be 1)")
    if "~" in raw.replace("~0", "").replace("~1", ""):
        raise exception.BadRequest(f"Invalid JSON pointer: bad escape in {path!r}")
    return raw.replace("~1", "/").replace("~0", "~")


def _normalise(op: object, media_type: str) -> dict[str, Any]:
    """One operation as {"op", "path", ["from"], ["value"]}."""
    if not isinstance(op, dict):
        raise exception.BadRequest("Operations must be JSON objects.")
    if media_type == PATCH_V20:  # {"replace": "/name", "value": …}
        names = [name for name in ("add", "replace", "remove") if name in op]
        if len(names) != 1:
            raise exception.BadRequest(
                "Operation objects must contain exactly one member named \"add\", "
                "\"remove\", or \"replace\".")
        result = {"op": names[0], "path": op[names[0]]}
        if "value" in op:
            result["value"] = op["value"]
        return result
    if op.get("op") not in OPS:
        raise exception.BadRequest(f"Invalid operation: {op.get('op')!r}; supported: "
                                   f"{', '.join(OPS)}")
    return op


class _Doc:
    """The image's patchable state while the operations apply."""

    def __init__(self, image: Image, strict_add: bool) -> None:
        self.image = image
        self.strict_add = strict_add  # v2.0: add of an existing key is a conflict
        self.change = _Edits()
        self.props = dict(image.properties)

    def get(self, key: str) -> Any:
        check_key(key)
        if key in WRITABLE_KEYS:
            return self.change.fields.get(key, getattr(self.image, key))
        if key not in self.props:
            raise exception.Conflict(f"Property {key} does not exist.")
        return self.props[key]

    def set(self, key: str, value: Any, op: str) -> None:
        check_key(key)
        if key in WRITABLE_KEYS:
            self.change.fields[key] = value
            return
        if op == "replace" and key not in self.props:
            raise exception.Conflict(f"Property {key} does not exist.")
        if op == "add" and self.strict_add and key in self.props:
            raise exception.Conflict(f"Property {key} already present.")
        check_property(key, value)
        self.props[key] = value
        self.change.properties[key] = value
        self.change.removed.discard(key)

    def remove(self, key: str) -> None:
        check_key(key)
        if key in WRITABLE_KEYS:
            raise exception.Forbidden(f"Properties {key} cannot be removed: it is a base "
                                      f"property.")
        if key not in self.props:
            raise exception.Conflict(f"Property {key} does not exist.")
        del self.props[key]
        self.change.properties.pop(key, None)
        self.change.removed.add(key)


LOCATION_KEYS: frozenset[str] = frozenset({"url", "metadata", "validation_data"})


def new_location(value: object) -> NewLocation:
    """A location object of a request: ``url`` (a string), ``metadata`` and
    ``validation_data`` (objects; optional)."""
    if not isinstance(value, dict) or not isinstance(value.get("url"), str):
        raise exception.BadRequest("A location is an object with a url (a string), "
                                   "metadata and optional validation_data")
    unknown = sorted(set(value) - LOCATION_KEYS)
    if unknown:
        raise exception.BadRequest(f"Unknown location attributes: {', '.join(unknown)}")
    metadata, validation = value.get("metadata", {}), value.get("validation_data") or {}
    if not isinstance(metadata, dict) or not isinstance(validation, dict):
        raise exception.BadRequest("A location's metadata and validation_data are objects")
    return NewLocation(value["url"], metadata, validation)


def _location_edit(op: dict[str, Any]) -> LocationEdit:
    """A change of ``/locations``: replace the list, add at ``/locations/-`` (or at the
    index one past the last), remove ``/locations/<index>``."""
    name, where = op["op"], op["path"][len("/locations"):]
    position = where[1:] if where.startswith("/") else None
    index = int(position) if position is not None and re.fullmatch(r"[0-9]{1,9}", position) \
        else None
    if name == "replace" and where == "":
        value = op.get("value")
        if not isinstance(value, list):
            raise exception.BadRequest("The value of /locations is a list of locations")
        return LocationEdit("replace", replacement=tuple(new_location(v) for v in value))
    if name == "add" and (position == "-" or index is not None):
        if "value" not in op:
            raise exception.BadRequest('Operation "add" requires a member named "value".')
        return LocationEdit("add", new=new_location(op["value"]),
                            index=-1 if index is None else index)
    if name == "remove" and index is not None:
        return LocationEdit("remove", index=index)
    raise exception.BadRequest(f"Invalid operation on locations: {name} {op['path']!r} (use "
                               f"replace /locations, add /locations/- or remove "
                               f"/locations/<index>)")


def apply_patch(image: Image, body: object, media_type: str) -> Change:
    """Apply a json-patch body to ``image``; the resulting change (nothing is saved)."""
    if not isinstance(body, list):
        raise exception.BadRequest("Unexpected body type: a json-patch body is a JSON list.")
    doc = _Doc(image, strict_add=media_type == PATCH_V20)
    locations: list[LocationEdit] = []
    for raw in body:
        op = _normalise(raw, media_type)
        name = op["op"]
        path = op.get("path")
        if isinstance(path, str) and (path == "/locations" or path.startswith("/locations/")):
            locations.append(_location_edit(op))
            continue
        key = _key(path)
        if name in ("add", "replace"):
            if "value" not in op:
                raise exception.BadRequest(f"Operation \"{name}\" requires a member named "
                                           f"\"value\".")
            doc.set(key, op["value"], name)
        elif name == "remove":
            if key not in REMOVABLE_VIRTUAL_KEYS:
                doc.remove(key)
        else:  # move / copy: jsonpatch.make_patch can emit them
            source = _key(op.get("from"))
            value = doc.get(source)
            if name == "move":
                doc.remove(source)
            doc.set(key, value, "add")
    return Change(doc.change.fields, doc.change.properties, removed=doc.change.removed,
                  amazon_pairs=False,  # v1's aki/ari/ami pairing rule is not v2's
                  locations=tuple(locations))
