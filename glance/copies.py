"""copy-image and delete-from-store: the life of an active image's extra copies.

Part of the service (``ImageService`` calls these with itself): a copy streams the bytes from
the image's first readable location through the service's upload pipeline (size and checksum
verified while the target store writes) into each target store, recording the new location
as ``saving`` first so that a crash leaves something the start-up reconcile can clean.
Progress shows in the image properties ``os_glance_importing_to_stores`` and
``os_glance_failed_import`` and in the image's task.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from glance.common import exception
from glance.context import RequestContext
from glance.domain import (ACTIVE, LOCATION_ACTIVE, LOCATION_DELETING,
                           LOCATION_SAVING, Image, Location, Task, new_image_id)
from glance.stores import Store

if TYPE_CHECKING:
    from glance.service import ImageService

LOG = logging.getLogger(__name__)
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"


def _names(value: str | None) -> list[str]:
    return [name for name in (value or "").split(",") if name]


async def start_copy(svc: "ImageService", ctx: RequestContext, image: Image,
                     stores: list[str] | None, all_stores: bool,
                     must_succeed: bool) -> Task | None:
    """Check a copy-image request and start copying in the background (None: nothing to do,
    every store already has the image)."""
    if image.status != ACTIVE:
        raise exception.Conflict(f"Image {image.id} is {image.status}; copy-image needs it "
                                 f"active")
    if _names(image.properties.get(IMPORTING_TO)):
        raise exception.Conflict(f"Image {image.id} is already being copied to "
                                 f"{image.properties[IMPORTING_TO]}")
    have = {loc.store for loc in image.locations}
    if all_stores:
        if stores:
            raise exception.BadRequest("Use either stores or all_stores, not both")
        targets = [s for s in _writable(svc) if s.name not in have]
        if not targets:
            return None
    else:
        if not stores:
            raise exception.BadRequest("copy-image needs stores (or all_stores: true)")
        targets = []
        for name in dict.fromkeys(stores):
            store = svc._store(name)
            if not store.writable:
                raise exception.BadRequest(f"Store {store.name} is read-only")
            if store.name in have:
                raise exception.BadRequest(f"Image is already present at store '{name}'")
            if store not in targets:
                targets.append(store)
    names = [t.name for t in targets]
    await svc._db(svc.registry.update, image.id, {},
                  {IMPORTING_TO: ",".join(names), FAILED_IMPORT: ""},
                  expected_status=[ACTIVE], unless_property=IMPORTING_TO)
    task = Task(id=new_image_id(), image_id=image.id, owner=ctx.owner,
                input={"import_req": {"method": {"name": "copy-image"}, "stores": names,
                                      "all_stores_must_succeed": must_succeed},
                       "backend": names}, worker=svc.worker)
    await svc._db(svc.registry.create_task, task)
    job = asyncio.get_running_loop().create_task(
        _run_copy(svc, image.id, task.id, targets, must_succeed))
    svc._jobs.add(job)
    job.add_done_callback(svc._jobs.discard)
    return task


def _writable(svc: "ImageService") -> list[Store]:
    seen: list[Store] = []
    for store in svc.stores.values():
        if store.writable and store not in seen:
            seen.append(store)
    return seen


async def _run_copy(svc: "ImageService", image_id: str, task_id: str, targets: list[Store],
                    must_succeed: bool) -> None:
    await svc._db(svc.registry.update_task, task_id, "processing")
    failed: list[str] = []
    for index, target in enumerate(targets):
        try:
            await copy_one(svc, image_id, target)
            await _progress(svc, image_id, target.name, failed=False)
        except BaseException as exc:
            LOG.warning("copy of image %s to store %s failed: %s", image_id, target.name, exc)
            failed.append(f"{target.name}: {type(exc).__name__}: {exc}")
            await asyncio.shield(_progress(svc, image_id, target.name, failed=True))
            if not isinstance(exc, Exception):
                raise
            if must_succeed:
                for skipped in targets[index + 1:]:
                    await _progress(svc, image_id, skipped.name, failed=None)
                break
    if failed and must_succeed:
        await svc._db(svc.registry.update_task, task_id, "failure",
                      "Copy failed: " + "; ".join(failed))
    else:
        await svc._db(svc.registry.update_task, task_id, "success",
                      "Copy complete" + ("; failed: " + "; ".join(failed) if failed else ""))


async def copy_one(svc: "ImageService", image_id: str, target: Store) -> None:
    """Copy an active image's bytes into ``target`` through the upload pipeline; on any
    failure nothing is left in ``target`` and the image keeps its other locations."""
    from glance.service import _Digest, _Limit, read_first

    image = await svc._db(svc.registry.get, image_id)
    sources = svc._sources(image)
    if not sources:
        raise exception.NotFound(f"Image {image_id} has no readable location to copy from")
    await svc._db(svc.registry.add_location, image_id,
                  Location(target.name, image_id, LOCATION_SAVING, svc.worker), [ACTIVE])
    size = image.size or 0
    digest = _Digest()
    try:
        stored = await target.put(
            image_id, svc._verified(read_first(sources), digest, size, image.checksum,
                                    _Limit(size, f"the image's size of {size} bytes")), size)
    except BaseException:
        # the store removed what it wrote; only the record is left to undo
        await asyncio.shield(svc._db(svc.registry.forget_location, image_id, target.name,
                                     worker=svc.worker))
        raise
    try:
        if image.os_hash_value and digest.sha512.hexdigest() != image.os_hash_value:
            raise exception.BadRequest(f"The copied data's SHA-512 does not match image "
                                       f"{image_id}'s os_hash_value")
        await svc._db(svc.registry.finish_copy, image_id, store=target.name,
                      worker=svc.worker, key=stored.key)
    except BaseException:
        # verification failed, or the image was deleted or the copy taken over meanwhile
        if await asyncio.shield(svc._take_back(image_id, target, stored.key)):
            await asyncio.shield(svc._db(svc.registry.forget_location, image_id, target.name,
                                         worker=svc.worker))
        raise


async def _progress(svc: "ImageService", image_id: str, store: str,
                    failed: bool | None) -> None:
    """Take ``store`` off the image's importing list; add it to the failed list if
    ``failed`` (None: it was skipped, neither copied nor failed). A compare-and-set of both
    properties, retried while other progress lands in between."""
    while True:
        try:
            image = await svc._db(svc.registry.get, image_id)
        except exception.NotFound:
            return
        seen = {name: image.properties.get(name) for name in (IMPORTING_TO, FAILED_IMPORT)}
        props = {IMPORTING_TO: ",".join(s for s in _names(seen[IMPORTING_TO]) if s != store)}
        if failed:
            props[FAILED_IMPORT] = ",".join([*_names(seen[FAILED_IMPORT]), store])
        try:
            await svc._db(svc.registry.update, image_id, {}, props, expected_properties=seen)
            return
        except exception.NotFound:
            return
        except exception.Conflict:
            continue  # the properties changed since they were read: read them again


async def interrupted(svc: "ImageService", image_id: str, store: str) -> None:
    """After a crash: a copy to ``store`` did not finish; record it, and the copy task that
    was running, as failed."""
    await _progress(svc, image_id, store, failed=True)
    for task in await svc._db(svc.registry.image_tasks, image_id):
        if task.status in ("pending", "processing") and store in task.input.get("backend", ()):
            await svc._db(svc.registry.update_task, task.id, "failure",
                          f"Copy to {store} interrupted: its server process stopped",
                          expected_status=("pending", "processing"))


async def delete_from_store(svc: "ImageService", ctx: RequestContext, store_name: str,
                            image_id: str) -> None:
    """Remove one copy of an active image (owner or admin): 400 unknown store, 404 when the
    image is not in that store, 409 unless active, 403 for its last copy."""
    store = svc._store(store_name)
    image = await svc._mutable(ctx, image_id)
    if image.status != ACTIVE:
        raise exception.Conflict("It's not allowed to remove image data from store if image "
                                 f"status is not 'active' (it is {image.status})")
    location = next((loc for loc in image.active_locations if loc.store == store.name), None)
    if location is None:
        raise exception.NotFound(f"Image {image_id} is not stored in store {store_name}")
    # the registry refuses (Forbidden) when this is the only active copy, atomically
    await svc._db(svc.registry.set_location_status, image_id, store.name, LOCATION_DELETING,
                  LOCATION_ACTIVE, [ACTIVE], None, True, svc.worker)
    if store.writable and not await svc._delete_held(image_id, store, location.key):
        raise exception.ServiceUnavailable(
            f"Store {store.name} could not delete the copy now; it will be removed later")
    await svc._db(svc.registry.forget_location, image_id, store.name, worker=svc.worker)
