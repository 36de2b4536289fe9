"""Cleaning up after server processes that stopped in the middle of something.

Several ``glance-api`` processes (on one machine or several) may share one registry. Each
process records a heartbeat, and stamps what it has in flight with its worker id: the copies
it is writing or deleting (``image_locations.worker``) and the tasks it runs
(``tasks.worker``). Recovery — at start-up, then every ``worker_lease_seconds`` — touches only
what belongs to processes that are gone: no heartbeat within the lease, or, on this machine, a
process id that no longer runs. A restart of one process therefore never breaks another
process's upload, and nothing a crashed process left half done stays that way.

Part of the service layer: it uses the service's registry and stores, nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Awaitable, TypeVar

from glance import copies
from glance.common import exception
from glance.domain import (ACTIVE, DEACTIVATED, IMPORTING, LOCATION_SAVING, QUEUED, SAVING,
                           UNFINISHED_TASK, UPLOADING, Location)
from glance.registry.repository import Liveness

if TYPE_CHECKING:
    from glance.service import ImageService

LOG = logging.getLogger(__name__)

HOST = socket.gethostname()[:40]


def new_worker_id() -> str:
    """An id for this server process, unique across restarts and machines."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def liveness(svc: "ImageService") -> Liveness:
    """Which processes count as alive: this one always (a late heartbeat of its own must
    never make it clean up its own work), and those beating within the lease, except earlier
    processes on this machine whose heartbeat outlived them."""
    beating = await svc._db(svc.registry.live_workers, svc.settings.worker_lease_seconds)
    dead = frozenset(worker for worker, (host, pid) in beating.items()
                     if worker != svc.worker and host == HOST
                     and (pid == os.getpid() or not _pid_runs(pid)))
    return Liveness(svc.worker, svc.settings.worker_lease_seconds, dead)


async def heartbeat(svc: "ImageService") -> None:
    await svc._db(svc.registry.heartbeat, svc.worker, HOST, os.getpid())


async def keep_alive(svc: "ImageService") -> None:
    """Beat three times per lease; recover after gone processes once per lease."""
    lease = svc.settings.worker_lease_seconds
    last_recovery = time.monotonic()
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await heartbeat(svc)
            if time.monotonic() - last_recovery >= lease:
                last_recovery = time.monotonic()
                await recover(svc)
        except Exception:  # a registry hiccup must not end the heartbeat
            LOG.exception("heartbeat or recovery failed; retrying")


async def recover(svc: "ImageService") -> None:
    """Finish or undo what gone processes left half done, so that no image stays importing
    or saving, no bytes stay that no record points to, and no task stays unfinished.

    Every step is a compare-and-set in the registry that decides and acts at once (a
    location is taken over before its bytes are deleted; an image changes status only while
    no live process works on it): racing a live process, recovery changes nothing.
    """
    live = await liveness(svc)
    for image_id, location in await svc._db(svc.registry.orphan_locations, live):
        await _settle(_take_over(svc, image_id, location, live))
    for image in await svc._db(svc.registry.ids_in_status, SAVING):
        if await _settle(svc._db(svc.registry.kill_orphan_upload, image.id, liveness=live)):
            LOG.warning("image %s was saving when its server process stopped: marked killed",
                        image.id)
    for image in await svc._db(svc.registry.ids_in_status, IMPORTING):
        if not await svc._db(svc.registry.import_orphaned, image.id, liveness=live):
            continue
        # importing: nothing can stage anew until the image is queued, so the staged data
        # goes first
        await svc._discard_staged(image.id)
        if await _settle(svc._db(svc.registry.requeue_orphan_import, image.id, liveness=live)):
            LOG.warning("image %s was importing when its server process stopped: back to "
                        "queued", image.id)
    for task in await svc._db(svc.registry.tasks_in_status, UNFINISHED_TASK):
        if await svc._db(svc.registry.fail_orphan_task, task.id,
                         "Interrupted: the server process running this task stopped",
                         liveness=live):
            LOG.warning("task %s of image %s was %s when its server process stopped: failed",
                        task.id, task.image_id, task.status)


async def _take_over(svc: "ImageService", image_id: str, location: Location,
                     live: Liveness) -> None:
    """Take over a location a gone process was writing or deleting, delete its bytes and
    forget it; then settle what the interrupted write leaves (a half-staged image is queued
    again, an interrupted copy is recorded as failed)."""
    if not await svc._db(svc.registry.claim_orphan_location, image_id, location,
                         liveness=live):
        return  # changed meanwhile: not an orphan any more, or another process took it
    LOG.warning("image %s: its copy in store %s was %s when its server process stopped; "
                "removing it", image_id, location.store, location.status)
    if not await svc._discard_partial(image_id, location):
        await svc._db(svc.registry.release_location, image_id, location.store,
                      worker=svc.worker)
        return
    await svc._db(svc.registry.forget_location, image_id, location.store, worker=svc.worker)
    if location.status != LOCATION_SAVING:
        return
    if svc.staging is not None and location.store == svc.staging.name:
        await svc._db(svc.registry.update, image_id, {"status": QUEUED},
                      expected_status=[UPLOADING])
    else:
        image = await svc._db(svc.registry.get, image_id)
        if image.status in (ACTIVE, DEACTIVATED):
            await copies.interrupted(svc, image_id, location.store)


T = TypeVar("T")


async def _settle(step: Awaitable[T]) -> T | None:
    """Run one recovery step; the record changing or vanishing meanwhile is fine."""
    try:
        return await step
    except (exception.NotFound, exception.Conflict):
        return None
