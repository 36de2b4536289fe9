"""Registry: stores and queries image records. It decides nothing; the service does."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import (Connection, Engine, and_, delete, exists, false, func, insert, not_,
                        or_, select, true, update)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from glance.common import exception
from glance.domain import (ACTIVE, DEACTIVATED, IMPORTING, KILLED, LOCATION_ACTIVE, LOCATION_DELETING,
                           LOCATION_SAVING, QUEUED, SAVING, UNFINISHED_TASK, UPLOADING, Image, ImageQuery,
                           Location, Membership, Task, utcnow)
from glance.registry.engine import WRITE_OPTION
from glance.registry.models import (ImageRow, LocationRow, MemberRow, PropertyRow, TagRow,
                                   TaskRow, WorkerRow)

_IMAGE_COLUMNS: tuple[str, ...] = tuple(
    c.key for c in ImageRow.__table__.columns)  # type: ignore[attr-defined]


_Extras = tuple[dict[str, str], list[str], list[Location]]

# Core INSERTs built once: SQLAlchemy caches their compiled form, so a create is one
# transaction on a plain connection with no per-call statement building or ORM session
_INSERT_IMAGE = insert(ImageRow.__table__)  # type: ignore[arg-type]
_INSERT_PROPERTY = insert(PropertyRow.__table__)  # type: ignore[arg-type]
_INSERT_TAG = insert(TagRow.__table__)  # type: ignore[arg-type]
_INSERT_LOCATION = insert(LocationRow.__table__)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Liveness:
    """Which server processes count as alive: ``me``, and those whose heartbeat is younger
    than ``lease_seconds`` unless known ``dead`` (a process id on this machine that no longer
    runs)."""

    me: str
    lease_seconds: float
    dead: frozenset[str] = frozenset()


def _row_to_image(row: ImageRow, extras: _Extras) -> Image:
    values = {key: getattr(row, key) for key in _IMAGE_COLUMNS}
    return Image(properties=extras[0], tags=extras[1], locations=extras[2], **values)


class Registry:
    """Image records in SQL. Every method is synchronous and runs in its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time; concurrent writers from our thread pool would wait
        # in its busy handler, which sleeps in growing steps. Creates queue on a lock instead.
        self._write_lock: Any = (threading.Lock() if engine.dialect.name == "sqlite"
                                 else contextlib.nullcontext())
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction, committed when the block ends (rolled back on error).

        On SQLite it holds the database's write lock from its first statement; on PostgreSQL
        the rows it must keep stable are locked where read (``_lock_image``). Either way what
        it read stays true until it commits: every check in it is a compare-and-set.
        """
        with self._write_lock, Session(self._writer) as session, session.begin():
            yield session

    @staticmethod
    def _lock_image(session: Session, image_id: str, include_deleted: bool = False) -> ImageRow:
        """The image's row, locked for the rest of the transaction; NotFound if it is gone.

        Write transactions that touch an image lock its row first, so they queue on it.
        """
        row = session.get(ImageRow, image_id, with_for_update=True)
        if row is None or (row.deleted and not include_deleted):
            raise exception.NotFound(f"Image with identifier {image_id} not found")
        return row

    # -- images ---------------------------------------------------------------------------

    def create(self, image: Image) -> Image:
        """Insert ``image``; raise Duplicate if its id exists (even deleted)."""
        values = {key: getattr(image, key) for key in _IMAGE_COLUMNS}
        try:
            with self._write_lock, self._writer.begin() as conn:
                conn.execute(_INSERT_IMAGE, values)
                self._write_properties(conn, image.id, image.properties)
                self._write_tags(conn, image.id, image.tags)
                self._write_locations(conn, image.id, image.locations)
        except IntegrityError:
            raise exception.Duplicate(f"An image with identifier {image.id} already exists")
        return image

    def get(self, image_id: str, include_deleted: bool = False) -> Image:
        """Return the image or raise NotFound."""
        with Session(self.engine) as session:
            row = session.get(ImageRow, image_id)
            if row is None or (row.deleted and not include_deleted):
                raise exception.NotFound(f"Image with identifier {image_id} not found")
            return _row_to_image(row, self._extras(session, [image_id])[image_id])

    def update(self, image_id: str, values: dict[str, Any],
               properties: dict[str, str] | None = None, purge_properties: bool = False,
               remove_properties: Iterable[str] = (),
               expected_status: Sequence[str] | None = None,
               locations: Sequence[Location] | None = None,
               locations_status: str | None = None,
               unless_property: str | None = None, worker: str | None = None,
               tags_added: Sequence[str] = (), tags_removed: Sequence[str] = (),
               tag_quota: int | None = None, property_quota: int | None = None,
               expected_properties: dict[str, str | None] | None = None) -> Image:
        """Update columns and properties atomically.

        With ``expected_status``, the update only happens while the image's status is one of
        those (Conflict otherwise) — the compare-and-set behind every status transition.
        With ``unless_property``, it only happens while the image has no non-empty property
        of that name (Conflict otherwise): a claim that concurrent requests cannot both win;
        with ``expected_properties``, only while those properties have those values (None:
        absent) — a compare-and-set of a read-modify-write.
        A ``tags`` entry in ``values`` replaces the image's tags, ``tags_added`` and
        ``tags_removed`` change only those tags (concurrent changes to other tags survive);
        ``locations`` (when not None) replaces its locations; ``locations_status`` sets the
        status of every location the image has at that moment, recording ``worker`` as the
        process acting on them. ``tag_quota`` and ``property_quota`` bound the counts after
        the change (LimitExceeded, and nothing changes; an image already over a quota may
        still shrink).
        """
        values = dict(values)
        tags = values.pop("tags", None)
        values.setdefault("updated_at", utcnow())
        with self._write() as session:
            stmt = update(ImageRow).where(ImageRow.id == image_id, ImageRow.deleted == false())
            if expected_status is not None:
                stmt = stmt.where(ImageRow.status.in_(list(expected_status)))
            result = session.execute(stmt.values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                row = session.get(ImageRow, image_id)
                if row is None or row.deleted:
                    raise exception.NotFound(f"Image with identifier {image_id} not found")
                raise exception.Conflict(
                    f"Image {image_id} is {row.status}; the operation needs one of: "
                    f"{', '.join(expected_status or ())}")
            if unless_property is not None:
                self._check_unclaimed(session, image_id, unless_property)
            if expected_properties:
                self._check_properties(session, image_id, expected_properties)
            properties_before = self._count(session, PropertyRow, image_id) \
                if property_quota is not None else 0
            tags_before = self._count(session, TagRow, image_id) if tag_quota is not None else 0
            if purge_properties:
                session.execute(delete(PropertyRow).where(PropertyRow.image_id == image_id))
            elif remove_properties:
                session.execute(delete(PropertyRow).where(
                    PropertyRow.image_id == image_id, PropertyRow.name.in_(list(remove_properties))))
            if properties:
                if not purge_properties:
                    session.execute(delete(PropertyRow).where(
                        PropertyRow.image_id == image_id,
                        PropertyRow.name.in_(list(properties))))
                self._write_properties(session, image_id, properties)
            if property_quota is not None:
                self._check_quota(session, PropertyRow, image_id, property_quota,
                                  properties_before, "extra properties")
            if tags is not None:
                session.execute(delete(TagRow).where(TagRow.image_id == image_id))
                self._write_tags(session, image_id, tags)
            if tags_removed:
                session.execute(delete(TagRow).where(TagRow.image_id == image_id,
                                                     TagRow.value.in_(list(tags_removed))))
            if tags_added:
                self._add_tags(session, image_id, tags_added)
            if tag_quota is not None:
                self._check_quota(session, TagRow, image_id, tag_quota, tags_before, "tags")
            if locations is not None:
                session.execute(delete(LocationRow).where(LocationRow.image_id == image_id))
                self._write_locations(session, image_id, locations)
            if locations_status is not None:
                session.execute(update(LocationRow).where(LocationRow.image_id == image_id)
                                .values(status=locations_status, worker=worker,
                                        updated_at=utcnow()))
            row = session.get(ImageRow, image_id)
            assert row is not None
            session.refresh(row)
            return _row_to_image(row, self._extras(session, [image_id])[image_id])

    @staticmethod
    def _count(session: Session, table: type[PropertyRow] | type[TagRow], image_id: str) -> int:
        return int(session.scalar(select(func.count()).select_from(table).where(
            table.image_id == image_id)) or 0)

    def _check_quota(self, session: Session, table: type[PropertyRow] | type[TagRow],
                     image_id: str, quota: int, before: int, what: str) -> None:
        count = self._count(session, table, image_id)
        if quota >= 0 and count > quota and count > before:
            raise exception.LimitExceeded(
                f"An image may have at most {quota} {what} (this change makes {count})")

    @staticmethod
    def _add_tags(session: Session, image_id: str, tags: Iterable[str]) -> None:
        """Insert the tags the image does not have yet (inside a transaction holding the
        image's row lock, so no concurrent insert of the same tag can slip in between)."""
        have = set(session.scalars(select(TagRow.value).where(
            TagRow.image_id == image_id, TagRow.value.in_(list(tags)))))
        new = [tag for tag in dict.fromkeys(tags) if tag not in have]
        if new:
            session.execute(_INSERT_TAG, [{"image_id": image_id, "value": t} for t in new])

    def add_tag(self, image_id: str, tag: str, *, quota: int) -> None:
        """Add one tag (nothing happens if the image has it); LimitExceeded beyond ``quota``."""
        self.update(image_id, {}, tags_added=[tag], tag_quota=quota)

    def remove_tag(self, image_id: str, tag: str) -> None:
        """Remove one tag; NotFound if the image does not have it."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            result = session.execute(delete(TagRow).where(TagRow.image_id == image_id,
                                                          TagRow.value == tag))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise exception.NotFound(f"Tag {tag} not found on image {image_id}")
            row.updated_at = utcnow()

    @staticmethod
    def _check_properties(session: Session, image_id: str,
                          expected: dict[str, str | None]) -> None:
        current = {name: value for name, value in session.execute(
            select(PropertyRow.name, PropertyRow.value).where(
                PropertyRow.image_id == image_id, PropertyRow.name.in_(list(expected))))}
        if any(current.get(name) != value for name, value in expected.items()):
            raise exception.Conflict(f"The properties of image {image_id} changed meanwhile")

    @staticmethod
    def _check_unclaimed(session: Session, image_id: str, name: str) -> None:
        # read after this transaction's UPDATE of the image row: that write lock (row lock on
        # PostgreSQL, database lock on SQLite) orders concurrent claims, and this read sees
        # what an earlier claim committed; a Conflict rolls the UPDATE back
        value = session.scalar(select(PropertyRow.value).where(
            PropertyRow.image_id == image_id, PropertyRow.name == name))
        if value:
            raise exception.Conflict(f"Image {image_id} already has {name} = {value}")

    def list_images(self, query: ImageQuery) -> list[Image]:
        """One page of images matching ``query``, in its sort order."""
        with Session(self.engine) as session:
            rows = list(session.scalars(self.list_statement(session, query)))
            props = self._extras(session, [row.id for row in rows])
            return [_row_to_image(row, props[row.id]) for row in rows]

    def list_statement(self, session: Session, query: ImageQuery) -> Any:
        """The SELECT behind ``list_images`` (also what the index tests EXPLAIN)."""
        stmt = select(ImageRow).where(*self._conditions(session, query))
        for key, direction in _order(query):
            col = getattr(ImageRow, key)
            stmt = stmt.order_by(col.asc().nulls_first() if direction == "asc"
                                 else col.desc().nulls_last())
        return stmt.limit(query.limit)

    def usage(self, owner: str | None, exclude: str | None = None) -> dict[str, int]:
        """Counts and bytes of ``owner``'s live images (everyone's for None), leaving out
        the image ``exclude``."""
        with Session(self.engine) as session:
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
        with Session(self.engine) as session:
            rows = list(session.scalars(select(ImageRow).where(
                ImageRow.status == status, ImageRow.deleted == false())))
            props = self._extras(session, [row.id for row in rows])
            return [_row_to_image(row, props[row.id]) for row in rows]

    # -- locations ------------------------------------------------------------------------

    def add_location(self, image_id: str, location: Location,
                     expected_status: Sequence[str]) -> None:
        """Add a location to an image whose status is one of ``expected_status`` (Conflict
        otherwise, or when the image already has a location in that store)."""
        taken = exception.Conflict(
            f"Image {image_id} already has a location in store {location.store}")
        try:
            with self._write() as session:
                row = session.get(ImageRow, image_id, with_for_update=True)
                if row is None or row.deleted:
                    raise exception.NotFound(f"Image with identifier {image_id} not found")
                if row.status not in expected_status:
                    raise exception.Conflict(
                        f"Image {image_id} is {row.status}; the operation needs one of: "
                        f"{', '.join(expected_status)}")
                if session.scalar(select(LocationRow.id).where(
                        LocationRow.image_id == image_id,
                        LocationRow.store == location.store)) is not None:
                    raise taken
                self._write_locations(session, image_id, [location])
        except IntegrityError:
            raise taken from None

    def set_location_status(self, image_id: str, store: str, status: str,
                            expected_status: str,
                            image_status: Sequence[str] | None = None,
                            key: str | None = None, keep_another: bool = False,
                            worker: str | None = None) -> None:
        """Compare-and-set of one location's status (and ``key``, if given), recording
        ``worker`` as the process acting on it (None once nobody is).

        Conflict when it is not ``expected_status`` or, with ``image_status``, when the
        image's status is not one of those; NotFound when the image or location is gone;
        with ``keep_another``, Forbidden when no other active location would remain.
        """
        with self._write() as session:
            row = session.get(ImageRow, image_id, with_for_update=True)
            if row is None or (row.deleted and image_status is not None):
                raise exception.NotFound(f"Image with identifier {image_id} not found")
            if image_status is not None and row.status not in image_status:
                raise exception.Conflict(f"Image {image_id} is {row.status}; the operation "
                                         f"needs one of: {', '.join(image_status)}")
            stmt = update(LocationRow).where(
                LocationRow.image_id == image_id, LocationRow.store == store,
                LocationRow.status == expected_status)
            if keep_another:
                others = aliased(LocationRow)
                stmt = stmt.where(exists().where(
                    others.image_id == image_id, others.store != store,
                    others.status == "active"))
            values: dict[str, Any] = {"status": status, "worker": worker, "updated_at": utcnow()}
            if key is not None:
                values["key"] = key
            result = session.execute(stmt.values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                current = session.scalar(select(LocationRow.status).where(
                    LocationRow.image_id == image_id, LocationRow.store == store))
                if current is None:
                    raise exception.NotFound(f"Image {image_id} is not stored in store {store}")
                if current == expected_status and keep_another:
                    raise exception.Forbidden(
                        "Cannot delete image data from the only store containing it. "
                        "Consider deleting the image instead.")
                raise exception.Conflict(
                    f"The copy of image {image_id} in store {store} is {current}")

    # A location in ``saving`` or ``deleting`` is held by the process named in its ``worker``:
    # only that process writes or deletes the bytes under (store, key) until it lets go. That
    # is what keeps a late cleanup from deleting bytes a newer write put under the same key.

    def start_write(self, image_id: str, *, store: str, worker: str, from_status: str,
                    to_status: str, values: dict[str, Any] | None = None) -> Image:
        """Begin writing the image's bytes into ``store``: its status ``from_status`` →
        ``to_status`` (with ``values``) and a ``saving`` location held by ``worker``, in one
        step. Conflict if the status differs or the store still holds a copy of the image."""
        try:
            with self._write() as session:
                row = self._lock_image(session, image_id)
                if row.status != from_status:
                    raise exception.Conflict(
                        f"Image {image_id} is {row.status}; the operation needs {from_status}")
                self._write_locations(session, image_id, [
                    Location(store, image_id, LOCATION_SAVING, worker)])
                for key, value in {**(values or {}), "status": to_status,
                                   "updated_at": utcnow()}.items():
                    setattr(row, key, value)
                session.flush()
                return _row_to_image(row, self._extras(session, [image_id])[image_id])
        except IntegrityError:
            raise exception.Conflict(f"Image {image_id} still has a copy in store {store} "
                                     f"being removed; try again later") from None

    def finish_upload(self, image_id: str, *, store: str, worker: str, key: str,
                      values: dict[str, Any]) -> Image:
        """The upload held by ``worker`` is complete: the image (still ``saving``) takes
        ``values`` and its location in ``store`` becomes active under ``key``. NotFound when
        the image was deleted meanwhile; Conflict when the upload is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status != SAVING or not self._release(session, image_id, store, worker,
                                                         LOCATION_SAVING, key=key):
                raise exception.Conflict(
                    f"The upload of image {image_id} was taken over while it ran (the image "
                    f"is {row.status})")
            for name, value in {**values, "updated_at": utcnow()}.items():
                setattr(row, name, value)
            session.flush()
            return _row_to_image(row, self._extras(session, [image_id])[image_id])

    def finish_stage(self, image_id: str, *, store: str, worker: str) -> None:
        """Data staged by ``worker`` is complete: the staging location is forgotten (the
        image stays ``uploading``, ready for import). NotFound when the image was deleted;
        Conflict when the staging is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status != UPLOADING or not self._drop(session, image_id, store, worker):
                raise exception.Conflict(f"The staging of image {image_id} was taken over "
                                         f"while it ran (the image is {row.status})")

    def finish_copy(self, image_id: str, *, store: str, worker: str, key: str) -> None:
        """A copy held by ``worker`` is complete: its location in ``store`` becomes active
        under ``key``. NotFound when the image was deleted; Conflict when it is no longer
        active or deactivated, or the copy is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status not in (ACTIVE, DEACTIVATED) or not self._release(
                    session, image_id, store, worker, LOCATION_SAVING, key=key):
                raise exception.Conflict(f"The copy of image {image_id} to store {store} was "
                                         f"taken over while it ran (the image is {row.status})")

    def abandon_write(self, image_id: str, *, store: str, worker: str, from_status: str,
                      to_status: str, values: dict[str, Any] | None = None) -> bool:
        """A write held by ``worker`` failed and left no bytes: forget its location and move
        the image ``from_status`` → ``to_status`` (with ``values``). False, changing nothing,
        when the location is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id, include_deleted=True)
            if not self._drop(session, image_id, store, worker):
                return False
            if row.status == from_status and not row.deleted:
                for name, value in {**(values or {}), "status": to_status,
                                    "updated_at": utcnow()}.items():
                    setattr(row, name, value)
            return True

    def claim_location(self, image_id: str, store: str, *, worker: str,
                       expected: Location) -> bool:
        """Take over a location to delete its bytes: compare-and-set from ``expected``'s
        status and holder to ``deleting`` held by ``worker``. Whether it was taken."""
        with self._write() as session:
            held = (LocationRow.worker.is_(None) if expected.worker is None
                    else LocationRow.worker == expected.worker)
            result = session.execute(update(LocationRow).where(
                LocationRow.image_id == image_id, LocationRow.store == store,
                LocationRow.status == expected.status, held)
                .values(status=LOCATION_DELETING, worker=worker, updated_at=utcnow()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release_location(self, image_id: str, store: str, *, worker: str) -> None:
        """``worker`` could not delete the bytes of a location it holds: leave it ``deleting``
        held by nobody, for recovery to try again."""
        with self._write() as session:
            session.execute(update(LocationRow).where(
                LocationRow.image_id == image_id, LocationRow.store == store,
                LocationRow.worker == worker).values(worker=None, updated_at=utcnow()))

    def forget_location(self, image_id: str, store: str, *, worker: str) -> bool:
        """``worker`` deleted the bytes of a location it holds: forget the location. Whether
        it still held it."""
        with self._write() as session:
            return self._drop(session, image_id, store, worker)

    @staticmethod
    def _drop(session: Session, image_id: str, store: str, worker: str) -> bool:
        result = session.execute(delete(LocationRow).where(
            LocationRow.image_id == image_id, LocationRow.store == store,
            LocationRow.worker == worker))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def _release(session: Session, image_id: str, store: str, worker: str, status: str,
                 key: str) -> bool:
        """A location held by ``worker`` in ``status`` becomes active under ``key``."""
        result = session.execute(update(LocationRow).where(
            LocationRow.image_id == image_id, LocationRow.store == store,
            LocationRow.worker == worker, LocationRow.status == status)
            .values(status=LOCATION_ACTIVE, key=key, worker=None, updated_at=utcnow()))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # -- recovery: each step decides and acts in one compare-and-set ------------------------

    def _alive(self, column: Any, liveness: Liveness) -> Any:
        """SQL: ``column`` names a live process (decided inside the transaction, so a process
        that started a moment ago counts as live)."""
        since = utcnow() - timedelta(seconds=liveness.lease_seconds)
        beating = and_(column.in_(select(WorkerRow.id).where(WorkerRow.heartbeat_at >= since)),
                       column.not_in(list(liveness.dead)) if liveness.dead else true())
        return or_(column == liveness.me, beating)

    def orphan_locations(self, liveness: Liveness) -> list[tuple[str, Location]]:
        """``(image id, location)`` of the locations being written or deleted by a process
        that is gone (or by nobody), deleted images included."""
        with Session(self.engine) as session:
            return [(row.image_id, Location(row.store, row.key, row.status, row.worker))
                    for row in session.scalars(select(LocationRow).where(
                        LocationRow.status.in_([LOCATION_SAVING, LOCATION_DELETING]),
                        or_(LocationRow.worker.is_(None),
                            not_(self._alive(LocationRow.worker, liveness))))
                        .order_by(LocationRow.id))]

    def claim_orphan_location(self, image_id: str, location: Location, *,
                              liveness: Liveness) -> bool:
        """Take over ``location`` (as read) for deletion by this process, if it is unchanged
        and its holder is still gone. Whether it was taken."""
        with self._write() as session:
            holder = (LocationRow.worker.is_(None) if location.worker is None else and_(
                LocationRow.worker == location.worker,
                not_(self._alive(LocationRow.worker, liveness))))
            result = session.execute(update(LocationRow).where(
                LocationRow.image_id == image_id, LocationRow.store == location.store,
                LocationRow.status == location.status, holder)
                .values(status=LOCATION_DELETING, worker=liveness.me, updated_at=utcnow()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def kill_orphan_upload(self, image_id: str, *, liveness: Liveness) -> bool:
        """``saving`` → ``killed`` if no live process is writing the image's bytes. Whether
        it was killed."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            writing = session.scalar(select(LocationRow.id).where(
                LocationRow.image_id == image_id, LocationRow.status == LOCATION_SAVING,
                self._alive(LocationRow.worker, liveness)))
            if row.status != SAVING or writing is not None:
                return False
            row.status, row.updated_at = KILLED, utcnow()
            return True

    def import_orphaned(self, image_id: str, *, liveness: Liveness) -> bool:
        """Whether the image is ``importing`` with no unfinished task of a live process."""
        with Session(self.engine) as session:
            return self._import_orphaned(session, image_id, liveness)

    def _import_orphaned(self, session: Session, image_id: str, liveness: Liveness) -> bool:
        row = session.get(ImageRow, image_id)
        running = session.scalar(select(TaskRow.id).where(
            TaskRow.image_id == image_id, TaskRow.status.in_(list(UNFINISHED_TASK)),
            self._alive(TaskRow.worker, liveness)))
        return row is not None and not row.deleted and row.status == IMPORTING and \
            running is None

    def requeue_orphan_import(self, image_id: str, *, liveness: Liveness) -> bool:
        """``importing`` → ``queued`` if no live process runs an unfinished task of the image.
        Whether it was requeued."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if not self._import_orphaned(session, image_id, liveness):
                return False
            row.status, row.updated_at = QUEUED, utcnow()
            return True

    def fail_orphan_task(self, task_id: str, message: str, *, liveness: Liveness) -> bool:
        """An unfinished task whose process is gone ends ``failure``. Whether it did."""
        with self._write() as session:
            result = session.execute(update(TaskRow).where(
                TaskRow.id == task_id, TaskRow.status.in_(list(UNFINISHED_TASK)),
                or_(TaskRow.worker.is_(None), not_(self._alive(TaskRow.worker, liveness))))
                .values(status="failure", message=message, updated_at=utcnow()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def locations_in_status(self, status: str) -> list[tuple[str, Location]]:
        """``(image id, location)`` of every location in ``status``, deleted images too (used
        to reconcile after a crash)."""
        with Session(self.engine) as session:
            return [(row.image_id, Location(row.store, row.key, row.status, row.worker))
                    for row in session.scalars(select(LocationRow).where(
                        LocationRow.status == status).order_by(LocationRow.id))]

    def rename_store(self, old: str, new: str) -> int:
        """Record locations in store ``old`` under the name ``new``; how many changed."""
        with self._write() as session:
            taken = select(LocationRow.image_id).where(LocationRow.store == new)
            result = session.execute(update(LocationRow).where(
                LocationRow.store == old, LocationRow.image_id.not_in(taken))
                .values(store=new))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- members --------------------------------------------------------------------------

    def members(self, image_id: str) -> list[Membership]:
        with Session(self.engine) as session:
            rows = session.scalars(select(MemberRow).where(MemberRow.image_id == image_id)
                                   .order_by(MemberRow.member))
            return [self._membership(row) for row in rows]

    def shared_with(self, member_id: str) -> list[Membership]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(MemberRow).join(ImageRow, ImageRow.id == MemberRow.image_id)
                .where(MemberRow.member == member_id, ImageRow.deleted == false())
                .order_by(MemberRow.image_id))
            return [self._membership(row) for row in rows]

    def set_member(self, image_id: str, member_id: str, can_share: bool | None) -> None:
        """Create the membership (can_share default False) or update its can_share."""
        now = utcnow()
        with self._write() as session:
            existing = session.get(MemberRow, (image_id, member_id))
            if existing is None:
                session.add(MemberRow(image_id=image_id, member=member_id,
                                      can_share=bool(can_share), status="pending",
                                      created_at=now, updated_at=now))
            elif can_share is not None:
                existing.can_share = can_share
                existing.updated_at = now

    def replace_members(self, image_id: str, members: dict[str, bool | None]) -> None:
        """Make ``members`` the whole member list (None keeps an existing can_share)."""
        now = utcnow()
        with self._write() as session:
            existing = {row.member: row for row in session.scalars(
                select(MemberRow).where(MemberRow.image_id == image_id))}
            for member_id, old in existing.items():
                if member_id not in members:
                    session.delete(old)
            for member_id, can_share in members.items():
                row = existing.get(member_id)
                if row is None:
                    session.add(MemberRow(image_id=image_id, member=member_id,
                                          can_share=bool(can_share), status="pending",
                                          created_at=now, updated_at=now))
                elif can_share is not None:
                    row.can_share = can_share
                    row.updated_at = now

    def member(self, image_id: str, member_id: str) -> Membership:
        """One membership, or NotFound."""
        with Session(self.engine) as session:
            row = session.get(MemberRow, (image_id, member_id))
            if row is None:
                raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
            return self._membership(row)

    def add_member(self, image_id: str, member_id: str) -> Membership:
        """Create a pending membership; Duplicate if it exists."""
        now = utcnow()
        try:
            with self._write() as session:
                session.add(MemberRow(image_id=image_id, member=member_id, can_share=False,
                                      status="pending", created_at=now, updated_at=now))
        except IntegrityError:
            raise exception.Duplicate(
                f"{member_id} is already a member of image {image_id}") from None
        return self.member(image_id, member_id)

    def set_member_status(self, image_id: str, member_id: str, status: str) -> Membership:
        with self._write() as session:
            row = session.get(MemberRow, (image_id, member_id))
            if row is None:
                raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
            row.status = status
            row.updated_at = utcnow()
        return self.member(image_id, member_id)

    def delete_member(self, image_id: str, member_id: str) -> None:
        with self._write() as session:
            session.execute(delete(MemberRow).where(
                MemberRow.image_id == image_id, MemberRow.member == member_id))

    # -- tasks ----------------------------------------------------------------------------

    def create_task(self, task: Task) -> Task:
        with self._write() as session:
            session.add(TaskRow(id=task.id, image_id=task.image_id, type=task.type,
                                status=task.status, owner=task.owner,
                                input=json.dumps(task.input), message=task.message,
                                worker=task.worker, created_at=task.created_at, updated_at=task.updated_at))
        return task

    def update_task(self, task_id: str, status: str, message: str = "",
                    expected_status: Sequence[str] | None = None) -> bool:
        """Set a task's status (only while it is one of ``expected_status``, if given);
        whether it changed."""
        with self._write() as session:
            stmt = update(TaskRow).where(TaskRow.id == task_id)
            if expected_status is not None:
                stmt = stmt.where(TaskRow.status.in_(list(expected_status)))
            result = session.execute(stmt.values(status=status, message=message,
                                                 updated_at=utcnow()))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def tasks_in_status(self, statuses: Sequence[str]) -> list[Task]:
        """Every task in one of ``statuses`` (used to reconcile after a crash)."""
        with Session(self.engine) as session:
            rows = session.scalars(select(TaskRow).where(TaskRow.status.in_(list(statuses)))
                                   .order_by(TaskRow.created_at, TaskRow.id))
            return [self._task(r) for r in rows]

    def image_tasks(self, image_id: str) -> list[Task]:
        """The image's tasks, newest first."""
        with Session(self.engine) as session:
            rows = session.scalars(select(TaskRow).where(TaskRow.image_id == image_id)
                                   .order_by(TaskRow.created_at.desc(), TaskRow.id))
            return [self._task(r) for r in rows]

    # -- server processes -----------------------------------------------------------------

    def heartbeat(self, worker: str, host: str, pid: int) -> None:
        """Record that the server process ``worker`` is alive now."""
        now = utcnow()
        with self._write() as session:
            changed = session.execute(update(WorkerRow).where(WorkerRow.id == worker)
                                      .values(heartbeat_at=now))
            if not changed.rowcount:  # type: ignore[attr-defined]
                session.add(WorkerRow(id=worker, host=host, pid=pid, started_at=now,
                                      heartbeat_at=now))

    def live_workers(self, lease_seconds: float) -> dict[str, tuple[str, int]]:
        """``{worker: (host, pid)}`` of processes whose heartbeat is younger than
        ``lease_seconds``."""
        since = utcnow() - timedelta(seconds=lease_seconds)
        with Session(self.engine) as session:
            return {row.id: (row.host, row.pid) for row in session.scalars(
                select(WorkerRow).where(WorkerRow.heartbeat_at >= since))}

    def forget_worker(self, worker: str) -> None:
        """A process stopping cleanly; also drops heartbeats stale for a day."""
        with self._write() as session:
            session.execute(delete(WorkerRow).where(
                (WorkerRow.id == worker)
                | (WorkerRow.heartbeat_at < utcnow() - timedelta(days=1))))

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _task(r: TaskRow) -> Task:
        return Task(id=r.id, image_id=r.image_id, type=r.type, status=r.status, owner=r.owner,
                    input=json.loads(r.input), message=r.message, worker=r.worker,
                    created_at=r.created_at, updated_at=r.updated_at)

    @staticmethod
    def _membership(row: MemberRow) -> Membership:
        return Membership(image_id=row.image_id, member_id=row.member, can_share=row.can_share,
                          status=row.status, created_at=row.created_at,
                          updated_at=row.updated_at)

    @staticmethod
    def _write_properties(db: Session | Connection, image_id: str,
                          properties: dict[str, str]) -> None:
        if properties:
            db.execute(_INSERT_PROPERTY, [
                {"image_id": image_id, "name": k, "value": v} for k, v in properties.items()])

    @staticmethod
    def _write_tags(db: Session | Connection, image_id: str, tags: list[str]) -> None:
        if tags:
            db.execute(_INSERT_TAG, [{"image_id": image_id, "value": t}
                                     for t in dict.fromkeys(tags)])

    @staticmethod
    def _write_locations(db: Session | Connection, image_id: str,
                         locations: Iterable[Location]) -> None:
        now = utcnow()
        rows = [{"image_id": image_id, "store": loc.store, "key": loc.key,
                 "status": loc.status, "worker": loc.worker, "created_at": now,
                 "updated_at": now}
                for loc in locations]
        if rows:
            db.execute(_INSERT_LOCATION, rows)

    @staticmethod
    def _extras(session: Session, ids: list[str]) -> dict[str, _Extras]:
        """Properties, tags and locations of each image in ``ids`` (three queries for the
        lot)."""
        result: dict[str, _Extras] = {i: ({}, [], []) for i in ids}
        if ids:
            for image_id, name, value in session.execute(
                    select(PropertyRow.image_id, PropertyRow.name, PropertyRow.value)
                    .where(PropertyRow.image_id.in_(ids))):
                result[image_id][0][name] = value
            for image_id, value in session.execute(
                    select(TagRow.image_id, TagRow.value).where(TagRow.image_id.in_(ids))
                    .order_by(TagRow.image_id, TagRow.value)):
                result[image_id][1].append(value)
            for image_id, store, key, status, worker in session.execute(
                    select(LocationRow.image_id, LocationRow.store, LocationRow.key,
                           LocationRow.status, LocationRow.worker)
                    .where(LocationRow.image_id.in_(ids))
                    .order_by(LocationRow.image_id, LocationRow.id)):
                result[image_id][2].append(Location(store, key, status, worker))
        return result

    def _conditions(self, session: Session, query: ImageQuery) -> list[Any]:
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
        if not query.viewer_is_admin and query.member_status is not None:
            conds.append(self._v2_visible(query))
        elif not query.viewer_is_admin:
            visible: list[Any] = [ImageRow.visibility.in_(["public", "community"])]
            if query.viewer is not None:
                visible.append(ImageRow.owner == query.viewer)
                visible.append(exists().where(MemberRow.image_id == ImageRow.id,
                                              MemberRow.member == query.viewer))
            conds.append(or_(*visible))
        if query.marker is not None:
            conds.append(self._after_marker(session, query))
        return conds

    @staticmethod
    def _v2_visible(query: ImageQuery) -> Any:
        """v2 rules: public, community when listed by name or owned, own, and shared images
        whose membership has ``member_status``."""
        viewer = query.viewer
        visible: list[Any] = [ImageRow.visibility == "public"]
        if query.visibility == "community":
            visible.append(ImageRow.visibility == "community")
        if viewer is not None:
            visible.append(ImageRow.owner == viewer)
            member = [MemberRow.image_id == ImageRow.id, MemberRow.member == viewer]
            if query.member_status != "all":
                member.append(MemberRow.status == query.member_status)
            visible.append(and_(ImageRow.visibility == "shared", exists().where(*member)))
        return or_(*visible)

    def _after_marker(self, session: Session, query: ImageQuery) -> Any:
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
