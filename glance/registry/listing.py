"""Queries over many images: list pages (filters, sort, keyset pages), usage, and the one
visibility rule, as SQL, that lists and single reads share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from glance.common import exception
from glance.domain import ANY_MEMBERSHIP, KILLED, Image, ImageQuery
from glance.registry.core import RegistryCore
from glance.registry.models import ImageRow, MemberRow, PropertyRow, TagRow
from glance.registry.rows import images_of


def visible_to(viewer: str | None, *, membership: str = ANY_MEMBERSHIP,
               community: bool = True) -> Any:
    """SQL: the images a viewer who is not an admin may see — public ones, community ones
    (unless ``community`` is False), its own, and shared ones it is a member of (with a
    membership in status ``membership``, unless ANY_MEMBERSHIP)."""
    visible: list[Any] = [ImageRow.visibility == "public"]
    if community:
        visible.append(ImageRow.visibility == "community")
    if viewer is not None:
        visible.append(ImageRow.owner == viewer)
        member = [MemberRow.image_id == ImageRow.id, MemberRow.member == viewer]
        if membership != ANY_MEMBERSHIP:
            member.append(MemberRow.status == membership)
        visible.append(and_(ImageRow.visibility == "shared", exists().where(*member)))
    return or_(*visible)


class ImageListing(RegistryCore):
    """Lists and counts of images."""

    def list_images(self, query: ImageQuery) -> list[Image]:
        """One page of images matching ``query``, in its sort order."""
        with self._read() as session:
            return images_of(session, list(session.scalars(
                self.list_statement(session, query))))

    def list_statement(self, session: Session, query: ImageQuery) -> Any:
        """The SELECT behind ``list_images`` (also what the index tests EXPLAIN)."""
        stmt = select(ImageRow).where(*_conditions(session, query))
        for key, direction in _order(query):
            col = getattr(ImageRow, key)
            stmt = stmt.order_by(col.asc().nulls_first() if direction == "asc"
                                 else col.desc().nulls_last())
        return stmt.limit(query.limit)

    def usage(self, owner: str | None, exclude: str | None = None) -> dict[str, int]:
        """Counts and bytes of ``owner``'s live images (everyone's for None), leaving out
        the image ``exclude``."""
        with self._read() as session:
            conds = [ImageRow.deleted == false(), ImageRow.status != KILLED]
            if owner is not None:
                conds.append(ImageRow.owner == owner)
            if exclude is not None:
                conds.append(ImageRow.id != exclude)
            count, size = session.execute(select(
                func.count(ImageRow.id), func.coalesce(func.sum(ImageRow.size), 0))
                .where(*conds)).one()
            uploading = session.scalar(select(func.count(ImageRow.id)).where(
                *conds, ImageRow.status.in_(["saving", "uploading", "importing"])))
            return {"count": int(count or 0), "size": int(size or 0),
                    "uploading": int(uploading or 0)}

    def ids_in_status(self, status: str) -> list[Image]:
        """Every non-deleted image in ``status`` (used to reconcile after a crash)."""
        with self._read() as session:
            return images_of(session, list(session.scalars(select(ImageRow).where(
                ImageRow.status == status, ImageRow.deleted == false()))))


def _conditions(session: Session, query: ImageQuery) -> list[Any]:
    conds: list[Any] = []
    if query.changes_since is not None:
        conds.append(ImageRow.updated_at > query.changes_since)
    if query.changes_since is None or not query.viewer_is_admin:
        conds.append(ImageRow.deleted == false())  # only admins see deleted images
    if "status" not in query.exact:
        conds.append(ImageRow.status != KILLED)
    for column, value in query.exact.items():
        conds.append(getattr(ImageRow, column) == value)
    for column, values in query.any_of.items():
        conds.append(getattr(ImageRow, column).in_(values))
    for column, op, moment in query.times:
        conds.append(_compare(getattr(ImageRow, column), op, moment))
    for tag in query.tags:
        conds.append(exists().where(TagRow.image_id == ImageRow.id, TagRow.value == tag))
    if query.os_hidden is not None:
        conds.append(ImageRow.os_hidden == query.os_hidden)
    if query.visibility is not None:
        conds.append(ImageRow.visibility == query.visibility)
    if query.size_min is not None:
        conds.append(ImageRow.size >= query.size_min)
    if query.size_max is not None:
        conds.append(ImageRow.size <= query.size_max)
    for name, value in query.properties.items():
        conds.append(exists().where(PropertyRow.image_id == ImageRow.id,
                                    PropertyRow.name == name, PropertyRow.value == value))
    if query.is_public is True:
        conds.append(ImageRow.visibility == "public")
    elif query.is_public is False:
        conds.append(ImageRow.visibility != "public")
    if not query.viewer_is_admin:
        conds.append(visible_to(query.viewer, membership=query.membership,
                                community=query.community))
    if query.marker is not None:
        conds.append(_after_marker(session, query))
    return conds


def _after_marker(session: Session, query: ImageQuery) -> Any:
    """Rows after the marker in the (multi-key) sort order: keyset pagination."""
    marker = session.get(ImageRow, query.marker)
    if marker is None:
        raise exception.BadRequest(f"Invalid marker {query.marker}: image not found")
    alternatives: list[Any] = []
    equal_so_far: list[Any] = []
    for key, direction in _order(query):
        col, value = getattr(ImageRow, key), getattr(marker, key)
        alternatives.append(and_(*equal_so_far, _after(col, direction, value)))
        equal_so_far.append(col.is_(None) if value is None else col == value)
    return or_(*alternatives)


def _order(query: ImageQuery) -> list[tuple[str, str]]:
    """The query's sort keys, ending with ``id`` so the order is total."""
    order = query.order
    if all(key != "id" for key, _ in order):
        order.append(("id", order[-1][1]))
    return order


def _after(col: Any, direction: str, value: Any) -> Any:
    """Rows strictly after ``value`` in ``col`` (asc: nulls first; desc: nulls last)."""
    if direction == "asc":
        return col.is_not(None) if value is None else col > value
    return false() if value is None else or_(col < value, col.is_(None))


def _compare(col: Any, op: str, value: datetime) -> Any:
    """``col op value``; a whole-second value stands for that whole second (v2 shows
    times without fractions, so ``gt:<shown created_at>`` excludes the image itself)."""
    if value.microsecond:
        return {"gt": col > value, "gte": col >= value, "lt": col < value, "lte": col <= value,
                "eq": col == value, "neq": col != value}[op]
    end = value + timedelta(seconds=1)
    return {"gt": col >= end, "gte": col >= value, "lt": col < value, "lte": col < end,
            "eq": and_(col >= value, col < end), "neq": or_(col < value, col >= end)}[op]
