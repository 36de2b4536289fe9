"""Metadata definitions: who sees and changes which namespace.

An admin sees and changes everything. Anyone else sees the public namespaces and those its
project owns, and changes only its own (404 for a namespace it cannot see, 403 for one it
sees but does not own); as with images, only an admin makes a namespace public or gives it
to another owner. A protected namespace and what it holds cannot be deleted (403)
until it is unprotected; it can still be changed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from glance.common import exception
from glance.context import RequestContext
from glance.domain.metadefs import (
    Association,
    Definition,
    ItemPage,
    ItemT,
    Namespace,
    NamespaceQuery,
    PropertyDef,
    ResourceType,
    with_prefix,
)
from glance.service.core import Core


def _sees(ctx: RequestContext, namespace: Namespace) -> bool:
    return ctx.is_admin or namespace.visibility == "public" or (
        ctx.owner is not None and namespace.owner == ctx.owner)


class Metadefs:
    """Namespaces of definitions, their objects, properties, tags and resource types."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- access -----------------------------------------------------------------------------

    async def _visible(self, ctx: RequestContext, name: str) -> Namespace:
        """The namespace if the caller sees it, else NotFound."""
        found = await self.core.db(self.core.registry.namespace, name=name)
        if not _sees(ctx, found):
            raise exception.NotFound(f"Metadata definition namespace {name} was not found")
        return found

    async def _mutable(self, ctx: RequestContext, name: str) -> Namespace:
        """The namespace if the caller may change it (its owner or an admin)."""
        found = await self._visible(ctx, name)
        if not ctx.is_admin and (ctx.owner is None or found.owner != ctx.owner):
            raise exception.Forbidden(
                f"Only the owner of namespace {name} or an administrator may change it")
        return found

    async def _deletable(self, ctx: RequestContext, name: str, what: str) -> Namespace:
        """The namespace if the caller may delete ``what`` of it: 403 while protected."""
        found = await self._mutable(ctx, name)
        if found.protected:
            raise exception.Forbidden(f"Namespace {name} is protected: {what} cannot be "
                                      f"deleted")
        return found

    def _owner(self, ctx: RequestContext, wanted: str | None, current: str | None) -> str | None:
        """The owner a create or update records: only an admin gives it away."""
        if wanted is None:
            return current
        if wanted != current and not ctx.is_admin:
            raise exception.Forbidden("Only an administrator may set a namespace's owner")
        return wanted

    @staticmethod
    def _publish(ctx: RequestContext, wanted: str, current: str | None) -> None:
        """403 when a non-admin would make a namespace public."""
        if wanted == "public" and current != "public" and not ctx.is_admin:
            raise exception.Forbidden("Only an administrator may make a namespace public")

    # -- namespaces -------------------------------------------------------------------------

    async def list_namespaces(self, ctx: RequestContext, query: NamespaceQuery
                              ) -> list[Definition]:
        """One page of the namespaces the caller sees, each with its associations."""
        query.viewer = ctx.owner
        query.viewer_is_admin = ctx.is_admin
        if query.marker is not None:
            await self._visible(ctx, query.marker)
        return await self.core.db(self.core.registry.list_namespaces, query=query)

    async def show(self, ctx: RequestContext, name: str,
                   resource_type: str | None = None) -> Definition:
        """The namespace with its contents; with ``resource_type``, property names carry
        that resource type's prefix."""
        await self._visible(ctx, name)
        found = await self.core.db(self.core.registry.definition, name=name)
        if resource_type is None:
            return found
        prefix = next((a.prefix for a in found.associations if a.name == resource_type), None)
        return with_prefix(found, prefix)

    async def create(self, ctx: RequestContext, definition: Definition) -> Definition:
        """A new namespace (owned by the caller's project unless an admin says otherwise)
        with its contents; Duplicate when its name is taken."""
        owner = self._owner(ctx, definition.namespace.owner, ctx.owner)
        self._publish(ctx, definition.namespace.visibility, None)
        namespace = dataclasses.replace(definition.namespace, owner=owner)
        return await self.core.db(self.core.registry.create_definition,
                                  definition=dataclasses.replace(definition,
                                                                 namespace=namespace))

    async def update(self, ctx: RequestContext, name: str, fields: Namespace) -> Namespace:
        """Replace a namespace's fields (a new name renames it)."""
        current = await self._mutable(ctx, name)
        owner = self._owner(ctx, fields.owner, current.owner)
        self._publish(ctx, fields.visibility, current.visibility)
        return await self.core.db(self.core.registry.update_namespace, name=name,
                                  namespace=dataclasses.replace(fields, owner=owner))

    async def delete(self, ctx: RequestContext, name: str) -> None:
        await self._deletable(ctx, name, "it")
        await self.core.db(self.core.registry.delete_namespace, name=name)

    async def clear(self, ctx: RequestContext, name: str, kind: type[Any]) -> None:
        """Delete every object, property or tag (``kind``) of a namespace."""
        await self._deletable(ctx, name, "its definitions")
        await self.core.db(self.core.registry.clear_items, namespace=name, kind=kind)

    # -- objects, properties, tags ----------------------------------------------------------

    async def items(self, ctx: RequestContext, name: str, kind: type[ItemT],
                    page: ItemPage | None = None) -> list[ItemT]:
        await self._visible(ctx, name)
        return await self.core.db(self.core.registry.items, namespace=name, kind=kind,
                                  page=page)

    async def item(self, ctx: RequestContext, name: str, kind: type[ItemT],
                   item_name: str) -> ItemT:
        await self._visible(ctx, name)
        return await self.core.db(self.core.registry.item, namespace=name, kind=kind,
                                  name=item_name)

    async def prefixed_property(self, ctx: RequestContext, name: str, property_name: str,
                                resource_type: str) -> PropertyDef:
        """A property named as ``resource_type`` sees it (with its prefix)."""
        associations = await self.associations(ctx, name)
        prefix = next((a.prefix for a in associations if a.name == resource_type), None) or ""
        if not property_name.startswith(prefix):
            raise exception.NotFound(f"Property {property_name} does not carry the prefix "
                                     f"{prefix} of resource type {resource_type}")
        found = await self.item(ctx, name, PropertyDef, property_name[len(prefix):])
        return PropertyDef(property_name, found.schema)

    async def add(self, ctx: RequestContext, name: str, item: ItemT) -> ItemT:
        """A new object, property or tag; Duplicate when its name is taken."""
        await self._mutable(ctx, name)
        added = await self.core.db(self.core.registry.add_items, namespace=name,
                                   kind=type(item), items=[item])
        return added[0]

    async def add_many(self, ctx: RequestContext, name: str, kind: type[ItemT],
                       items: list[ItemT], append: bool) -> list[ItemT]:
        """Several new items of one kind, replacing all of that kind unless ``append``."""
        await self._mutable(ctx, name)
        return await self.core.db(self.core.registry.add_items, namespace=name, kind=kind,
                                  items=items, replace_all=not append)

    async def replace(self, ctx: RequestContext, name: str, item_name: str,
                      item: ItemT) -> ItemT:
        """Overwrite an item (renaming it when the new one has another name)."""
        await self._mutable(ctx, name)
        return await self.core.db(self.core.registry.replace_item, namespace=name,
                                  name=item_name, item=item)

    async def remove(self, ctx: RequestContext, name: str, kind: type[Any],
                     item_name: str) -> None:
        await self._deletable(ctx, name, "its definitions")
        await self.core.db(self.core.registry.delete_item, namespace=name, kind=kind,
                           name=item_name)

    # -- resource types ---------------------------------------------------------------------

    async def resource_types(self) -> list[ResourceType]:
        return await self.core.db(self.core.registry.resource_types)

    async def associations(self, ctx: RequestContext, name: str) -> list[Association]:
        await self._visible(ctx, name)
        return await self.core.db(self.core.registry.associations, namespace=name)

    async def associate(self, ctx: RequestContext, name: str,
                        association: Association) -> Association:
        await self._mutable(ctx, name)
        return await self.core.db(self.core.registry.associate, namespace=name,
                                  association=association)

    async def dissociate(self, ctx: RequestContext, name: str, resource_type: str) -> None:
        await self._deletable(ctx, name, "its resource type associations")
        await self.core.db(self.core.registry.dissociate, namespace=name,
                           resource_type=resource_type)
