"""Server processes sharing the registry: heartbeats, who counts as alive, and the
compare-and-sets with which recovery takes over what a gone process left half done — each
deciding and acting in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Mapping

from sqlalchemy import and_, delete, not_, or_, select, true, update
from sqlalchemy.orm import Session

from glance.domain import (
    IMPORTING,
    LOCATION_DELETING,
    LOCATION_SAVING,
    QUEUED,
    SAVING,
    UNFINISHED_TASK,
    Location,
    utcnow,
)
from glance.registry.core import RegistryCore
from glance.registry.models import ImageRow, LocationRow, TaskRow, WorkerRow
from glance.registry.rows import changed, location_of


@dataclass(frozen=True)
class Liveness:
    """Which server processes count as alive: ``me``, and those whose heartbeat is younger
    than ``lease_seconds`` unless known ``dead`` (a process id on this machine that no longer
    runs)."""

    me: str
    lease_seconds: float
    dead: frozenset[str] = frozenset()


class Workers(RegistryCore):
    """Heartbeats and recovery's steps."""

    def heartbeat(self, worker: str, host: str, pid: int) -> None:
        """Record that the server process ``worker`` is alive now."""
        now = utcnow()
        with self._write() as session:
            result = session.execute(update(WorkerRow).where(WorkerRow.id == worker)
                                     .values(heartbeat_at=now))
            if not changed(result):
                session.add(WorkerRow(id=worker, host=host, pid=pid, started_at=now,
                                      heartbeat_at=now))

    def live_workers(self, lease_seconds: float) -> dict[str, tuple[str, int]]:
        """``{worker: (host, pid)}`` of processes whose heartbeat is younger than
        ``lease_seconds``."""
        since = utcnow() - timedelta(seconds=lease_seconds)
        with self._read() as session:
            return {row.id: (row.host, row.pid) for row in session.scalars(
                select(WorkerRow).where(WorkerRow.heartbeat_at >= since))}

    def forget_worker(self, worker: str) -> None:
        """A process stopping cleanly; also drops heartbeats stale for a day."""
        with self._write() as session:
            session.execute(delete(WorkerRow).where(
                (WorkerRow.id == worker)
                | (WorkerRow.heartbeat_at < utcnow() - timedelta(days=1))))

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
        with self._read() as session:
            return [(row.image_id, location_of(row))
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
            return bool(changed(result))

    def fail_orphan_upload(self, image_id: str, *, recorded: str | None, to_status: str,
                           values: Mapping[str, Any] | None = None,
                           liveness: Liveness) -> bool:
        """``saving`` → ``to_status`` (with ``values``) if no live process is writing the
        image's bytes and the failure status its upload recorded is still ``recorded`` (as
        the caller read it). Whether it changed."""
        with self._write() as session:
            row = self._lock_image(session, image_id)
            writing = session.scalar(select(LocationRow.id).where(
                LocationRow.image_id == image_id, LocationRow.status == LOCATION_SAVING,
                self._alive(LocationRow.worker, liveness)))
            if row.status != SAVING or writing is not None or \
                    row.failed_upload_status != recorded:
                return False
            self._move(row, from_=[SAVING], to=to_status, values=values)
            return True

    def import_orphaned(self, image_id: str, *, liveness: Liveness) -> bool:
        """Whether the image is ``importing`` with no unfinished task of a live process."""
        with self._read() as session:
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
            self._move(row, from_=[IMPORTING], to=QUEUED)
            return True

    def fail_orphan_task(self, task_id: str, message: str, *, liveness: Liveness) -> bool:
        """An unfinished task whose process is gone ends ``failure``. Whether it did."""
        with self._write() as session:
            result = session.execute(update(TaskRow).where(
                TaskRow.id == task_id, TaskRow.status.in_(list(UNFINISHED_TASK)),
                or_(TaskRow.worker.is_(None), not_(self._alive(TaskRow.worker, liveness))))
                .values(status="failure", message=message, updated_at=utcnow()))
            return bool(changed(result))
