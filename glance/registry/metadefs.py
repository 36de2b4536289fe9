"""Metadata definitions in SQL: namespaces with their resource type associations, objects,
properties and tags, and the resource types. It decides nothing: who may see or change a
namespace is the service's."""

from __future__ import annotations

from typing import Any, Iterator, cast

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from glance.common import exception
from glance.domain import utcnow
from glance.domain.metadefs import (
    Association,
    Definition,
    ItemPage,
    Namespace,
    NamespaceQuery,
    ObjectDef,
    PropertyDef,
    ResourceType,
    TagDef,
)
from glance.registry.core import RegistryCore
from glance.registry.metadef_rows import (
    ITEM_ROWS,
    ITEM_WORDS,
    Item,
    ItemT,
    association_of,
    item_of,
    item_values,
    namespace_of,
    namespace_values,
    new_item_row,
)
from glance.registry.models import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefResourceTypeRow,
)
from glance.registry.rows import changed

NS = MetadefNamespaceRow
ASSOC = MetadefAssociationRow
RT = MetadefResourceTypeRow


def _not_found(name: str) -> exception.NotFound:
    return exception.NotFound(f"Metadata definition namespace {name} was not found")


class Metadefs(RegistryCore):
    """Namespaces of definitions and what they hold. Every method is one transaction."""

    # -- namespaces -------------------------------------------------------------------------

    @staticmethod
    def _namespace_row(session: Session, name: str, lock: bool = False) -> NS:
        stmt = select(NS).where(NS.namespace == name)
        row = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise _not_found(name)
        return row

    def namespace(self, *, name: str) -> Namespace:
        """The namespace's own fields; NotFound when there is none of that name."""
        with self._read() as session:
            return namespace_of(self._namespace_row(session, name))

    def list_namespaces(self, *, query: NamespaceQuery) -> list[Definition]:
        """One page of the namespaces ``query`` selects, each with its associations."""
        with self._read() as session:
            stmt = select(NS)
            if not query.viewer_is_admin:
                stmt = stmt.where(or_(NS.visibility == "public", NS.owner == query.viewer)
                                  if query.viewer is not None else NS.visibility == "public")
            if query.visibility is not None:
                stmt = stmt.where(NS.visibility == query.visibility)
            if query.resource_types:
                stmt = stmt.where(NS.id.in_(
                    select(ASSOC.namespace_id).join(RT, RT.id == ASSOC.resource_type_id)
                    .where(RT.name.in_(query.resource_types))))
            column: Any = getattr(NS, query.sort_key)
            if query.sort_key == "display_name":
                column = func.coalesce(NS.display_name, "")
            descending = query.sort_dir == "desc"
            if query.marker is not None:
                marker = self._namespace_row(session, query.marker)
                value = session.scalar(select(column).where(NS.id == marker.id))
                before = (column < value) if descending else (column > value)
                after_id = (NS.id < marker.id) if descending else (NS.id > marker.id)
                stmt = stmt.where(or_(before, and_(column == value, after_id)))
            order = (column.desc(), NS.id.desc()) if descending else (column.asc(), NS.id.asc())
            rows = list(session.scalars(stmt.order_by(*order).limit(query.limit)))
            associations = self._associations(session, [row.id for row in rows])
            return [Definition(namespace_of(row), tuple(associations.get(row.id, [])))
                    for row in rows]

    @staticmethod
    def _associations(session: Session, ids: list[int]) -> dict[int, list[Association]]:
        found: dict[int, list[Association]] = {}
        if ids:
            for row, name in session.execute(
                    select(ASSOC, RT.name).join(RT, RT.id == ASSOC.resource_type_id)
                    .where(ASSOC.namespace_id.in_(ids)).order_by(RT.name)):
                found.setdefault(row.namespace_id, []).append(association_of(name, row))
        return found

    def definition(self, *, name: str) -> Definition:
        """The namespace with everything in it."""
        with self._read() as session:
            row = self._namespace_row(session, name)
            return self._definition(session, row)

    def _definition(self, session: Session, row: NS) -> Definition:
        def items(kind: type[ItemT]) -> tuple[ItemT, ...]:
            return tuple(cast(ItemT, item_of(r)) for r in self._item_rows(session, row.id,
                                                                           kind))

        return Definition(namespace_of(row),
                          tuple(self._associations(session, [row.id]).get(row.id, [])),
                          items(PropertyDef), items(ObjectDef), items(TagDef))

    @staticmethod
    def _item_rows(session: Session, namespace_id: int, kind: type[Any],
                   page: ItemPage | None = None) -> Iterator[Any]:
        """The rows of one kind of item of a namespace, in ``page``'s order (by name)."""
        row_class: Any = ITEM_ROWS[kind]
        page = page or ItemPage()
        stmt = select(row_class).where(row_class.namespace_id == namespace_id)
        column = getattr(row_class, page.sort_key)
        descending = page.sort_dir == "desc"
        if page.marker is not None:
            marker = session.scalars(stmt.where(row_class.name == page.marker)).first()
            if marker is None:
                raise exception.NotFound(f"Marker {page.marker}: no such "
                                         f"{ITEM_WORDS[kind]} in this namespace")
            value = getattr(marker, page.sort_key)
            stmt = stmt.where(or_(
                column < value if descending else column > value,
                and_(column == value,
                     row_class.id < marker.id if descending else row_class.id > marker.id)))
        order = ((column.desc(), row_class.id.desc()) if descending
                 else (column.asc(), row_class.id.asc()))
        stmt = stmt.order_by(*order)
        if page.limit is not None:
            stmt = stmt.limit(page.limit)
        return iter(session.scalars(stmt))

    def create_definition(self, *, definition: Definition) -> Definition:
        """Record a new namespace and its contents; Duplicate when the name is taken."""
        try:
            with self._write() as session:
                now = utcnow()
                row = NS(created_at=now, updated_at=now, **namespace_values(
                    definition.namespace))
                session.add(row)
                session.flush()
                self._fill(session, row.id, definition, now)
        except IntegrityError:
            raise exception.Duplicate(f"Metadata definition namespace "
                                      f"{definition.namespace.namespace} already exists") from None
        return self.definition(name=definition.namespace.namespace)

    def _fill(self, session: Session, namespace_id: int, definition: Definition,
              now: Any, replace: bool = True) -> None:
        """Add the definition's associations and items to a namespace; with ``replace``
        false, those of the same name already there are overwritten (a merge)."""
        for association in definition.associations:
            type_id = self._resource_type_id(session, association.name, now)
            existing = session.get(ASSOC, (namespace_id, type_id))
            if existing is None:
                session.add(ASSOC(namespace_id=namespace_id, resource_type_id=type_id,
                                  prefix=association.prefix, created_at=now, updated_at=now,
                                  properties_target=association.properties_target))
            else:
                existing.prefix = association.prefix
                existing.properties_target = association.properties_target
                existing.updated_at = now
        items: list[Item] = [*definition.properties, *definition.objects, *definition.tags]
        for item in items:
            row_class = ITEM_ROWS[type(item)]
            old: Any = None if replace else session.scalars(select(row_class).where(
                row_class.namespace_id == namespace_id, row_class.name == item.name)).first()
            if old is None:
                session.add(new_item_row(namespace_id, item, now))
            else:
                for key, value in item_values(item).items():
                    setattr(old, key, value)
                old.updated_at = now

    @staticmethod
    def _resource_type_id(session: Session, name: str, now: Any) -> int:
        """The resource type's id, recorded now when it is new."""
        type_id = session.scalar(select(RT.id).where(RT.name == name))
        if type_id is None:
            row = RT(name=name, protected=False, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            type_id = row.id
        return int(type_id)

    def update_namespace(self, *, name: str, namespace: Namespace) -> Namespace:
        """Set a namespace's fields (renaming it if ``namespace.namespace`` differs);
        Duplicate when the new name is taken."""
        try:
            with self._write() as session:
                row = self._namespace_row(session, name, lock=True)
                for key, value in namespace_values(namespace).items():
                    setattr(row, key, value)
                row.updated_at = utcnow()
                session.flush()
                return namespace_of(row)
        except IntegrityError:
            raise exception.Duplicate(f"Metadata definition namespace {namespace.namespace} "
                                      f"already exists") from None

    def delete_namespace(self, *, name: str) -> None:
        """Delete a namespace and everything in it."""
        with self._write() as session:
            row = self._namespace_row(session, name, lock=True)
            self._clear(session, row.id, (ObjectDef, PropertyDef, TagDef), associations=True)
            session.execute(delete(NS).where(NS.id == row.id))

    @staticmethod
    def _clear(session: Session, namespace_id: int, kinds: tuple[type[Any], ...],
               associations: bool = False) -> None:
        for kind in kinds:
            row_class = ITEM_ROWS[kind]
            session.execute(delete(row_class).where(row_class.namespace_id == namespace_id))
        if associations:
            session.execute(delete(ASSOC).where(ASSOC.namespace_id == namespace_id))

    def load_definition(self, *, definition: Definition, merge: bool) -> str:
        """Put a catalogue document in: a new namespace is created; an existing one is
        replaced (its fields and contents become the document's) or, with ``merge``, gets
        the document's fields and what the document holds, keeping the rest. Says which
        ("created", "replaced", "merged")."""
        name = definition.namespace.namespace
        with self._write() as session:
            now = utcnow()
            row = session.scalars(select(NS).where(NS.namespace == name)
                                  .with_for_update()).first()
            if row is None:
                row = NS(created_at=now, updated_at=now,
                         **namespace_values(definition.namespace))
                session.add(row)
                session.flush()
                self._fill(session, row.id, definition, now)
                return "created"
            for key, value in namespace_values(definition.namespace).items():
                setattr(row, key, value)
            row.updated_at = now
            if not merge:
                self._clear(session, row.id, (ObjectDef, PropertyDef, TagDef),
                            associations=True)
                session.flush()
            self._fill(session, row.id, definition, now, replace=not merge)
            return "merged" if merge else "replaced"

    # -- objects, properties and tags ---------------------------------------------------------

    def items(self, *, namespace: str, kind: type[ItemT],
              page: ItemPage | None = None) -> list[ItemT]:
        """The namespace's objects, properties or tags (``kind``): all by name, or ``page``."""
        with self._read() as session:
            row = self._namespace_row(session, namespace)
            return [cast(ItemT, item_of(r))
                    for r in self._item_rows(session, row.id, kind, page)]

    @staticmethod
    def _item_row(session: Session, namespace: NS, kind: type[Any], name: str) -> Any:
        row_class = ITEM_ROWS[kind]
        row = session.scalars(select(row_class).where(row_class.namespace_id == namespace.id,
                                                      row_class.name == name)).first()
        if row is None:
            raise exception.NotFound(f"Metadata definition {ITEM_WORDS[kind]} {name} was not "
                                     f"found in namespace {namespace.namespace}")
        return row

    def item(self, *, namespace: str, kind: type[ItemT], name: str) -> ItemT:
        with self._read() as session:
            row = self._namespace_row(session, namespace)
            return cast(ItemT, item_of(self._item_row(session, row, kind, name)))

    def add_items(self, *, namespace: str, kind: type[ItemT], items: list[ItemT],
                  replace_all: bool = False) -> list[ItemT]:
        """Add items of one ``kind`` (after removing every one of that kind, with
        ``replace_all``); Duplicate when a name is taken."""
        try:
            with self._write() as session:
                row = self._namespace_row(session, namespace, lock=True)
                now = utcnow()
                if replace_all:
                    self._clear(session, row.id, (kind,))
                added = [new_item_row(row.id, item, now) for item in items]
                session.add_all(added)
                session.flush()
                return [cast(ItemT, item_of(r)) for r in added]
        except IntegrityError:
            names = ", ".join(i.name for i in items)
            raise exception.Duplicate(f"A metadata definition named {names} already exists "
                                      f"in namespace {namespace}") from None

    def replace_item(self, *, namespace: str, name: str, item: ItemT) -> ItemT:
        """Overwrite an item (renaming it when ``item.name`` differs); Duplicate when the
        new name is taken."""
        kind = type(item)
        try:
            with self._write() as session:
                ns_row = self._namespace_row(session, namespace, lock=True)
                row = self._item_row(session, ns_row, kind, name)
                for key, value in item_values(item).items():
                    setattr(row, key, value)
                row.updated_at = utcnow()
                session.flush()
                return cast(ItemT, item_of(row))
        except IntegrityError:
            raise exception.Duplicate(f"A metadata definition {ITEM_WORDS[kind]} named "
                                      f"{item.name} already exists in namespace "
                                      f"{namespace}") from None

    def delete_item(self, *, namespace: str, kind: type[Any], name: str) -> None:
        with self._write() as session:
            ns_row = self._namespace_row(session, namespace, lock=True)
            session.delete(self._item_row(session, ns_row, kind, name))

    def clear_items(self, *, namespace: str, kind: type[Any]) -> None:
        """Delete every object, property or tag (``kind``) of the namespace."""
        with self._write() as session:
            row = self._namespace_row(session, namespace, lock=True)
            self._clear(session, row.id, (kind,))

    # -- resource types -----------------------------------------------------------------------

    def resource_types(self) -> list[ResourceType]:
        """Every resource type, by name."""
        with self._read() as session:
            return [ResourceType(r.name, r.created_at, r.updated_at)
                    for r in session.scalars(select(RT).order_by(RT.name))]

    def associations(self, *, namespace: str) -> list[Association]:
        with self._read() as session:
            row = self._namespace_row(session, namespace)
            return self._associations(session, [row.id]).get(row.id, [])

    def associate(self, *, namespace: str, association: Association) -> Association:
        """Apply the namespace to a resource type (recorded when new); Duplicate when it
        already applies."""
        try:
            with self._write() as session:
                row = self._namespace_row(session, namespace, lock=True)
                now = utcnow()
                type_id = self._resource_type_id(session, association.name, now)
                new = ASSOC(namespace_id=row.id, resource_type_id=type_id, created_at=now,
                            updated_at=now, prefix=association.prefix,
                            properties_target=association.properties_target)
                session.add(new)
                session.flush()
                return association_of(association.name, new)
        except IntegrityError:
            raise exception.Duplicate(f"Namespace {namespace} is already associated with "
                                      f"resource type {association.name}") from None

    def dissociate(self, *, namespace: str, resource_type: str) -> None:
        """NotFound when the namespace does not apply to ``resource_type``."""
        with self._write() as session:
            row = self._namespace_row(session, namespace, lock=True)
            gone = session.execute(delete(ASSOC).where(
                ASSOC.namespace_id == row.id, ASSOC.resource_type_id.in_(
                    select(RT.id).where(RT.name == resource_type))))
            if not changed(gone):
                raise exception.NotFound(f"Namespace {namespace} is not associated with "
                                         f"resource type {resource_type}")

