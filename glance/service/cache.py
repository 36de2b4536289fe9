"""The image cache's decisions: which downloads it serves or fills, when an entry is stale
(the registry's record of the image is the judge, at every access), the prefetcher, and
the cache API (admin only). The bytes on disk are ``glance.cache``'s."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from functools import partial
from typing import AsyncIterator, Callable, Sequence

from glance.cache import CachedImage, Fill, Identity, ImageCache, valid_id
from glance.common import exception
from glance.context import RequestContext
from glance.domain import ACTIVE, Image
from glance.service.core import Core
from glance.stores import Store, StoreNotFound, StoreReadError

LOG = logging.getLogger(__name__)

Tee = Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]]
REMOTE_DRIVERS: tuple[str, ...] = ("s3", "swift", "http")
CLEAR_TARGETS: tuple[str, ...] = ("cache", "queue", "both")
PREFETCH_INTERVAL = 1.0  # seconds between looks at the queue
PREFETCH_RETRY = 10.0  # seconds before a failed prefetch is tried again
CLEAN_INTERVAL = 60.0  # seconds between sweeps of stalled partial files


def identity_of(image: Image) -> Identity:
    return Identity(image.size or 0, image.checksum, image.os_hash_algo, image.os_hash_value)


def cacheable(core: Core, image: Image, sources: Sequence[tuple[Store, str]]) -> bool:
    """Whether ``image``, read from ``sources``, belongs in the cache: it has data that can be
    verified, fits, and is read from a remote store (or a file store, if configured)."""
    cache = core.cache
    if cache is None or not sources or not image.size or image.size > cache.max_size:
        return False
    driver = sources[0][0].driver
    if driver not in REMOTE_DRIVERS and not (
            driver == "file" and core.settings.image_cache_file_stores):
        return False
    return identity_of(image).verifiable and valid_id(image.id)


async def open_cached(core: Core, image: Image,
                      sources: Sequence[tuple[Store, str]]) -> tuple[str | None, Tee | None]:
    """For a download of ``image``: the verified cached file to send instead of reading the
    store, or else a tee through which a whole read also fills the cache (both None when
    the cache has no part in it). An entry of an image that is no longer active, or whose
    data changed, is dropped."""
    cache = core.cache
    if cache is None:
        return None, None
    if image.status != ACTIVE:
        await asyncio.to_thread(cache.discard, image.id, f"the image is {image.status}")
        return None, None
    if not cacheable(core, image, sources):
        return None, None
    identity = identity_of(image)
    try:
        path = await asyncio.to_thread(cache.lookup, image.id, identity)
    except OSError as exc:  # the cache's disk fails: the store still serves
        LOG.error("image cache: cannot read the entry of %s: %s", image.id, exc)
        return None, None
    if path is not None:
        return path, None
    return None, partial(tee, core, cache, image.id, identity)


async def forget_if_gone(core: Core, image_id: str) -> None:
    """Drop the entry and queued prefetch of an image the registry no longer has."""
    cache = core.cache
    if cache is None or not valid_id(image_id):
        return
    try:
        await core.db(core.registry.get, image_id)
    except exception.NotFound:
        await asyncio.to_thread(cache.discard, image_id, "the image was deleted")
        await asyncio.to_thread(cache.dequeue, image_id)


def begin_fill(cache: ImageCache, image_id: str, identity: Identity) -> Fill | None:
    """A new fill of ``image_id``; None when another fill on this node has it, or it has
    been cached meanwhile."""
    lock = cache.lock(image_id)
    if lock is None:
        return None
    if os.path.exists(cache.data_path(image_id)):
        os.close(lock)
        return None
    try:
        return Fill(cache, image_id, identity, lock)
    except BaseException:
        os.close(lock)
        raise


async def tee(core: Core, cache: ImageCache, image_id: str, identity: Identity,
              stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``stream`` unchanged, with a copy of each chunk offered to a fill of the cache; the
    client never waits for the cache (a fill that falls behind is given up, and the image
    queued for the prefetcher instead)."""
    try:
        fill = await asyncio.to_thread(begin_fill, cache, image_id, identity)
    except OSError as exc:  # the cache's disk fails: the client is served all the same
        LOG.error("image cache: cannot start a fill of %s: %s", image_id, exc)
        fill = None
    if fill is None:
        async for chunk in stream:
            yield chunk
        return
    complete = False
    try:
        async for chunk in stream:
            fill.offer(chunk)
            yield chunk
        complete = True
    finally:
        if complete:
            fill.finish()
        else:
            fill.abandon("the download ended early")
        if fill.lagged:
            await asyncio.to_thread(cache.enqueue, image_id)


# -- the prefetcher -------------------------------------------------------------------------

