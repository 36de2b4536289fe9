"""Metadata definitions (metadefs): namespaces that describe the properties, objects and tags
a resource type (an image, a flavor, a volume …) may carry, and what a definition may say.

A definition document (a ``POST /v2/metadefs/namespaces`` body, or one file of the catalogue
the admin command loads) is checked here, once, into the records below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, TypeVar, Union

from glance.common import exception

NAMESPACE_VISIBILITIES: tuple[str, ...] = ("public", "private")
PROPERTY_TYPES: tuple[str, ...] = ("array", "boolean", "integer", "number", "object", "string")
NAMESPACE_SORT_KEYS: tuple[str, ...] = ("created_at", "updated_at", "namespace",
                                        "display_name")
MAX_NAME = 80  # namespaces, objects, properties, resource types, prefixes
MAX_TAG = 255
MAX_DESCRIPTION = 500
# keys a client reads but never writes: sending them is refused (403), as upstream does
READ_ONLY_KEYS: tuple[str, ...] = ("self", "schema", "created_at", "updated_at")


@dataclass(frozen=True)
class Namespace:
    """A namespace's own fields."""

    namespace: str
    display_name: str | None = None
    description: str | None = None
    visibility: str = "private"
    protected: bool = False
    owner: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Association:
    """A namespace applies to a resource type, its properties named with ``prefix``."""

    name: str
    prefix: str | None = None
    properties_target: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class PropertyDef:
    """A property definition: its name and its JSON-schema-like description (title, type …)."""

    name: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class ObjectDef:
    """A group of property definitions under one name."""

    name: str
    description: str | None = None
    required: tuple[str, ...] = ()
    properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class TagDef:
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


Item = Union[ObjectDef, PropertyDef, TagDef]  # what a namespace holds, by name
ItemT = TypeVar("ItemT", ObjectDef, PropertyDef, TagDef)


@dataclass(frozen=True)
class ResourceType:
    name: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Definition:
    """A namespace with everything in it."""

    namespace: Namespace
    associations: tuple[Association, ...] = ()
    properties: tuple[PropertyDef, ...] = ()
    objects: tuple[ObjectDef, ...] = ()
    tags: tuple[TagDef, ...] = ()


@dataclass
class NamespaceQuery:
    """One page of namespaces: filters, order and marker (a namespace name)."""

    limit: int
    marker: str | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    visibility: str | None = None
    resource_types: tuple[str, ...] = ()
    viewer: str | None = None
    viewer_is_admin: bool = False


ITEM_SORT_KEYS: tuple[str, ...] = ("name", "created_at", "updated_at")


@dataclass(frozen=True)
class ItemPage:
    """Which objects or tags of a namespace to list: by name unless said otherwise, from
    after the one named ``marker``, at most ``limit`` (None: all)."""

    limit: int | None = None
    marker: str | None = None
    sort_key: str = "name"
    sort_dir: str = "asc"


# -- checks ---------------------------------------------------------------------------------

def _bad(message: str) -> exception.BadRequest:
    return exception.BadRequest(message)


def check_name(value: object, what: str, limit: int = MAX_NAME) -> str:
    """``value`` if it is a string of 1 to ``limit`` characters without '/'."""
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "/" in value:
        raise _bad(f"{what} must be a string of 1 to {limit} characters without '/'")
    return value


def _optional_text(body: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise _bad(f"{key} must be a string of at most {limit} characters")
    return value


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} must be a JSON object")
    return value


def refuse_read_only(body: Mapping[str, Any]) -> None:
    """403 when a request body sets a key only the server writes."""
    for key in READ_ONLY_KEYS:
        if key in body:
            raise exception.Forbidden(f"Attribute '{key}' is read-only.")


def namespace_fields(body: Mapping[str, Any], *, name: str | None = None) -> Namespace:
    """A namespace's fields from a request body (``name``: the one in the URL, used when the
    body names none). Missing visibility means private, missing protected false."""
    body = _mapping(body, "A namespace")
    known = {"namespace", "display_name", "description", "visibility", "protected", "owner",
             "resource_type_associations", "properties", "objects", "tags", *READ_ONLY_KEYS}
    unknown = sorted(set(body) - known)
    if unknown:
        raise _bad(f"Unknown namespace attribute(s): {', '.join(unknown)}")
    visibility = body.get("visibility") or "private"
    if visibility not in NAMESPACE_VISIBILITIES:
        raise _bad(f"Invalid visibility {visibility!r}: public or private")
    protected = body.get("protected", False)
    if protected is None:
        protected = False
    if not isinstance(protected, bool):
        raise _bad("protected must be true or false")
    owner = body.get("owner")
    if owner is not None and (not isinstance(owner, str) or len(owner) > 255):
        raise _bad("owner must be a string of at most 255 characters")
    return Namespace(
        namespace=check_name(body.get("namespace", name), "namespace"),
        display_name=_optional_text(body, "display_name", MAX_NAME),
        description=_optional_text(body, "description", MAX_DESCRIPTION),
        visibility=visibility, protected=protected, owner=owner)


