"""An image's data in and out: the upload of a queued image and the download of an active
one."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable

from glance.common import exception
from glance.context import RequestContext
from glance.domain import DEACTIVATED, HAS_DATA, SAVING, Image
from glance.service import access, cache
from glance.service.core import Core
from glance.service.pipeline import (
    Checks,
    Digest,
    Write,
    disk_check,
    failure_values,
    size_limit,
    write,
)
from glance.stores import Store, StoredObject, StoreNotFound
from glance.stores.base import Chunk

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """Image data a request brings: its chunks, and what it declares about them."""

    chunks: AsyncIterator[Chunk]
    store: str | None = None  # None: the default store
    size: int | None = None
    checksum: str | None = None  # MD5 hex digest


async def upload(core: Core, ctx: RequestContext, image_id: str, data: Upload, *,
                 failed_status: str, from_status: str) -> Image:
    """Claim the image (``from_status`` → saving), stream the data into the store through
    the pipeline, and mark the image active. On any failure the partial data is deleted and
    the image is set to ``failed_status`` before the error propagates."""
    store = core.store(data.store or core.settings.default_store)
    image = await access.mutable(core, ctx, image_id)
    if not store.writable:
        raise exception.BadRequest(f"Store {store.name} is read-only")
    if image.status != from_status:
        raise exception.Conflict(
            f"Cannot upload to an image that is {image.status} (it must be {from_status})")
    access.require_formats(image)
    if data.checksum is not None and len(data.checksum) > 32:
        raise exception.BadRequest("Invalid checksum: an MD5 hex digest has 32 characters")
    checks = Checks(await size_limit(core, image, data.size), data.size, data.checksum,
                    disk_check(core, image))
    failed = failure_values(failed_status)

    async def begin() -> Image:
        return await core.db(core.registry.start_write, image_id, store=store.name,
                             worker=core.worker, from_status=from_status, to_status=SAVING,
                             values={"size": data.size,
                                     "failed_upload_status": failed_status})

    async def commit(stored: StoredObject, digest: Digest) -> Image:
        values: dict[str, Any] = {"size": stored.size, **digest.values()}
        if checks.disk is not None and checks.disk.result is not None:
            values["virtual_size"] = checks.disk.result.virtual_size
        return await core.db(core.registry.finish_upload, image_id, store=store.name,
                             worker=core.worker, key=stored.key, values=values)

    async def undo(leftovers: bool) -> bool:
        return await core.db(core.registry.abandon_write, image_id, store=store.name,
                             worker=core.worker, from_status=SAVING, to_status=failed_status,
                             values=failed, leftovers=leftovers)

    return await write(core, Write(image_id, store, begin, commit, undo, gone=(
        f"Image {image_id} was deleted during the upload; its data was discarded")),
        data.chunks, checks)


@dataclass(frozen=True)
class Download:
    """An active image's bytes, ready to send whole or in part, from the first of its
    locations that has them."""

    image: Image
    sources: tuple[tuple[Store, str], ...] = ()  # (store, key); empty: no data (size 0)
    cached: str | None = None  # a verified copy in this node's image cache: sent instead
    tee: Callable[[AsyncIterator[bytes]], AsyncIterator[bytes]] | None = None  # fills the cache

    @property
    def store(self) -> Store | None:
        return self.sources[0][0] if self.sources else None

    @property
    def size(self) -> int:
        return self.image.size or 0

    @property
    def local_path(self) -> str | None:
        """A local file to send zero-copy: the cached copy, or the first source's file."""
        if self.cached is not None:
            return self.cached
        if not self.sources:
            return None
        store, key = self.sources[0]
        return store.local_path(key)

    def read(self, offset: int, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset`` (falling back to the next source when a
        store says it does not have the object); a whole read also fills the cache."""
        stream = read_first(self.sources, offset, length)
        if self.tee is not None and offset == 0 and length in (None, self.size):
            return self.tee(stream)
        return stream


async def read_first(sources: Iterable[tuple[Store, str]], offset: int = 0,
                     length: int | None = None) -> AsyncIterator[bytes]:
    """The bytes of the first source whose store has the key; StoreNotFound if none has."""
    missing: StoreNotFound | None = None
    for store, key in sources:
        stream = store.get(key, offset, length)
        try:
            try:
                first = await anext(stream)
            except StoreNotFound as exc:
                LOG.warning("%s missing from store %s; trying the next location", key,
                            store.name)
                missing = exc
                continue
            except StopAsyncIteration:
                return
            yield first
            async for chunk in stream:
                yield chunk
            return
        finally:
            await stream.aclose()
    raise missing or StoreNotFound("The image has no readable location")


async def download(core: Core, ctx: RequestContext, image_id: str, *, allow_empty: bool,
                   prefer: Iterable[str] = ()) -> Download:
    """Open an active image's bytes (403 when deactivated), read from the stores named in
    ``prefer`` first, in that order (400 for a store this server does not have).

    An image without data (not active yet) is NotFound, or with ``allow_empty`` a Download
    whose store is None.
    """
    preferred = [core.store(name).name for name in prefer]
    try:
        image = await core.get(ctx, image_id)
    except exception.NotFound:
        await cache.forget_if_gone(core, image_id)
        raise
    sources = await asyncio.to_thread(core.sources, image, preferred)  # stats local files
    hit, tee = await cache.open_cached(core, image, sources)
    if image.status == DEACTIVATED and not ctx.is_admin:
        raise exception.Forbidden("The requested image has been deactivated. "
                                  "Image data download is forbidden.")
    if image.status not in HAS_DATA:
        if allow_empty:
            return Download(image)
        raise exception.NotFound(f"Image {image_id} is not active")
    if not image.size:
        return Download(image)
    if not sources:
        # a download racing a delete (or a copy's removal) finds the files gone: read again
        image = await _reread(core, image)
        sources = await asyncio.to_thread(core.sources, image, preferred)
    if not sources:
        LOG.error("image %s: none of its copies can be read (%s)", image.id, ", ".join(
            f"{loc.store}:{loc.key}" for loc in image.active_locations) or "no copy")
        raise exception.NotFound(f"The data of image {image_id} is in no configured store")
    return Download(image, sources, hit, tee)


async def _reread(core: Core, image: Image) -> Image:
    """The image's record now; NotFound (no error: a race, not a loss) when it was deleted
    or lost its data since it was read."""
    try:
        now = await core.db(core.registry.get, image.id)
    except exception.NotFound:
        raise exception.NotFound(f"Image {image.id} was deleted while it was read") from None
    if now.status not in HAS_DATA:
        raise exception.NotFound(f"Image {image.id} is {now.status}")
    return now

