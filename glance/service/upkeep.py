"""Upkeep of the stored bytes, for operators: ``verify`` re-reads stored copies and compares
them with their records, ``orphans`` finds (and deletes) objects no record names, and the
scrubber removes the bytes of images deleted with ``delayed_delete`` once ``scrub_time``
has passed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from glance.common import exception
from glance.common.hashing import new_hash
from glance.domain import ACTIVE, DEACTIVATED, Image, Location, utcnow
from glance.service.core import Core
from glance.service.pipeline import discard_data
from glance.stores import Store, StoreNotFound, unique_stores

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class CopyCheck:
    """One stored copy re-read: ``problem`` is None when it matches its record."""

    image_id: str
    store: str
    key: str
    problem: str | None
    bytes_read: int = 0
    checked: bool = True  # False: not ours to read (a remote http location)


Progress = Callable[[int, int, CopyCheck], None]  # (done, total, the copy just checked)


async def _digests(store: Store, key: str, algorithm: str | None) -> tuple[int, str, str | None]:
    """Size, MD5 and ``algorithm`` digest of what ``store`` holds under ``key``."""
    md5 = hashlib.md5(usedforsecurity=False)
    other = new_hash(algorithm) if algorithm else None
    size = 0
    async for chunk in store.get(key):
        size += len(chunk)
        await asyncio.gather(asyncio.to_thread(md5.update, chunk),
                             *([asyncio.to_thread(other.update, chunk)] if other else []))
    return size, md5.hexdigest(), other.hexdigest() if other else None


async def check_copy(core: Core, image: Image, location: Location) -> CopyCheck:
    """Re-read one copy and compare its size, checksum (MD5) and os_hash_value."""
    def result(problem: str | None, read: int = 0, checked: bool = True) -> CopyCheck:
        return CopyCheck(image.id, location.store, location.key, problem, read, checked)

    store = core.stores.get(location.store)
    if store is None:
        return result(f"its store {location.store} is not configured")
    if store.keys_are_urls:
        return result(None, checked=False)
    try:
        size, md5, other = await _digests(store, location.key, image.os_hash_algo)
    except StoreNotFound:
        return result("missing")
    except exception.StoreError as exc:
        return result(f"unreadable: {exc}")
    except ValueError as exc:  # an os_hash_algo this Python does not know
        return result(f"cannot check os_hash_algo {image.os_hash_algo}: {exc}")
    wrong = []
    if image.size is not None and size != image.size:
        wrong.append(f"size {size}, recorded {image.size}")
    if image.checksum and md5 != image.checksum:
        wrong.append(f"MD5 {md5}, recorded {image.checksum}")
    if image.os_hash_value and other != image.os_hash_value:
        wrong.append(f"{image.os_hash_algo} differs from os_hash_value")
    return result("corrupt: " + "; ".join(wrong) if wrong else None, size)


async def verify(core: Core, image_id: str | None, progress: Progress | None) -> list[CopyCheck]:
    """Check every copy of one image (``image_id``) or of every image that has data."""
    if image_id is not None:
        images = [await core.db(core.registry.get, image_id)]
    else:
        images = [image for status in (ACTIVE, DEACTIVATED)
                  for image in await core.db(core.registry.ids_in_status, status)]
    copies = [(image, location) for image in images for location in image.active_locations]
    results = []
    for done, (image, location) in enumerate(copies, 1):
        checked = await check_copy(core, image, location)
        results.append(checked)
        if progress is not None:
            progress(done, len(copies), checked)
    return results


@dataclass(frozen=True)
class Orphan:
    """An object in a store that no record names."""

    store: str
    key: str
    size: int
    deleted: bool


async def orphans(core: Core, delete: bool) -> list[Orphan]:
    """Objects in the writable stores (and staging) no location names; ``delete`` removes
    them. The store is listed before the records are read: a write records its location
    before its first byte, so an object listed is either recorded by then or an orphan."""
    stores = [s for s in unique_stores(core.stores) if s.writable and s.listable]
    if core.staging is not None:
        stores.append(core.staging)
    found = []
    for store in stores:
        names = {store.name, *(alias for alias, s in core.stores.items() if s is store)}
        keys = await store.list_keys()
        recorded: set[str] = set()
        for name in names:
            recorded |= await core.db(core.registry.recorded_keys, name)
        for key in keys:
            if key in recorded:
                continue
            try:
                size = (await store.stat(key)).size
            except StoreNotFound:
                continue  # deleted meanwhile (by its owner, before the record went)
            if delete:
                await store.delete(key)
                LOG.warning("deleted orphan %s from store %s (%d bytes)", key, store.name, size)
            found.append(Orphan(store.name, key, size, delete))
    return found


async def scrub(core: Core) -> list[str]:
    """Remove the bytes of the images pending delete for longer than ``scrub_time``; their
    ids. Each image is taken by a compare-and-set (several scrubbers share the work) and
    its copies are held by this process while deleted, so that recovery finishes what a
    crash interrupts."""
    cutoff = utcnow() - timedelta(seconds=core.settings.scrub_time)
    scrubbed = []
    for image_id in await core.db(core.registry.due_for_scrub, cutoff):
        try:
            image = await core.db(core.registry.hold_for_scrub, image_id, worker=core.worker)
        except (exception.NotFound, exception.Conflict):
            continue  # another scrubber took it
        await discard_data(core, image)
        core.metrics.recovery_actions.labels("scrubbed").inc()
        LOG.info("scrubbed image %s: its data is deleted", image_id)
        scrubbed.append(image_id)
    return scrubbed


def scrub_interval(scrub_time: float) -> float:
    """How often the server's scrubber looks: half of ``scrub_time``, within 1 s … 60 s."""
    return min(max(scrub_time / 2, 1.0), 60.0)


async def scrubber(core: Core) -> None:
    """The server's scrubber: ``scrub`` every ``scrub_interval`` until cancelled."""
    while True:
        try:
            await scrub(core)
        except Exception:  # noqa: BLE001 - a registry or store hiccup: try again later
            LOG.exception("scrubber: a round failed; trying again")
        await asyncio.sleep(scrub_interval(core.settings.scrub_time))


class Upkeep:
    """What the admin commands call (``ImageService.upkeep``)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def open_stores(self) -> None:
        """Start the stores only: no heartbeat, no recovery (a command, not a server)."""
        for store in [*unique_stores(self.core.stores), self.core.staging]:
            if store is not None:
                await store.start()

    async def verify(self, image_id: str | None,
                     progress: Progress | None = None) -> list[CopyCheck]:
        """Re-read the stored copies of one image or all, compared with their records."""
        return await verify(self.core, image_id, progress)

    async def orphans(self, delete: bool = False) -> list[Orphan]:
        """Objects in the stores that no record names (deleted with ``delete``)."""
        return await orphans(self.core, delete)

    async def scrub(self) -> list[str]:
        """Delete the data of images pending delete for longer than scrub_time."""
        return await scrub(self.core)