def _check_number(schema: Mapping[str, Any], key: str) -> None:
    value = schema.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value)):
        raise _bad(f"{key} must be a number")


def _check_count(schema: Mapping[str, Any], key: str) -> None:
    value = schema.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 0):
        raise _bad(f"{key} must be a non-negative integer")


def _fits(value: object, kind: str) -> bool:
    """Whether ``value`` is a JSON value of type ``kind``."""
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "array": list,
                              "object": dict}[kind])


PROPERTY_KEYS: frozenset[str] = frozenset({
    "name", "title", "description", "type", "default", "enum", "operators", "readonly",
    "minimum", "maximum", "minLength", "maxLength", "pattern", "items", "minItems",
    "maxItems", "uniqueItems", "additionalItems", "confidential", "required"})


def property_schema(body: object, what: str = "A property") -> dict[str, Any]:
    """A property definition checked: title and type (one of PROPERTY_TYPES) are required;
    the constraints have the types JSON schema gives them; ``enum`` values and ``default``
    have the property's type. Returns it without ``name``."""
    schema = dict(_mapping(body, what))
    schema.pop("name", None)
    unknown = sorted(set(schema) - PROPERTY_KEYS)
    if unknown:
        raise _bad(f"{what}: unknown attribute(s) {', '.join(unknown)}")
    if not isinstance(schema.get("title"), str) or not schema["title"]:
        raise _bad(f"{what} needs a title (a string)")
    kind = schema.get("type")
    if kind not in PROPERTY_TYPES:
        raise _bad(f"{what}: type must be one of {', '.join(PROPERTY_TYPES)}")
    if not isinstance(schema.get("description", ""), str):
        raise _bad(f"{what}: description must be a string")
    for key in ("minimum", "maximum"):
        _check_number(schema, key)
    for key in ("minLength", "maxLength", "minItems", "maxItems"):
        _check_count(schema, key)
    for key in ("readonly", "uniqueItems", "additionalItems", "confidential"):
        if key in schema and not isinstance(schema[key], bool):
            raise _bad(f"{what}: {key} must be true or false")
    if "pattern" in schema and not isinstance(schema["pattern"], str):
        raise _bad(f"{what}: pattern must be a string")
    for key in ("operators", "required"):
        if key in schema and (not isinstance(schema[key], list)
                              or not all(isinstance(v, str) for v in schema[key])):
            raise _bad(f"{what}: {key} must be a list of strings")
    if "enum" in schema:
        enum = schema["enum"]
        if not isinstance(enum, list) or not all(_fits(v, kind) for v in enum):
            raise _bad(f"{what}: enum must be a list of {kind} values")
    if "items" in schema:
        items = _mapping(schema["items"], f"{what}: items")
        if "type" in items and items["type"] not in PROPERTY_TYPES:
            raise _bad(f"{what}: items.type must be one of {', '.join(PROPERTY_TYPES)}")
        if "enum" in items and not isinstance(items["enum"], list):
            raise _bad(f"{what}: items.enum must be a list")
    if "default" in schema:
        default = schema["default"]
        if not _fits(default, kind):
            raise _bad(f"{what}: default must be of type {kind}")
        if "enum" in schema and default not in schema["enum"]:
            raise _bad(f"{what}: default must be one of its enum values")
    return schema


def property_def(body: object, *, name: str | None = None) -> PropertyDef:
    """A property definition from a body carrying its name (or ``name``, when it has none)."""
    mapping = _mapping(body, "A property")
    prop_name = check_name(mapping.get("name", name), "A property's name")
    return PropertyDef(prop_name, property_schema(mapping, f"Property {prop_name}"))


def _properties(value: object, what: str) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    return {check_name(name, f"A property name in {what}"):
            property_schema(schema, f"Property {name} of {what}")
            for name, schema in _mapping(value, f"The properties of {what}").items()}


