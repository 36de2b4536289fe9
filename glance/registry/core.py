"""The registry's one transaction helper and the steps every write shares: locking an
image's row, and changing its status — always through ``domain.check_transition``."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Collection, Iterator, Mapping

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from glance.common import exception
from glance.domain import Image, check_transition, utcnow
from glance.registry.engine import WRITE_OPTION
from glance.registry.models import ImageRow
from glance.registry.rows import image_of, load_extras

LOG = logging.getLogger(__name__)


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """The database failing to answer (its server down or restarting, a connection lost, a
    lock held too long) becomes ServiceUnavailable (503): the request may be tried again."""
    try:
        yield
    except DBAPIError as exc:
        if not isinstance(exc, (OperationalError, InterfaceError)) and \
                not exc.connection_invalidated:
            raise
        reason = str(exc.orig or exc).strip().splitlines()[0][:300]
        LOG.error("the registry database failed: %s: %s", type(exc.orig or exc).__name__,
                  reason)
        raise exception.ServiceUnavailable(
            "The image registry is unavailable; try again later") from None


class RegistryCore:
    """An engine, and transactions over it. Every public method of the registry is
    synchronous and runs in its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time; concurrent writers from our thread pool would wait
        # in its busy handler, which sleeps in growing steps. Writes queue on a lock instead.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext())
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database (readiness); raises what the driver raises."""
        with self._read() as session:
            session.execute(text("SELECT 1"))

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        """One write transaction, committed when the block ends (rolled back on error;
        ServiceUnavailable when the database cannot be reached).

        On SQLite it holds the database's write lock from its first statement; on PostgreSQL
        the rows it must keep stable are locked where read (``_lock_image``). Either way what
        it read stays true until it commits: every check in it is a compare-and-set.
        """
        with _reachable(), self._write_lock, Session(self._writer) as session, \
                session.begin():
            yield session

    @contextlib.contextmanager
    def _write_connection(self) -> Iterator[Connection]:
        """One write transaction on a plain connection (no ORM), as ``_write``."""
        with _reachable(), self._write_lock, self._writer.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        """A session for reads (one snapshot per transaction)."""
        with _reachable(), Session(self.engine) as session:
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

    @staticmethod
    def _move(row: ImageRow, *, from_: Collection[str], to: str,
              values: Mapping[str, Any] | None = None) -> None:
        """The one place an image's status changes: Conflict unless it is one of ``from_``
        and ``domain.TRANSITIONS`` allows the step; then the status, ``values`` and
        ``updated_at`` are set on the (locked) row."""
        if row.status not in from_:
            raise exception.Conflict(f"Image {row.id} is {row.status}; the operation needs "
                                     f"one of: {', '.join(from_)}")
        check_transition(row.status, to)
        for name, value in {**(values or {}), "status": to, "updated_at": utcnow()}.items():
            setattr(row, name, value)

    @staticmethod
    def _compare(row: ImageRow, expected: Mapping[str, Any]) -> None:
        """Conflict unless each column in ``expected`` still has the value given (what the
        caller read): the compare of a compare-and-set."""
        changed = [name for name, value in expected.items() if getattr(row, name) != value]
        if changed:
            raise exception.Conflict(f"Image {row.id} changed meanwhile ({', '.join(changed)}); "
                                     f"try again")

    @staticmethod
    def _record(session: Session, row: ImageRow) -> Image:
        """The image as it stands in this transaction."""
        session.flush()
        return image_of(row, load_extras(session, [row.id])[row.id])
