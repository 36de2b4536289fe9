"""copy-image and delete-from-store: the life of an active image's extra copies.

A copy streams the bytes from the image's first readable location through the upload
pipeline (size and checksum verified while the target store writes) into each target
store, its new location recorded as ``saving`` first so that a crash leaves something
recovery can clean up. Progress shows in the image properties
``os_glance_importing_to_stores`` and ``os_glance_failed_import`` and in the image's task.
"""

from __future__ import annotations

import asyncio
import logging

from glance.common import exception
from glance.common.hashing import new_hash
from glance.context import RequestContext
from glance.domain import (
    ACTIVE,
    HAS_DATA,
    LOCATION_SAVING,
    UNFINISHED_TASK,
    Image,
    Location,
    Task,
    new_image_id,
)
from glance.service import access
from glance.service.core import Core
from glance.service.data import read_first
from glance.service.pipeline import Checks, Digest, Limit, Write, delete_held, write
from glance.stores import Store, StoredObject

LOG = logging.getLogger(__name__)
IMPORTING_TO = "os_glance_importing_to_stores"
FAILED_IMPORT = "os_glance_failed_import"


def _names(value: str | None) -> list[str]:
    return [name for name in (value or "").split(",") if name]


async def start_copy(core: Core, ctx: RequestContext, image: Image, stores: list[str] | None,
                     all_stores: bool, must_succeed: bool) -> Task | None:
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
        targets = [s for s in core.writable_stores() if s.name not in have]
        if not targets:
            return None
    else:
        if not stores:
            raise exception.BadRequest("copy-image needs stores (or all_stores: true)")
        targets = []
        for name in dict.fromkeys(stores):
            store = core.store(name)
            if not store.writable:
                raise exception.BadRequest(f"Store {store.name} is read-only")
            if store.name in have:
                raise exception.BadRequest(f"Image is already present at store '{name}'")
            if store not in targets:
                targets.append(store)
    names = [t.name for t in targets]
    await core.db(core.registry.claim_property, image.id, name=IMPORTING_TO,
                  properties={IMPORTING_TO: ",".join(names), FAILED_IMPORT: ""},
                  image_status=[ACTIVE])
    task = Task(id=new_image_id(), image_id=image.id, owner=ctx.owner,
                request_id=ctx.request_id, user_id=ctx.user_id,
                input={"import_req": {"method": {"name": "copy-image"}, "stores": names,
                                      "all_stores_must_succeed": must_succeed},
                       "backend": names}, worker=core.worker)
    await core.db(core.registry.create_task, task)
    core.spawn(_run_copy(core, image.id, task.id, targets, must_succeed))
    return task


async def _run_copy(core: Core, image_id: str, task_id: str, targets: list[Store],
                    must_succeed: bool) -> None:
    await core.db(core.registry.update_task, task_id, "processing")
    failed: list[str] = []
    for index, target in enumerate(targets):
        try:
            await copy_one(core, image_id, target)
            await progress(core, image_id, target.name, failed=False)
        except BaseException as exc:
            LOG.warning("copy of image %s to store %s failed: %s", image_id, target.name, exc)
            failed.append(f"{target.name}: {type(exc).__name__}: {exc}")
            await asyncio.shield(progress(core, image_id, target.name, failed=True))
            if not isinstance(exc, Exception):
                raise
            if must_succeed:
                for skipped in targets[index + 1:]:
                    await progress(core, image_id, skipped.name, failed=None)
                break
    if failed and must_succeed:
        await core.db(core.registry.update_task, task_id, "failure",
                      "Copy failed: " + "; ".join(failed))
    else:
        await core.db(core.registry.update_task, task_id, "success",
                      "Copy complete" + ("; failed: " + "; ".join(failed) if failed else ""))


