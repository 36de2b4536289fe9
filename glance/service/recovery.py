"""Cleaning up after server processes that stopped in the middle of something.

Several ``glance-api`` processes (on one machine or several) may share one registry. Each
process records a heartbeat, and stamps what it has in flight with its worker id: the copies
it is writing or deleting (``image_locations.worker``) and the tasks it runs
(``tasks.worker``). Recovery — at start-up, then every ``worker_lease_seconds`` — touches only
what belongs to processes that are gone: no heartbeat within the lease, or, on this machine, a
process id that no longer runs. A restart of one process therefore never breaks another
process's upload, and nothing a crashed process left half done stays that way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Awaitable, TypeVar

from glance.common import exception
from glance.domain import (
    IMPORTING,
    KILLED,
    LOCATION_SAVING,
    SAVING,
    UNFINISHED_TASK,
    UPLOADING,
    Location,
)
from glance.registry import Liveness
from glance.service import copies
from glance.service.core import HOST, Core
from glance.service.pipeline import failure_values

LOG = logging.getLogger(__name__)
T = TypeVar("T")


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def liveness(core: Core) -> Liveness:
    """Which processes count as alive: this one always (a late heartbeat of its own must
    never make it clean up its own work), and those beating within the lease, except earlier
    processes on this machine whose heartbeat outlived them."""
    beating = await core.db(core.registry.live_workers, core.settings.worker_lease_seconds)
    dead = frozenset(worker for worker, (host, pid) in beating.items()
                     if worker != core.worker and host == HOST
                     and (pid == os.getpid() or not _pid_runs(pid)))
    return Liveness(core.worker, core.settings.worker_lease_seconds, dead)


async def heartbeat(core: Core) -> None:
    await core.db(core.registry.heartbeat, core.worker, HOST, os.getpid())


async def keep_alive(core: Core) -> None:
    """Beat three times per lease; recover after gone processes once per lease."""
    lease = core.settings.worker_lease_seconds
    last_recovery = time.monotonic()
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await heartbeat(core)
            if time.monotonic() - last_recovery >= lease:
                last_recovery = time.monotonic()
                await recover(core)
        except exception.ServiceUnavailable as exc:  # the database is away: one line
            LOG.warning("heartbeat or recovery failed (%s); retrying", exc)
            # nobody could beat meanwhile: judge the others only once they have had a whole
            # lease to beat again (else their uploads in flight would be taken for orphans)
            last_recovery = time.monotonic()
        except Exception:  # a registry hiccup must not end the heartbeat
            LOG.exception("heartbeat or recovery failed; retrying")


async def recover(core: Core) -> None:
    """Finish or undo what gone processes left half done, so that no image stays importing
    or saving, no bytes stay that no record points to, and no task stays unfinished.

    Every step is a compare-and-set in the registry that decides and acts at once (a
    location is taken over before its bytes are deleted; an image changes status only while
    no live process works on it): racing a live process, recovery changes nothing.
    """
    live = await liveness(core)
    for image_id, location in await core.db(core.registry.orphan_locations, live):
        await _settle(_take_over(core, image_id, location, live))
    for image in await core.db(core.registry.ids_in_status, SAVING):
        # as the failed upload itself would have: v1 killed, v2 queued, an import importing
        # (then queued below, once its staged data is gone)
        failed = image.failed_upload_status or KILLED
        if await _settle(core.db(core.registry.fail_orphan_upload, image.id,
                                 recorded=image.failed_upload_status, to_status=failed,
                                 values=failure_values(failed), liveness=live)):
            core.metrics.recovery_actions.labels(f"upload_{failed}").inc()
            LOG.warning("image %s was saving when its server process stopped: marked %s",
                        image.id, failed)
    for image in await core.db(core.registry.ids_in_status, IMPORTING):
        if not await core.db(core.registry.import_orphaned, image.id, liveness=live):
            continue
        # importing: nothing can stage anew until the image is queued, so the staged data
        # goes first
        await core.discard_staged(image.id)
        if await _settle(core.db(core.registry.requeue_orphan_import, image.id,
                                 liveness=live)):
            core.metrics.recovery_actions.labels("import_requeued").inc()
            LOG.warning("image %s was importing when its server process stopped: back to "
                        "queued", image.id)
    for task in await core.db(core.registry.tasks_in_status, UNFINISHED_TASK):
        if await core.db(core.registry.fail_orphan_task, task.id,
                         "Interrupted: the server process running this task stopped",
                         liveness=live):
            core.metrics.recovery_actions.labels("task_failed").inc()
            LOG.warning("task %s of image %s was %s when its server process stopped: failed",
                        task.id, task.image_id, task.status)


async def _take_over(core: Core, image_id: str, location: Location, live: Liveness) -> None:
    """Take over a location a gone process was writing or deleting, delete its bytes and
    forget it; then settle what the interrupted write leaves (a half-staged image is queued
    again, an interrupted copy is recorded as failed)."""
    if not await core.db(core.registry.claim_orphan_location, image_id, location,
                         liveness=live):
        return  # changed meanwhile: not an orphan any more, or another process took it
    core.metrics.recovery_actions.labels(f"copy_{location.status}_removed").inc()
    LOG.warning("image %s: its copy in store %s was %s when its server process stopped; "
                "removing it", image_id, location.store, location.status)
    if not await _discard_partial(core, image_id, location):
        await core.db(core.registry.release_location, image_id, location.store,
                      worker=core.worker)
        return
    await core.db(core.registry.forget_location, image_id, location.store, worker=core.worker)
    if location.status != LOCATION_SAVING:
        return
    if core.staging is not None and location.store == core.staging.name:
        await core.db(core.registry.requeue, image_id, from_=UPLOADING)
    else:
        await copies.interrupted(core, image_id, location.store)


async def _discard_partial(core: Core, image_id: str, location: Location) -> bool:
    """Remove whatever an interrupted write of ``location`` left in its store (a whole
    object, if the crash came after the store's commit; parts; segments). False when the
    store could not be reached (the caller keeps the record)."""
    store = core.holder(location)
    if store is None or not store.writable:
        return True
    try:
        await store.delete(location.key)
        await store.discard_partial(location.key)
        return True
    except exception.StoreError as exc:
        LOG.error("image %s: cannot clean up its partial data in store %s: %s", image_id,
                  store.name, exc)
        return False


async def _settle(step: Awaitable[T]) -> T | None:
    """Run one recovery step; the record changing or vanishing meanwhile is fine."""
    try:
        return await step
    except (exception.NotFound, exception.Conflict):
        return None