async def prefetcher(core: Core) -> None:
    """Fill the queued images, one at a time, until cancelled (every process sharing the
    cache directory runs one; the fill lock lets one of them fill each image). An image
    whose fill fails stays queued and is tried again after PREFETCH_RETRY seconds."""
    cache = core.cache
    assert cache is not None
    cleaned = time.monotonic()
    retry_at: dict[str, float] = {}
    while True:
        for image_id in await asyncio.to_thread(cache.queued):
            if retry_at.get(image_id, 0.0) > time.monotonic():
                continue
            try:
                await prefetch(core, cache, image_id)
                retry_at.pop(image_id, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; the entry stays queued
                LOG.warning("image cache: prefetch of %s failed (%s: %s); trying again in "
                            "%g s", image_id, type(exc).__name__, exc, PREFETCH_RETRY)
                retry_at[image_id] = time.monotonic() + PREFETCH_RETRY
        if time.monotonic() - cleaned > CLEAN_INTERVAL:
            await asyncio.to_thread(cache.clean_parts)
            cleaned = time.monotonic()
        await asyncio.sleep(PREFETCH_INTERVAL)


async def prefetch(core: Core, cache: ImageCache, image_id: str) -> None:
    """Fill the cache with one queued image, then take it off the queue (an image that
    cannot be cached here is taken off too, logged). Raises what reading the store raised,
    or StoreReadError when the fill was not kept."""
    try:
        image = await core.db(core.registry.get, image_id)
    except exception.NotFound:
        await asyncio.to_thread(cache.dequeue, image_id)
        return
    sources = await asyncio.to_thread(core.sources, image)  # stats local files
    if image.status != ACTIVE or not cacheable(core, image, sources):
        LOG.warning("image cache: %s not prefetched (%s, not cacheable here)", image_id,
                    image.status)
        await asyncio.to_thread(cache.dequeue, image_id)
        return
    identity = identity_of(image)
    fill = await asyncio.to_thread(begin_fill, cache, image_id, identity)
    if fill is None:  # cached already, or being filled by another download
        if os.path.exists(cache.data_path(image_id)):
            await asyncio.to_thread(cache.dequeue, image_id)
        return
    try:
        await _read_into(fill, sources)
    except BaseException as exc:
        fill.abandon(f"the prefetch failed: {type(exc).__name__}: {exc}")
        raise
    if not await asyncio.to_thread(fill.wait):
        raise StoreReadError(f"the fill was not kept: {fill.failure}")
    await asyncio.to_thread(cache.dequeue, image_id)


async def _read_into(fill: Fill, sources: Sequence[tuple[Store, str]]) -> None:
    for store, key in sources:
        try:
            async for chunk in store.get(key):
                if not await asyncio.to_thread(fill.offer, chunk, True):
                    return
            fill.finish()
            return
        except StoreNotFound:
            LOG.warning("image cache: %s missing from store %s", key, store.name)
    fill.abandon("no store has the image's data")


# -- the cache API --------------------------------------------------------------------------

def admin_cache(core: Core, ctx: RequestContext) -> ImageCache:
    if not ctx.is_admin:
        raise exception.Forbidden("The image cache is for administrators")
    if core.cache is None:
        raise exception.NotFound("The image cache is not enabled on this server")
    return core.cache


async def listing(core: Core, ctx: RequestContext) -> tuple[list[CachedImage], list[str]]:
    """The cached and the queued images; entries of images no longer active are dropped."""
    cache = admin_cache(core, ctx)
    kept = []
    for entry in await asyncio.to_thread(cache.entries):
        try:
            image = await core.db(core.registry.get, entry.image_id)
        except exception.NotFound:
            await asyncio.to_thread(cache.discard, entry.image_id, "the image was deleted")
            continue
        if image.status != ACTIVE:
            await asyncio.to_thread(cache.discard, entry.image_id, f"the image is {image.status}")
            continue
        kept.append(entry)
    return kept, await asyncio.to_thread(cache.queued)


async def enqueue(core: Core, ctx: RequestContext, image_id: str) -> None:
    """Queue an active image for the prefetcher (404 unknown, 400 not active)."""
    cache = admin_cache(core, ctx)
    image = await core.get(ctx, image_id)
    if image.status != ACTIVE:
        raise exception.BadRequest(f"Image {image_id} is {image.status}: only active images "
                                   "can be cached")
    await asyncio.to_thread(cache.enqueue, image.id)


async def remove(core: Core, ctx: RequestContext, image_id: str) -> None:
    """Drop one image from the cache and the queue."""
    cache = admin_cache(core, ctx)
    await asyncio.to_thread(cache.discard, image_id, "removed through the cache API")
    await asyncio.to_thread(cache.dequeue, image_id)


async def clear(core: Core, ctx: RequestContext, target: str) -> None:
    """Empty the cache, the queue, or both."""
    cache = admin_cache(core, ctx)
    if target not in CLEAR_TARGETS:
        raise exception.BadRequest(f"Invalid x-image-cache-clear-target {target!r}: "
                                   f"expected one of {', '.join(CLEAR_TARGETS)}")
    if target in ("queue", "both"):
        await asyncio.to_thread(cache.clear_queue)
    if target in ("cache", "both"):
        await asyncio.to_thread(cache.clear)
