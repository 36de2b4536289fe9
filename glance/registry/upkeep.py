"""Upkeep of the catalogue: which keys the records name in a store (orphans), and delayed
delete — an image deleted into ``pending_delete`` keeps its bytes until the scrubber takes
it, after ``scrub_time``. The state lives here, so a scrubber resumes after a restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, true, update

from glance.domain import DELETED, LOCATION_DELETING, PENDING_DELETE, Image, utcnow
from glance.registry.core import RegistryCore
from glance.registry.models import ImageRow, LocationRow


class Upkeep(RegistryCore):
    """Orphans and delayed delete."""

    def recorded_keys(self, store: str) -> set[str]:
        """Every key a location names in ``store``, whatever its status or its image's
        (a copy being written is recorded before its first byte)."""
        with self._read() as session:
            return set(session.scalars(select(LocationRow.key).where(LocationRow.store == store)))

    def mark_pending_delete(self, image_id: str, *, from_: str) -> Image:
        """Delete the record (from ``from_``; Conflict otherwise) into ``pending_delete``:
        hidden as deleted, its locations and bytes kept for the scrubber."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            self._move(row, from_=[from_], to=PENDING_DELETE,
                       values={"deleted": True, "deleted_at": utcnow()})
            return self._record(session, row)

    def due_for_scrub(self, deleted_before: datetime) -> list[str]:
        """Ids of the images pending delete since before ``deleted_before``, oldest first."""
        with self._read() as session:
            return list(session.scalars(
                select(ImageRow.id).where(ImageRow.status == PENDING_DELETE,
                                          ImageRow.deleted == true(),
                                          ImageRow.deleted_at < deleted_before)
                .order_by(ImageRow.deleted_at, ImageRow.id)))

    def hold_for_scrub(self, image_id: str, *, worker: str) -> Image:
        """pending_delete → deleted, every location held by ``worker`` for deleting its
        bytes (compare-and-set: of several scrubbers, one wins; Conflict for the others)."""
        with self._write() as session:
            row = self._lock_image(session, image_id, include_deleted=True)
            self._move(row, from_=[PENDING_DELETE], to=DELETED)
            session.execute(update(LocationRow).where(LocationRow.image_id == image_id)
                            .values(status=LOCATION_DELETING, worker=worker,
                                    updated_at=utcnow()))
            return self._record(session, row)