async def copy_one(core: Core, image_id: str, target: Store) -> None:
    """Copy an active image's bytes into ``target`` through the upload pipeline; on any
    failure nothing is left in ``target`` and the image keeps its other locations."""
    image = await core.db(core.registry.get, image_id)
    sources = await asyncio.to_thread(core.sources, image)  # stats local files
    if not sources:
        raise exception.NotFound(f"Image {image_id} has no readable location to copy from")
    size = image.size or 0

    async def begin() -> None:
        await core.db(core.registry.add_location, image_id,
                      Location(target.name, image_id, LOCATION_SAVING, core.worker),
                      image_status=[ACTIVE])

    async def commit(stored: StoredObject, digest: Digest) -> None:
        await core.db(core.registry.finish_copy, image_id, store=target.name,
                      worker=core.worker, key=stored.key)

    async def undo(leftovers: bool) -> bool:
        return await core.db(core.registry.forget_location, image_id, target.name,
                             worker=core.worker, leftovers=leftovers)

    await write(core, Write(image_id, target, begin, commit, undo, what="Copy"),
                read_first(sources),
                Checks(Limit(size, f"the image's size of {size} bytes"), size, image.checksum,
                       os_hash=recorded_hash(image)))


def recorded_hash(image: Image) -> tuple[str, str] | None:
    """``(os_hash_algo, os_hash_value)`` that a copy of ``image`` is verified against — the
    algorithm recorded when it was uploaded, whatever ``hashing_algorithm`` says now; None
    when it has none, or one this machine's hashlib lacks (then size and MD5 only)."""
    if not image.os_hash_algo or not image.os_hash_value:
        return None
    try:
        new_hash(image.os_hash_algo)
    except ValueError as exc:
        LOG.warning("image %s: cannot verify its os_hash_value here (%s); checking its size "
                    "and checksum only", image.id, exc)
        return None
    return image.os_hash_algo, image.os_hash_value


async def progress(core: Core, image_id: str, store: str, failed: bool | None) -> None:
    """Take ``store`` off the image's importing list; add it to the failed list if
    ``failed`` (None: it was skipped, neither copied nor failed). A compare-and-set of both
    properties, retried while other progress lands in between."""
    while True:
        try:
            image = await core.db(core.registry.get, image_id)
        except exception.NotFound:
            return
        seen = {name: image.properties.get(name) for name in (IMPORTING_TO, FAILED_IMPORT)}
        props = {IMPORTING_TO: ",".join(s for s in _names(seen[IMPORTING_TO]) if s != store)}
        if failed:
            props[FAILED_IMPORT] = ",".join([*_names(seen[FAILED_IMPORT]), store])
        try:
            await core.db(core.registry.swap_properties, image_id, expected=seen, new=props)
            return
        except exception.NotFound:
            return
        except exception.Conflict:
            continue  # the properties changed since they were read: read them again


async def interrupted(core: Core, image_id: str, store: str) -> None:
    """After a crash: a copy to ``store`` did not finish; record it, and the copy task that
    was running, as failed."""
    image = await core.db(core.registry.get, image_id)
    if image.status not in HAS_DATA:
        return
    await progress(core, image_id, store, failed=True)
    for task in await core.db(core.registry.image_tasks, image_id):
        if task.status in UNFINISHED_TASK and store in task.input.get("backend", ()):
            await core.db(core.registry.update_task, task.id, "failure",
                          f"Copy to {store} interrupted: its server process stopped",
                          expected_status=UNFINISHED_TASK)


async def delete_from_store(core: Core, ctx: RequestContext, store_name: str,
                            image_id: str) -> None:
    """Remove one copy of an active image (owner or admin): 400 unknown store, 404 when the
    image is not in that store, 409 unless active, 403 for its last copy."""
    store = core.store(store_name)
    image = await access.mutable(core, ctx, image_id)
    if image.status != ACTIVE:
        raise exception.Conflict("It's not allowed to remove image data from store if image "
                                 f"status is not 'active' (it is {image.status})")
    location = next((loc for loc in image.active_locations if loc.store == store.name), None)
    if location is None:
        raise exception.NotFound(f"Image {image_id} is not stored in store {store_name}")
    await delete_copy(core, image_id, store, location)


async def delete_copy(core: Core, image_id: str, store: Store, location: Location) -> None:
    """Delete one active copy of an active image — its bytes, unless the store is read-only
    (a URL), then its record: 403 for the image's last copy, 409 unless active."""
    # the registry refuses (Forbidden) when this is the only active copy, atomically
    await core.db(core.registry.hold_copy_for_deletion, image_id, store=store.name,
                  worker=core.worker, key=location.key)
    if store.writable and not await delete_held(core, image_id, store, location.key):
        raise exception.ServiceUnavailable(
            f"Store {store.name} could not delete the copy now; it will be removed later")
    await core.db(core.registry.forget_location, image_id, store.name, worker=core.worker)