def object_def(body: object, *, name: str | None = None) -> ObjectDef:
    """An object definition: name, description, required (names of its properties) and
    properties (name → property definition)."""
    mapping = _mapping(body, "An object")
    unknown = sorted(set(mapping) - {"name", "description", "required", "properties",
                                     *READ_ONLY_KEYS})
    if unknown:
        raise _bad(f"Unknown object attribute(s): {', '.join(unknown)}")
    obj_name = check_name(mapping.get("name", name), "An object's name")
    required = mapping.get("required") or []
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _bad(f"Object {obj_name}: required must be a list of property names")
    if len(set(required)) != len(required):
        raise _bad(f"Object {obj_name}: required names each property once")
    return ObjectDef(obj_name, _optional_text(mapping, "description", MAX_DESCRIPTION),
                     tuple(required), _properties(mapping.get("properties"),
                                                  f"object {obj_name}"))


def tag_name(value: object) -> str:
    return check_name(value, "A tag's name", MAX_TAG)


def tag_names(body: object) -> list[str]:
    """The names of ``{"tags": [{"name": …}, …]}``; 409 when one is given twice."""
    tags = _mapping(body, "The body").get("tags")
    if not isinstance(tags, list):
        raise _bad('The body must be {"tags": [{"name": "…"}, …]}')
    names = [tag_name(_mapping(t, "A tag").get("name")) for t in tags]
    if len(set(names)) != len(names):
        raise exception.Duplicate("A tag name is given more than once")
    return names


def association(body: object, *, name: str | None = None) -> Association:
    """A resource type association: the resource type's name, prefix, properties_target."""
    mapping = _mapping(body, "A resource type association")
    return Association(check_name(mapping.get("name", name), "A resource type's name"),
                       _optional_text(mapping, "prefix", MAX_NAME),
                       _optional_text(mapping, "properties_target", MAX_NAME))


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise exception.Duplicate(f"{what} {name} is given more than once")
        seen.add(name)


def definition(body: object) -> Definition:
    """A whole namespace document (a create request, or a catalogue file), checked."""
    mapping = _mapping(body, "A namespace")
    namespace = namespace_fields(mapping)
    associations = tuple(association(a) for a in _list(mapping, "resource_type_associations"))
    properties = tuple(PropertyDef(n, s) for n, s in _properties(
        mapping.get("properties"), f"namespace {namespace.namespace}").items())
    objects = tuple(object_def(o) for o in _list(mapping, "objects"))
    tags = tuple(TagDef(tag_name(_mapping(t, "A tag").get("name")))
                 for t in _list(mapping, "tags"))
    _unique([a.name for a in associations], "Resource type")
    _unique([o.name for o in objects], "Object")
    _unique([t.name for t in tags], "Tag")
    return Definition(namespace, associations, properties, objects, tags)


def _list(mapping: Mapping[str, Any], key: str) -> list[Any]:
    value = mapping.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(f"{key} must be a list")
    return value


def with_prefix(found: Definition, prefix: str | None) -> Definition:
    """The definition as a resource type sees it: property names (of the namespace and of
    its objects, and objects' required names) start with the association's ``prefix``."""
    if not prefix:
        return found
    objects = tuple(ObjectDef(o.name, o.description, tuple(prefix + r for r in o.required),
                              {prefix + k: v for k, v in o.properties.items()},
                              o.created_at, o.updated_at) for o in found.objects)
    properties = tuple(PropertyDef(prefix + p.name, p.schema) for p in found.properties)
    return Definition(found.namespace, found.associations, properties, objects, found.tags)


def document(found: Definition) -> dict[str, Any]:
    """The catalogue document of a namespace (what ``definition`` reads back): its fields
    and contents, without times or links; unset fields are left out."""
    ns = found.namespace
    doc: dict[str, Any] = {"namespace": ns.namespace, "display_name": ns.display_name,
                           "description": ns.description, "visibility": ns.visibility,
                           "protected": ns.protected, "owner": ns.owner}
    doc = {key: value for key, value in doc.items() if value is not None}
    if found.associations:
        doc["resource_type_associations"] = [
            {key: value for key, value in (("name", a.name), ("prefix", a.prefix),
                                           ("properties_target", a.properties_target))
             if value is not None} for a in found.associations]
    if found.properties:
        doc["properties"] = {p.name: dict(p.schema) for p in found.properties}
    if found.objects:
        doc["objects"] = [{key: value for key, value in (
            ("name", o.name), ("description", o.description),
            ("required", list(o.required) or None), ("properties", dict(o.properties)))
            if value is not None} for o in found.objects]
    if found.tags:
        doc["tags"] = [{"name": t.name} for t in found.tags]
    return doc
