"""Who holds an image's bytes: locations (one copy per writable store; any number of URLs in
the read-only http store) and the ownership protocol of
every write — start, finish, abandon — and of every deletion of a copy.

A location in ``saving`` or ``deleting`` is held by the process named in its ``worker``:
only that process writes or deletes the bytes under (store, key) until it lets go. That is
what keeps a late cleanup from deleting bytes a newer write put under the same key.
"""

from __future__ import annotations

from typing import Any, Collection, Mapping

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from glance.common import exception
from glance.domain import (
    ACTIVE,
    HAS_DATA,
    LOCATION_ACTIVE,
    LOCATION_DELETING,
    LOCATION_SAVING,
    SAVING,
    UPLOADING,
    Image,
    Location,
    utcnow,
)
from glance.registry.core import RegistryCore
from glance.registry.models import LocationRow
from glance.registry.rows import changed, insert_locations, location_of, meta_json


class Writes(RegistryCore):
    """Locations and the writes and deletions of an image's bytes."""

    def add_location(self, image_id: str, location: Location, *,
                     image_status: Collection[str]) -> None:
        """Add a location to an image whose status is one of ``image_status`` (Conflict
        otherwise, or when the image already has a location in that store)."""
        taken = exception.Conflict(
            f"Image {image_id} already has a location in store {location.store}")
        try:
            with self._write() as session:
                row = self._lock_image(session, image_id)
                if row.status not in image_status:
                    raise exception.Conflict(
                        f"Image {image_id} is {row.status}; the operation needs one of: "
                        f"{', '.join(image_status)}")
                if _in_store(session, image_id, location.store):
                    raise taken
                insert_locations(session, image_id, [location])
        except IntegrityError:
            raise taken from None

    def add_url_location(self, image_id: str, location: Location, *,
                         from_status: Collection[str], to_status: str,
                         values: Mapping[str, Any], expected: Mapping[str, Any]) -> Image:
        """Add an active location whose key is unique among the image's locations in its
        store (a URL), in one step with the image's status ``from_status`` → ``to_status``
        and ``values``, compare-and-set on ``expected`` (column → value as the caller read
        it). Conflict when the status or an expected value differs, or the URL is there."""
        try:
            with self._write() as session:
                row = self._lock_image(session, image_id)
                self._compare(row, expected)
                self._move(row, from_=from_status, to=to_status, values=values)
                insert_locations(session, image_id, [location])
                return self._record(session, row)
        except IntegrityError:
            raise exception.Conflict(f"Image {image_id} already has the location "
                                     f"{location.key}") from None

    def set_location_metadata(self, image_id: str, locations: Collection[Location]) -> Image:
        """Record the metadata of each of ``locations`` (found by store and key among the
        image's active locations); Conflict, changing nothing, when one is not there."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            for location in locations:
                result = session.execute(update(LocationRow).where(
                    LocationRow.image_id == image_id, LocationRow.store == location.store,
                    LocationRow.key == location.key, LocationRow.status == LOCATION_ACTIVE)
                    .values(meta=meta_json(location.metadata), updated_at=utcnow()))
                if changed(result) != 1:
                    raise exception.Conflict(f"Image {image_id} has no location "
                                             f"{location.key} in store {location.store}")
            return self._record(session, row)

    def start_write(self, image_id: str, *, store: str, worker: str, from_status: str,
                    to_status: str, values: Mapping[str, Any] | None = None) -> Image:
        """Begin writing the image's bytes into ``store``: its status ``from_status`` →
        ``to_status`` (with ``values``) and a ``saving`` location held by ``worker``, in one
        step. Conflict if the status differs or the store still holds a copy of the image."""
        taken = exception.Conflict(f"Image {image_id} still has a copy in store {store} "
                                   f"being removed; try again later")
        try:
            with self._write() as session:
                row = self._lock_image(session, image_id)
                self._move(row, from_=[from_status], to=to_status, values=values)
                if _in_store(session, image_id, store):
                    raise taken
                insert_locations(session, image_id,
                                 [Location(store, image_id, LOCATION_SAVING, worker)])
                return self._record(session, row)
        except IntegrityError:
            raise taken from None

    def finish_upload(self, image_id: str, *, store: str, worker: str, key: str,
                      values: Mapping[str, Any]) -> Image:
        """The upload held by ``worker`` is complete: the image goes ``saving`` → ``active``
        with ``values``, and its location in ``store`` becomes active under ``key``. NotFound
        when the image was deleted meanwhile; Conflict when the upload is no longer
        ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status != SAVING or not _release(session, image_id, store, worker, key):
                raise exception.Conflict(
                    f"The upload of image {image_id} was taken over while it ran (the image "
                    f"is {row.status})")
            self._move(row, from_=[SAVING], to=ACTIVE, values=values)
            return self._record(session, row)

    def finish_stage(self, image_id: str, *, store: str, worker: str) -> None:
        """Data staged by ``worker`` is complete: the staging location is forgotten (the
        image stays ``uploading``, ready for import). NotFound when the image was deleted;
        Conflict when the staging is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status != UPLOADING or not _drop(session, image_id, store, worker):
                raise exception.Conflict(f"The staging of image {image_id} was taken over "
                                         f"while it ran (the image is {row.status})")

    def finish_copy(self, image_id: str, *, store: str, worker: str, key: str) -> None:
        """A copy held by ``worker`` is complete: its location in ``store`` becomes active
        under ``key``. NotFound when the image was deleted; Conflict when it is no longer
        active or deactivated, or the copy is no longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status not in HAS_DATA or not _release(session, image_id, store, worker,
                                                          key):
                raise exception.Conflict(f"The copy of image {image_id} to store {store} was "
                                         f"taken over while it ran (the image is {row.status})")

    def abandon_write(self, image_id: str, *, store: str, worker: str, from_status: str,
                      to_status: str, values: Mapping[str, Any] | None = None,
                      leftovers: bool = False) -> bool:
        """A write held by ``worker`` failed: forget its location (with ``leftovers``, the
        store could not remove what it wrote yet: the location stays ``deleting``, held by
        nobody, for recovery to clean up) and move the image ``from_status`` →
        ``to_status`` (with ``values``). False, changing nothing, when the location is no
        longer ``worker``'s."""
        with self._write() as session:
            row = self._lock_image(session, image_id, include_deleted=True)
            if not _let_go(session, image_id, store, worker, leftovers):
                return False
            if row.status == from_status and not row.deleted:
                self._move(row, from_=[from_status], to=to_status, values=values)
            return True

    def hold_copy_for_deletion(self, image_id: str, *, store: str, worker: str,
                               key: str | None = None) -> None:
        """Take the active copy in ``store`` (under ``key``, if given: a URL) of an active
        image for ``worker`` to delete: NotFound when there is none, Conflict unless the
        image is active, Forbidden when it is the image's last active copy."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            if row.status != ACTIVE:
                raise exception.Conflict(f"Image {image_id} is {row.status}; the operation "
                                         f"needs one of: {ACTIVE}")
            this = [LocationRow.image_id == image_id, LocationRow.store == store]
            if key is not None:
                this.append(LocationRow.key == key)
            others = aliased(LocationRow)
            result = session.execute(update(LocationRow).where(
                *this, LocationRow.status == LOCATION_ACTIVE,
                exists().where(others.image_id == image_id, others.id != LocationRow.id,
                               others.status == LOCATION_ACTIVE))
                .values(status=LOCATION_DELETING, worker=worker, updated_at=utcnow()))
            if changed(result) != 1:
                current = session.scalar(select(LocationRow.status).where(*this).limit(1))
                if current is None:
                    raise exception.NotFound(f"Image {image_id} is not stored in store {store}")
                if current == LOCATION_ACTIVE:
                    raise exception.Forbidden(
                        "Cannot delete image data from the only store containing it. "
                        "Consider deleting the image instead.")
                raise exception.Conflict(
                    f"The copy of image {image_id} in store {store} is {current}")

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
            return bool(changed(result))

    def release_location(self, image_id: str, store: str, *, worker: str) -> None:
        """``worker`` could not delete the bytes of a location it holds: leave it ``deleting``
        held by nobody, for recovery to try again."""
        with self._write() as session:
            session.execute(update(LocationRow).where(
                LocationRow.image_id == image_id, LocationRow.store == store,
                LocationRow.worker == worker).values(worker=None, updated_at=utcnow()))

    def forget_location(self, image_id: str, store: str, *, worker: str,
                        leftovers: bool = False) -> bool:
        """``worker`` deleted the bytes of a location it holds: forget the location (with
        ``leftovers``, some bytes could not be deleted yet: leave it to recovery, as
        ``abandon_write`` does). Whether it still held it."""
        with self._write() as session:
            return _let_go(session, image_id, store, worker, leftovers)

    def locations_in_status(self, status: str) -> list[tuple[str, Location]]:
        """``(image id, location)`` of every location in ``status``, deleted images too."""
        with self._read() as session:
            return [(row.image_id, location_of(row)) for row in session.scalars(
                select(LocationRow).where(LocationRow.status == status)
                .order_by(LocationRow.id))]

    def rename_store(self, old: str, new: str) -> int:
        """Record locations in store ``old`` under the name ``new``; how many changed."""
        with self._write() as session:
            taken = select(LocationRow.image_id).where(LocationRow.store == new)
            result = session.execute(update(LocationRow).where(
                LocationRow.store == old, LocationRow.image_id.not_in(taken))
                .values(store=new))
            return changed(result)


def _in_store(session: Session, image_id: str, store: str) -> bool:
    """Whether the image has a location (in any status) in ``store``."""
    return session.scalar(select(LocationRow.id).where(
        LocationRow.image_id == image_id, LocationRow.store == store).limit(1)) is not None


def _drop(session: Session, image_id: str, store: str, worker: str) -> bool:
    result = session.execute(delete(LocationRow).where(
        LocationRow.image_id == image_id, LocationRow.store == store,
        LocationRow.worker == worker))
    return bool(changed(result))


def _let_go(session: Session, image_id: str, store: str, worker: str, leftovers: bool) -> bool:
    """Forget a location ``worker`` holds, or (``leftovers``) hand it to recovery."""
    if not leftovers:
        return _drop(session, image_id, store, worker)
    result = session.execute(update(LocationRow).where(
        LocationRow.image_id == image_id, LocationRow.store == store,
        LocationRow.worker == worker)
        .values(status=LOCATION_DELETING, worker=None, updated_at=utcnow()))
    return bool(changed(result))


def _release(session: Session, image_id: str, store: str, worker: str, key: str) -> bool:
    """A ``saving`` location held by ``worker`` becomes active under ``key``."""
    result = session.execute(update(LocationRow).where(
        LocationRow.image_id == image_id, LocationRow.store == store,
        LocationRow.worker == worker, LocationRow.status == LOCATION_SAVING)
        .values(status=LOCATION_ACTIVE, key=key, worker=None, updated_at=utcnow()))
    return bool(changed(result))
