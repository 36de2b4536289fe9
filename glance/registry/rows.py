"""Rows ⇄ records: reading an image with its properties, tags and locations, and the
inserts (built once: SQLAlchemy caches their compiled form) that write them."""

from __future__ import annotations

import json
from typing import Any, Iterable, cast

from sqlalchemy import Connection, CursorResult, Result, insert, select
from sqlalchemy.orm import Session

from glance.domain import Image, Location, Membership, Task, utcnow
from glance.registry.models import ImageRow, LocationRow, MemberRow, PropertyRow, TagRow, TaskRow

IMAGE_COLUMNS: tuple[str, ...] = tuple(c.key for c in ImageRow.__table__.columns)

Extras = tuple[dict[str, str], list[str], list[Location]]

INSERT_IMAGE = insert(ImageRow)
INSERT_PROPERTY = insert(PropertyRow)
INSERT_TAG = insert(TagRow)
INSERT_LOCATION = insert(LocationRow)


def image_of(row: ImageRow, extras: Extras) -> Image:
    values = {key: getattr(row, key) for key in IMAGE_COLUMNS}
    return Image(properties=extras[0], tags=extras[1], locations=extras[2], **values)


def image_values(image: Image) -> dict[str, Any]:
    """The ``images`` columns of ``image``."""
    return {key: getattr(image, key) for key in IMAGE_COLUMNS}


def load_extras(session: Session, ids: list[str]) -> dict[str, Extras]:
    """Properties, tags and locations of each image in ``ids`` (three queries for the lot)."""
    result: dict[str, Extras] = {i: ({}, [], []) for i in ids}
    if ids:
        for image_id, name, value in session.execute(
                select(PropertyRow.image_id, PropertyRow.name, PropertyRow.value)
                .where(PropertyRow.image_id.in_(ids))):
            result[image_id][0][name] = value
        for image_id, value in session.execute(
                select(TagRow.image_id, TagRow.value).where(TagRow.image_id.in_(ids))
                .order_by(TagRow.image_id, TagRow.value)):
            result[image_id][1].append(value)
        for image_id, store, key, status, worker, meta in session.execute(
                select(LocationRow.image_id, LocationRow.store, LocationRow.key,
                       LocationRow.status, LocationRow.worker, LocationRow.meta)
                .where(LocationRow.image_id.in_(ids))
                .order_by(LocationRow.image_id, LocationRow.id)):
            result[image_id][2].append(Location(store, key, status, worker,
                                                json.loads(meta) if meta else {}))
    return result


def images_of(session: Session, rows: list[ImageRow]) -> list[Image]:
    """The records of ``rows``, with their properties, tags and locations."""
    extras = load_extras(session, [row.id for row in rows])
    return [image_of(row, extras[row.id]) for row in rows]


def insert_properties(db: Session | Connection, image_id: str,
                      properties: dict[str, str]) -> None:
    if properties:
        db.execute(INSERT_PROPERTY, [
            {"image_id": image_id, "name": k, "value": v} for k, v in properties.items()])


def insert_tags(db: Session | Connection, image_id: str, tags: Iterable[str]) -> None:
    rows = [{"image_id": image_id, "value": t} for t in dict.fromkeys(tags)]
    if rows:
        db.execute(INSERT_TAG, rows)


def insert_locations(db: Session | Connection, image_id: str,
                     locations: Iterable[Location]) -> None:
    now = utcnow()
    rows = [{"image_id": image_id, "store": loc.store, "key": loc.key, "status": loc.status,
             "worker": loc.worker, "meta": meta_json(loc.metadata), "created_at": now,
             "updated_at": now}
            for loc in locations]
    if rows:
        db.execute(INSERT_LOCATION, rows)


def meta_json(metadata: dict[str, Any]) -> str | None:
    """A location's metadata as stored (None: none)."""
    return json.dumps(metadata, sort_keys=True) if metadata else None


def location_of(row: LocationRow) -> Location:
    return Location(row.store, row.key, row.status, row.worker,
                    json.loads(row.meta) if row.meta else {})


def task_of(r: TaskRow) -> Task:
    return Task(id=r.id, image_id=r.image_id, type=r.type, status=r.status, owner=r.owner,
                input=json.loads(r.input), message=r.message, worker=r.worker,
                request_id=r.request_id, user_id=r.user_id,
                created_at=r.created_at, updated_at=r.updated_at)


def membership_of(row: MemberRow) -> Membership:
    return Membership(image_id=row.image_id, member_id=row.member, can_share=row.can_share,
                      status=row.status, created_at=row.created_at, updated_at=row.updated_at)


def changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], result).rowcount
