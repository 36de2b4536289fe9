"""Download tickets: single-use links to an image's data, spent by any process."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from glance.registry.core import RegistryCore
from glance.registry.models import DownloadTicketRow
from glance.registry.rows import changed


@dataclass(frozen=True)
class TicketRecord:
    """What a spent ticket was issued for."""

    image_id: str
    caller: str  # as given to add_download_ticket
    filename: str


class DownloadTickets(RegistryCore):
    """Tickets by the digest of their secret; taking one deletes it (compare-and-set)."""

    def add_download_ticket(self, *, digest: str, image_id: str, caller: str, filename: str,
                            expires_at: datetime, now: datetime, limit: int) -> bool:
        """Record a ticket, dropping expired ones first; False when ``limit`` unexpired
        tickets are pending already."""
        with self._write() as session:
            session.execute(delete(DownloadTicketRow)
                            .where(DownloadTicketRow.expires_at < now))
            pending = session.scalar(select(func.count()).select_from(DownloadTicketRow))
            if (pending or 0) >= limit:
                return False
            session.add(DownloadTicketRow(digest=digest, image_id=image_id, caller=caller,
                                          filename=filename, expires_at=expires_at))
        return True

    def take_download_ticket(self, *, digest: str, image_id: str,
                             now: datetime) -> TicketRecord | None:
        """The ticket, deleted so that it is spent once; None when unknown, already spent
        (by this or another process), expired or for another image."""
        with self._write() as session:
            row = session.get(DownloadTicketRow, digest)
            if row is None:
                return None
            record = TicketRecord(row.image_id, row.caller, row.filename)
            expired = row.expires_at < now
            taken = changed(session.execute(delete(DownloadTicketRow)
                                            .where(DownloadTicketRow.digest == digest)))
            if taken != 1 or expired or record.image_id != image_id:
                return None
            return record
