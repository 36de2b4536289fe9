"""The JSON schemas of the metadata definitions (``/v2/schemas/metadefs/...``); every
metadefs response validates against them."""

from __future__ import annotations

from typing import Any

from glance.domain.metadefs import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_TAG,
    NAMESPACE_VISIBILITIES,
    PROPERTY_TYPES,
)


def _read_only(description: str) -> dict[str, Any]:
    return {"type": "string", "readOnly": True, "description": description}


def _time(what: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "readOnly": True,
            "description": f"Date and time {what} (read-only)"}


_NAME = {"type": "string", "maxLength": MAX_NAME}
_STRINGS = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
_COUNT = {"type": "integer", "minimum": 0}
_KIND = {"type": "string", "enum": list(PROPERTY_TYPES)}

# One property definition: what a value of the property may be.
PROPERTY_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["title", "type"],
    "properties": {
        "name": _NAME,
        "title": {"type": "string", "description": "What a user interface shows"},
        "description": {"type": "string"},
        "type": _KIND,
        "default": {},
        "enum": {"type": "array"},
        "operators": {"type": "array", "items": {"type": "string"},
                      "description": "How values combine, e.g. \"<or>\""},
        "readonly": {"type": "boolean"},
        "confidential": {"type": "boolean"},
        "required": _STRINGS,
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "minLength": _COUNT,
        "maxLength": _COUNT,
        "pattern": {"type": "string", "format": "regex"},
        "items": {"type": "object", "properties": {"type": _KIND, "enum": {"type": "array"}}},
        "minItems": _COUNT,
        "maxItems": _COUNT,
        "uniqueItems": {"type": "boolean"},
        "additionalItems": {"type": "boolean"},
    },
    "additionalProperties": False,
}
PROPERTIES_BY_NAME: dict[str, Any] = {"type": "object", "additionalProperties": PROPERTY_BODY}

PROPERTY_SCHEMA: dict[str, Any] = {
    "name": "property", **PROPERTY_BODY, "required": ["name", "title", "type"]}

PROPERTIES_SCHEMA: dict[str, Any] = {
    "name": "properties",
    "properties": {"properties": PROPERTIES_BY_NAME, "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

OBJECT_SCHEMA: dict[str, Any] = {
    "name": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "required": _STRINGS,
        "properties": PROPERTIES_BY_NAME,
        "created_at": _time("of the object's creation"),
        "updated_at": _time("of the object's last change"),
        "self": _read_only("The object's URL"),
        "schema": _read_only("This schema's URL"),
    },
    "additionalProperties": False,
}

OBJECTS_SCHEMA: dict[str, Any] = {
    "name": "objects",
    "properties": {"objects": {"type": "array", "items": OBJECT_SCHEMA},
                   "schema": {"type": "string"}, "first": {"type": "string"},
                   "next": {"type": "string"}},
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

TAG_SCHEMA: dict[str, Any] = {
    "name": "tag",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": MAX_TAG},
        "created_at": _time("of the tag's creation"),
        "updated_at": _time("of the tag's last change"),
    },
    "additionalProperties": False,
}

TAGS_SCHEMA: dict[str, Any] = {
    "name": "tags",
    "properties": {"tags": {"type": "array", "items": TAG_SCHEMA},
                   "schema": {"type": "string"}, "first": {"type": "string"},
                   "next": {"type": "string"}},
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

RESOURCE_TYPE_SCHEMA: dict[str, Any] = {
    "name": "resource_type_association",
    "required": ["name"],
    "properties": {
        "name": {**_NAME, "description": "The resource type, e.g. OS::Glance::Image"},
        "prefix": {**_NAME, "description": "What the namespace's property names start with "
                                           "on this resource type"},
        "properties_target": {**_NAME, "description": "Where on the resource the "
                                                      "properties go"},
        "created_at": _time("of the association"),
        "updated_at": _time("of the association's last change"),
    },
    "additionalProperties": False,
}

RESOURCE_TYPES_SCHEMA: dict[str, Any] = {
    "name": "resource_type_associations",
    "properties": {"resource_type_associations": {"type": "array",
                                                  "items": RESOURCE_TYPE_SCHEMA},
                   "schema": {"type": "string"}, "first": {"type": "string"},
                   "next": {"type": "string"}},
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

NAMESPACE_SCHEMA: dict[str, Any] = {
    "name": "namespace",
    "required": ["namespace"],
    "properties": {
        "namespace": {**_NAME, "description": "The namespace's unique name"},
        "display_name": {**_NAME, "description": "A friendly name for user interfaces"},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "visibility": {"type": "string", "enum": list(NAMESPACE_VISIBILITIES),
                       "description": "Who sees the namespace"},
        "protected": {"type": "boolean",
                      "description": "If true, the namespace cannot be deleted"},
        "owner": {"type": "string", "maxLength": 255, "description": "The owning project"},
        "created_at": _time("of the namespace's creation"),
        "updated_at": _time("of the namespace's last change"),
        "self": _read_only("The namespace's URL"),
        "schema": _read_only("This schema's URL"),
        "resource_type_associations": {
            "type": "array",
            "items": {"type": "object", "properties": RESOURCE_TYPE_SCHEMA["properties"]}},
        "properties": PROPERTIES_BY_NAME,
        "objects": {"type": "array",
                    "items": {"type": "object", "properties": OBJECT_SCHEMA["properties"]}},
        "tags": {"type": "array",
                 "items": {"type": "object", "properties": TAG_SCHEMA["properties"]}},
    },
    "additionalProperties": False,
}

NAMESPACES_SCHEMA: dict[str, Any] = {
    "name": "namespaces",
    "properties": {"namespaces": {"type": "array", "items": NAMESPACE_SCHEMA},
                   "schema": {"type": "string"}, "first": {"type": "string"},
                   "next": {"type": "string"}},
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

METADEF_SCHEMAS: dict[str, dict[str, Any]] = {
    "metadefs/namespace": NAMESPACE_SCHEMA,
    "metadefs/namespaces": NAMESPACES_SCHEMA,
    "metadefs/object": OBJECT_SCHEMA,
    "metadefs/objects": OBJECTS_SCHEMA,
    "metadefs/property": PROPERTY_SCHEMA,
    "metadefs/properties": PROPERTIES_SCHEMA,
    "metadefs/tag": TAG_SCHEMA,
    "metadefs/tags": TAGS_SCHEMA,
    "metadefs/resource_type": RESOURCE_TYPE_SCHEMA,
    "metadefs/resource_types": RESOURCE_TYPES_SCHEMA,
}
