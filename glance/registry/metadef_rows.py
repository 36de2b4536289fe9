"""Rows ⇄ records of the metadata definitions: namespaces, associations, and the three kinds
of items a namespace holds (objects, properties, tags), each in its own table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Union

from glance.domain.metadefs import (
    Association,
    Item,
    ItemT,
    Namespace,
    ObjectDef,
    PropertyDef,
    TagDef,
)
from glance.registry.models import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefObjectRow,
    MetadefPropertyRow,
    MetadefTagRow,
)

__all__ = ["Item", "ItemT"]

ItemRow = Union[MetadefObjectRow, MetadefPropertyRow, MetadefTagRow]

ITEM_ROWS: dict[type[Any], type[ItemRow]] = {
    ObjectDef: MetadefObjectRow, PropertyDef: MetadefPropertyRow, TagDef: MetadefTagRow}
ITEM_WORDS: dict[type[Any], str] = {ObjectDef: "object", PropertyDef: "property",
                                    TagDef: "tag"}


def namespace_of(row: MetadefNamespaceRow) -> Namespace:
    return Namespace(namespace=row.namespace, display_name=row.display_name,
                     description=row.description, visibility=row.visibility,
                     protected=row.protected, owner=row.owner, created_at=row.created_at,
                     updated_at=row.updated_at)


def namespace_values(namespace: Namespace) -> dict[str, Any]:
    """The columns a namespace's fields set (not its id or times)."""
    return {"namespace": namespace.namespace, "display_name": namespace.display_name,
            "description": namespace.description, "visibility": namespace.visibility,
            "protected": namespace.protected, "owner": namespace.owner}


def association_of(name: str, row: MetadefAssociationRow) -> Association:
    return Association(name=name, prefix=row.prefix, properties_target=row.properties_target,
                       created_at=row.created_at, updated_at=row.updated_at)


def item_of(row: ItemRow) -> Item:
    if isinstance(row, MetadefObjectRow):
        return ObjectDef(name=row.name, description=row.description,
                         required=tuple(json.loads(row.required)),
                         properties=json.loads(row.properties), created_at=row.created_at,
                         updated_at=row.updated_at)
    if isinstance(row, MetadefPropertyRow):
        return PropertyDef(name=row.name, schema=json.loads(row.json_schema))
    return TagDef(name=row.name, created_at=row.created_at, updated_at=row.updated_at)


def item_values(item: Item) -> dict[str, Any]:
    """The columns an item sets (its name and content; not its namespace or times)."""
    if isinstance(item, ObjectDef):
        return {"name": item.name, "description": item.description,
                "required": json.dumps(list(item.required)),
                "properties": json.dumps(dict(item.properties))}
    if isinstance(item, PropertyDef):
        return {"name": item.name, "json_schema": json.dumps(dict(item.schema))}
    return {"name": item.name}


def new_item_row(namespace_id: int, item: Item, now: datetime) -> ItemRow:
    row_class = ITEM_ROWS[type(item)]
    return row_class(namespace_id=namespace_id, created_at=now, updated_at=now,
                     **item_values(item))
