"""Image records, one intention per method: create, read, change status, change metadata,
delete, and the property compare-and-sets that copy-image claims and progress use."""

from __future__ import annotations

from typing import Any, Collection, Iterable, Mapping, Sequence

from sqlalchemy import delete, false, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from glance.common import exception
from glance.domain import DELETED, LOCATION_DELETING, QUEUED, Image, Location, utcnow
from glance.registry.core import RegistryCore
from glance.registry.listing import visible_to
from glance.registry.models import ImageRow, LocationRow, PropertyRow, TagRow
from glance.registry.rows import (
    INSERT_IMAGE,
    changed,
    image_of,
    image_values,
    insert_locations,
    insert_properties,
    insert_tags,
    load_extras,
)


class ImageRecords(RegistryCore):
    """Create, read and change image records."""

    def create(self, image: Image) -> Image:
        """Insert ``image``; raise Duplicate if its id exists (even deleted)."""
        self.create_many([image])
        return image

    def create_many(self, images: Sequence[Image]) -> None:
        """Insert ``images`` in one transaction (all or none); Duplicate if an id exists."""
        try:
            # a plain connection and cached Core inserts: no per-call statement building
            with self._write_connection() as conn:
                rows = [image_values(image) for image in images]
                conn.execute(INSERT_IMAGE, rows[0] if len(rows) == 1 else rows)
                for image in images:
                    insert_properties(conn, image.id, image.properties)
                    insert_tags(conn, image.id, image.tags)
                    insert_locations(conn, image.id, image.locations)
        except IntegrityError:
            ids = ", ".join(image.id for image in images)
            raise exception.Duplicate(
                f"An image with identifier {ids} already exists") from None

    def refresh_statistics(self) -> None:
        """Let the database's planner learn the tables' sizes anew (after bulk inserts)."""
        with self._write_connection() as conn:
            conn.exec_driver_sql("ANALYZE")

    def get(self, image_id: str, include_deleted: bool = False) -> Image:
        """Return the image or raise NotFound."""
        with self._read() as session:
            row = session.get(ImageRow, image_id)
            if row is None or (row.deleted and not include_deleted):
                raise exception.NotFound(f"Image with identifier {image_id} not found")
            return image_of(row, load_extras(session, [image_id])[image_id])

    def get_visible(self, image_id: str, viewer: str | None) -> Image:
        """The image if ``viewer`` (a project; not an admin) may see it, else NotFound."""
        with self._read() as session:
            row = session.scalar(select(ImageRow).where(
                ImageRow.id == image_id, ImageRow.deleted == false(), visible_to(viewer)))
            if row is None:
                raise exception.NotFound(f"Image with identifier {image_id} not found")
            return image_of(row, load_extras(session, [image_id])[image_id])

    def transition(self, image_id: str, *, from_: Collection[str], to: str,
                   values: Mapping[str, Any] | None = None,
                   locations: Sequence[Location] | None = None) -> Image:
        """Status ``from_`` → ``to`` (Conflict otherwise), setting ``values``; with
        ``locations``, those become the image's locations in the same step."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            self._move(row, from_=from_, to=to, values=values)
            if locations is not None:
                session.execute(delete(LocationRow).where(LocationRow.image_id == image_id))
                insert_locations(session, image_id, locations)
            return self._record(session, row)

    def fill_values(self, image_id: str, *, values: Mapping[str, Any],
                    expected: Mapping[str, Any]) -> Image:
        """Set ``values`` (columns; the status stays), compare-and-set on ``expected``
        (column → value as the caller read it): Conflict when one changed."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            self._compare(row, expected)
            self._move(row, from_=[row.status], to=row.status, values=values)
            return self._record(session, row)

    def requeue(self, image_id: str, *, from_: str) -> Image:
        """Back to ``queued`` with no data: from ``from_`` (Conflict otherwise), every
        location forgotten."""
        return self.transition(image_id, from_=[from_], to=QUEUED, locations=[])

    def mark_deleted(self, image_id: str, *, worker: str | None,
                     from_: str | None = None) -> Image:
        """Delete the record (from ``from_``, if given; Conflict otherwise) and hold every
        location it has at that moment for ``worker`` to delete its bytes."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            self._move(row, from_=[from_ or row.status], to=DELETED,
                       values={"deleted": True, "deleted_at": utcnow()})
            session.execute(update(LocationRow).where(LocationRow.image_id == image_id)
                            .values(status=LOCATION_DELETING, worker=worker,
                                    updated_at=utcnow()))
            return self._record(session, row)

    def change_metadata(self, image_id: str, *, fields: Mapping[str, Any] | None = None,
                        set_properties: Mapping[str, str] | None = None,
                        remove_properties: Iterable[str] = (), purge_properties: bool = False,
                        add_tags: Sequence[str] = (), remove_tags: Sequence[str] = (),
                        tag_quota: int | None = None,
                        property_quota: int | None = None) -> Image:
        """Change only what is named, in one transaction (concurrent changes to other
        fields, properties and tags survive): ``fields`` (never the status), properties set,
        removed or (``purge_properties``) replaced, tags added and removed. ``tag_quota``
        and ``property_quota`` bound the counts after the change (LimitExceeded, nothing
        changes; an image already over a quota may still shrink)."""
        if fields and "status" in fields:
            raise ValueError("a status changes only through transition()")
        with self._write() as session:
            row = self._lock_image(session, image_id)
            props_before = _count(session, PropertyRow, image_id) if property_quota is not None \
                else 0
            tags_before = _count(session, TagRow, image_id) if tag_quota is not None else 0
            for name, value in {**(fields or {}), "updated_at": utcnow()}.items():
                setattr(row, name, value)
            self._write_properties(session, image_id, set_properties or {}, remove_properties,
                                   purge_properties)
            if property_quota is not None:
                _check_quota(session, PropertyRow, image_id, property_quota, props_before,
                             "extra properties")
            if remove_tags:
                session.execute(delete(TagRow).where(TagRow.image_id == image_id,
                                                     TagRow.value.in_(list(remove_tags))))
            if add_tags:
                _add_tags(session, image_id, add_tags)
            if tag_quota is not None:
                _check_quota(session, TagRow, image_id, tag_quota, tags_before, "tags")
            return self._record(session, row)

    @staticmethod
    def _write_properties(session: Session, image_id: str, new: Mapping[str, str],
                          removed: Iterable[str], purge: bool) -> None:
        gone = list(removed)
        if purge:
            session.execute(delete(PropertyRow).where(PropertyRow.image_id == image_id))
        elif gone or new:
            session.execute(delete(PropertyRow).where(
                PropertyRow.image_id == image_id, PropertyRow.name.in_([*gone, *new])))
        insert_properties(session, image_id, dict(new))

    def claim_property(self, image_id: str, *, name: str, properties: Mapping[str, str],
                       image_status: Collection[str] | None = None) -> Image:
        """Set ``properties`` only while the image has no non-empty ``name`` property (and,
        if given, its status is one of ``image_status``): a claim that concurrent requests
        cannot both win (Conflict for the losers)."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if image_status is not None and row.status not in image_status:
                raise exception.Conflict(f"Image {image_id} is {row.status}; the operation "
                                         f"needs one of: {', '.join(image_status)}")
            value = session.scalar(select(PropertyRow.value).where(
                PropertyRow.image_id == image_id, PropertyRow.name == name))
            if value:
                raise exception.Conflict(f"Image {image_id} already has {name} = {value}")
            row.updated_at = utcnow()
            self._write_properties(session, image_id, properties, (), False)
            return self._record(session, row)

    def swap_properties(self, image_id: str, *, expected: Mapping[str, str | None],
                        new: Mapping[str, str]) -> Image:
        """Compare-and-set: set ``new`` only while the properties named in ``expected`` have
        those values (None: absent); Conflict otherwise."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            current = {n: v for n, v in session.execute(
                select(PropertyRow.name, PropertyRow.value).where(
                    PropertyRow.image_id == image_id, PropertyRow.name.in_(list(expected))))}
            if any(current.get(n) != v for n, v in expected.items()):
                raise exception.Conflict(f"The properties of image {image_id} changed meanwhile")
            row.updated_at = utcnow()
            self._write_properties(session, image_id, new, (), False)
            return self._record(session, row)

    def add_tag(self, image_id: str, tag: str, *, quota: int) -> None:
        """Add one tag (nothing happens if the image has it); LimitExceeded beyond ``quota``."""
        self.change_metadata(image_id, add_tags=[tag], tag_quota=quota)

    def remove_tag(self, image_id: str, tag: str) -> None:
        """Remove one tag; NotFound if the image does not have it."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            result = session.execute(delete(TagRow).where(TagRow.image_id == image_id,
                                                          TagRow.value == tag))
            if changed(result) != 1:
                raise exception.NotFound(f"Tag {tag} not found on image {image_id}")
            row.updated_at = utcnow()


def _count(session: Session, table: type[PropertyRow] | type[TagRow], image_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(
        table.image_id == image_id)) or 0)


def _check_quota(session: Session, table: type[PropertyRow] | type[TagRow], image_id: str,
                 quota: int, before: int, what: str) -> None:
    count = _count(session, table, image_id)
    if quota >= 0 and count > quota and count > before:
        raise exception.LimitExceeded(
            f"An image may have at most {quota} {what} (this change makes {count})")


def _add_tags(session: Session, image_id: str, tags: Iterable[str]) -> None:
    """Insert the tags the image does not have yet (inside a transaction holding the image's
    row lock, so no concurrent insert of the same tag can slip in between)."""
    have = set(session.scalars(select(TagRow.value).where(
        TagRow.image_id == image_id, TagRow.value.in_(list(tags)))))
    insert_tags(session, image_id, [tag for tag in tags if tag not in have])
