"""Download tickets: a single-use, short-lived link to one image's data for one caller (the
web console's downloads, which a browser follows without sending a token). Kept in the
registry, so that whichever process or server the link reaches can spend it, once."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from glance.common import exception
from glance.context import RequestContext
from glance.domain import utcnow
from glance.service.core import Core

TICKET_SECONDS = 60.0
MAX_PENDING = 10_000  # unexpired tickets at once, over all processes


@dataclass(frozen=True)
class Ticket:
    """A spent ticket: who asked for the download, and the file name to save it under."""

    context: RequestContext
    filename: str


def _digest(secret: str) -> str:
    """Only the SHA-256 of a ticket is stored: the registry never holds a usable link."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class DownloadTickets:
    """Issue and spend download tickets."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def issue(self, ctx: RequestContext, image_id: str, filename: str) -> str:
        """A new ticket for ``ctx`` to download ``image_id`` within TICKET_SECONDS; the
        caller must have checked that they may."""
        secret = secrets.token_urlsafe(32)
        caller = json.dumps({"project_id": ctx.project_id, "user_id": ctx.user_id,
                             "roles": list(ctx.roles), "is_admin": ctx.is_admin})
        now = utcnow()
        added = await self.core.db(
            self.core.registry.add_download_ticket, digest=_digest(secret), image_id=image_id,
            caller=caller, filename=filename, expires_at=now + timedelta(seconds=TICKET_SECONDS),
            now=now, limit=MAX_PENDING)
        if not added:
            raise exception.LimitExceeded("Too many downloads pending; try again shortly",
                                          retry=int(TICKET_SECONDS))
        return secret

    async def spend(self, secret: str, image_id: str) -> Ticket | None:
        """The ticket's caller and file name, once; None when the ticket is unknown, spent,
        expired or for another image."""
        record = await self.core.db(self.core.registry.take_download_ticket,
                                    digest=_digest(secret), image_id=image_id, now=utcnow())
        if record is None:
            return None
        caller = json.loads(record.caller)
        context = RequestContext(project_id=caller["project_id"], user_id=caller["user_id"],
                                 roles=tuple(caller["roles"]), is_admin=caller["is_admin"])
        return Ticket(context, record.filename)
