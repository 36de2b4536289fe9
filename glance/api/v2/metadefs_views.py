"""Metadata definitions as v2 writes them: namespaces, associations, objects, properties,
tags and resource types, with ``self`` and ``schema`` links; unset fields are left out."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from glance.api.v2.views import timestamp
from glance.domain.metadefs import (
    Association,
    Definition,
    Namespace,
    ObjectDef,
    PropertyDef,
    ResourceType,
    TagDef,
)

NAMESPACES_PATH = "/v2/metadefs/namespaces"


def _path(*names: str) -> str:
    return NAMESPACES_PATH + "".join("/" + quote(name, safe=":@") for name in names)


def namespace_path(name: str) -> str:
    return _path(name)


def _times(record: Any) -> dict[str, Any]:
    return {"created_at": timestamp(record.created_at),
            "updated_at": timestamp(record.updated_at)}


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def namespace_view(namespace: Namespace) -> dict[str, Any]:
    return _set({
        "namespace": namespace.namespace, "display_name": namespace.display_name,
        "description": namespace.description, "visibility": namespace.visibility,
        "protected": namespace.protected, "owner": namespace.owner, **_times(namespace),
        "self": namespace_path(namespace.namespace),
        "schema": "/v2/schemas/metadefs/namespace"})


def definition_view(found: Definition, detail: bool = True) -> dict[str, Any]:
    """A namespace with its associations (and, with ``detail``, its properties, objects
    and tags); empty parts are left out."""
    view = namespace_view(found.namespace)
    if found.associations:
        view["resource_type_associations"] = [association_view(a)
                                              for a in found.associations]
    if detail:
        name = found.namespace.namespace
        if found.properties:
            view["properties"] = {p.name: dict(p.schema) for p in found.properties}
        if found.objects:
            view["objects"] = [object_view(name, o) for o in found.objects]
        if found.tags:
            view["tags"] = [{"name": t.name} for t in found.tags]
    return view


def association_view(association: Association) -> dict[str, Any]:
    return _set({"name": association.name, "prefix": association.prefix,
                 "properties_target": association.properties_target, **_times(association)})


def object_view(namespace: str, found: ObjectDef) -> dict[str, Any]:
    return _set({"name": found.name, "description": found.description,
                 "required": list(found.required),
                 "properties": {k: dict(v) for k, v in found.properties.items()},
                 **_times(found), "self": _path(namespace, "objects", found.name),
                 "schema": "/v2/schemas/metadefs/object"})


def property_view(found: PropertyDef) -> dict[str, Any]:
    return {"name": found.name, **found.schema}


def tag_view(found: TagDef) -> dict[str, Any]:
    return _set({"name": found.name, **_times(found)})


def resource_type_view(found: ResourceType) -> dict[str, Any]:
    return _set({"name": found.name, **_times(found)})
