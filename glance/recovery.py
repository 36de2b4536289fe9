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
from typing import TYPE_CHECKING, Awaitable

from glance import copies
from glance.common import exception
from glance.domain import (IMPORTING, KILLED, LOCATION_DELETING, LOCATION_SAVING, SAVING,
                           UPLOADING, Location)

if TYPE_CHECKING:
    from glance.service import ImageService

LOG = logging.getLogger(__name__)

UNFINISHED_TASK = ("pending", "processing")
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


async def live_workers(svc: "ImageService") -> set[str]:
    """Worker ids of the processes that are alive (this one included)."""
    alive = set()
    beating = await svc._db(svc.registry.live_workers, svc.settings.worker_lease_seconds)
    for worker, (host, pid) in beating.items():
        if worker != svc.worker and host == HOST and (pid == os.getpid() or not _pid_runs(pid)):
            continue  # an earlier process on this machine: its heartbeat outlived it
        alive.add(worker)
    return alive


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
    or saving, no bytes stay that no record points to, and no task stays unfinished."""
    live = await live_workers(svc)
    for image in await svc._db(svc.registry.ids_in_status, IMPORTING):
        tasks = await svc._db(svc.registry.image_tasks, image.id)
        if any(t.status in UNFINISHED_TASK and t.worker in live for t in tasks):
            continue
        LOG.warning("image %s was importing when its server process stopped: back to queued",
                    image.id)
        await svc._unstage(image.id, IMPORTING)
    for image in await svc._db(svc.registry.ids_in_status, SAVING):
        if any(loc.worker in live for loc in image.locations):
            continue
        LOG.warning("image %s was saving when its server process stopped: marking it killed",
                    image.id)
        await _settle(_kill(svc, image.id, image.locations))
    for status in (LOCATION_DELETING, LOCATION_SAVING):
        for image_id, location in await svc._db(svc.registry.locations_in_status, status):
            if location.worker in live:
                continue
            LOG.warning("image %s: its copy in store %s was %s when its server process "
                        "stopped; removing it", image_id, location.store, status)
            if await svc._discard_partial(image_id, location):
                await svc._db(svc.registry.remove_location, image_id, location.store)
            if svc.staging is not None and location.store == svc.staging.name:
                await svc._unstage(image_id, UPLOADING)  # half-staged: queued again
            elif status == LOCATION_SAVING:
                await copies.interrupted(svc, image_id, location.store)
    for task in await svc._db(svc.registry.tasks_in_status, UNFINISHED_TASK):
        if task.worker in live:
            continue
        LOG.warning("task %s of image %s was %s when its server process stopped: failed",
                    task.id, task.image_id, task.status)
        await svc._db(svc.registry.update_task, task.id, "failure",
                      "Interrupted: the server process running this task stopped",
                      expected_status=UNFINISHED_TASK)


async def _kill(svc: "ImageService", image_id: str, locations: list[Location]) -> None:
    for location in locations:
        await svc._discard_partial(image_id, location)
    await svc._db(svc.registry.update, image_id, {"status": KILLED},
                  expected_status=[SAVING], locations=[])


async def _settle(step: Awaitable[None]) -> None:
    """Run one recovery step; another process recovering the same record first is fine."""
    try:
        await step
    except (exception.NotFound, exception.Conflict):
        pass
