"""ImageService: owns the image lifecycle and the one upload pipeline.

It is the only caller of the registry (records) and the stores (bytes). Both API versions
call it; they only translate requests and responses.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

from glance import copies, formats, recovery
from glance.common import exception
from glance.config import Settings
from glance.context import RequestContext
from glance.domain import (ACTIVE, DEACTIVATED, DELETED, IMPORTING, KILLED, LOCATION_DELETING,
                           LOCATION_SAVING, MEMBER_STATUSES, QUEUED, SAVING, UPLOADING,
                           VISIBILITIES, Image, ImageQuery, Location, Membership, Task,
                           apply_format_rules, check_transition, new_image_id, utcnow,
                           validate_image_id, MAX_NAME_LENGTH)
from glance.registry import Registry
from glance.stores import Store, unique_stores
from glance.stores.base import Chunk, StoredObject, StoreNotFound
from glance.stores.http import check_public_url

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# Fields a caller may set on create or update (the API translates its own names to these).
SETTABLE_FIELDS: frozenset[str] = frozenset({
    "name", "disk_format", "container_format", "visibility", "protected", "min_ram",
    "min_disk", "owner", "os_hidden", "tags"})
MAX_TAG_LENGTH = 255


@dataclass(frozen=True)
class Download:
    """An active image's bytes, ready to send whole or in part, from the first of its
    locations that has them."""

    image: Image
    sources: tuple[tuple[Store, str], ...] = ()  # (store, key); empty: no data (size 0)

    @property
    def store(self) -> Store | None:
        return self.sources[0][0] if self.sources else None

    @property
    def size(self) -> int:
        return self.image.size or 0

    @property
    def local_path(self) -> str | None:
        """A local file to send zero-copy, when the first source keeps one."""
        if not self.sources:
            return None
        store, key = self.sources[0]
        return store.local_path(key)

    def read(self, offset: int, length: int | None = None) -> AsyncIterator[bytes]:
        """Stream ``length`` bytes from ``offset`` (falling back to the next source when a
        store says it does not have the object)."""
        return read_first(self.sources, offset, length)


async def read_first(sources: Iterable[tuple[Store, str]], offset: int = 0,
                     length: int | None = None) -> AsyncIterator[bytes]:
    """The bytes of the first source whose store has the key; StoreNotFound if none has."""
    missing: StoreNotFound | None = None
    for store, key in sources:
        stream = store.get(key, offset, length)
        try:
            try:
                first = await anext(stream)  # type: ignore[call-overload]
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
            await stream.aclose()  # type: ignore[attr-defined]
    raise missing or StoreNotFound("The image has no readable location")


class ImageService:
    """Create, upload, download, update, delete and list images."""

    def __init__(self, settings: Settings, registry: Registry, stores: dict[str, Store],
                 staging: Store | None = None, web_source: Store | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.stores = stores
        self.staging = staging  # v2 stage/import; None: no glance-direct
        self.web_source = web_source  # where web-download fetches; None: no web-download
        self._jobs: set[asyncio.Task[None]] = set()
        self.worker = recovery.new_worker_id()  # stamps what this process has in flight
        self._keep_alive: asyncio.Task[None] | None = None

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- lifecycle of the service -----------------------------------------------------------

    async def start(self) -> None:
        """Start the stores, join the processes sharing the registry, and clean up what
        processes that are gone (an earlier run of this one, say) left half done."""
        for store in unique_stores(self.stores):
            await store.start()
        if self.staging is not None:
            await self.staging.start()
        await recovery.heartbeat(self)
        for alias, store in self.stores.items():
            if alias != store.name and await self._db(self.registry.rename_store, alias,
                                                      store.name) > 0:
                LOG.warning("locations recorded under the alias %s now name store %s", alias,
                            store.name)
        await recovery.recover(self)
        self._keep_alive = asyncio.get_running_loop().create_task(recovery.keep_alive(self))

    async def close(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            await asyncio.gather(self._keep_alive, return_exceptions=True)
        for job in list(self._jobs):
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self._db(self.registry.forget_worker, self.worker)
        for extra in (self.staging, self.web_source):
            if extra is not None:
                await extra.close()
        for store in unique_stores(self.stores):
            await store.close()
        self.registry.close()

    # -- reading ----------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image if the caller may see it, else NotFound."""
        try:
            image = await self._db(self.registry.get, image_id)
        except exception.NotFound:
            raise exception.NotFound(f"Image with identifier {image_id} not found") from None
        if not await self._visible(ctx, image):
            raise exception.NotFound(f"Image with identifier {image_id} not found")
        return image

    async def list_images(self, ctx: RequestContext, query: ImageQuery) -> list[Image]:
        """One page of the images the caller may see."""
        query.viewer = ctx.owner
        query.viewer_is_admin = ctx.is_admin
        if query.marker is not None:
            try:  # an invisible marker is as unknown as a missing one
                await self.get(ctx, query.marker)
            except exception.NotFound:
                raise exception.BadRequest(
                    f"Invalid marker {query.marker}: image could not be found") from None
        return await self._db(self.registry.list_images, query)

    async def download(self, ctx: RequestContext, image_id: str,
                       allow_empty: bool = False, prefer: Iterable[str] = ()) -> Download:
        """Open an active image's bytes (403 when deactivated), read from the stores named in
        ``prefer`` first, in that order (400 for a store this server does not have).

        An image without data (not active yet) is NotFound, or with ``allow_empty`` a
        Download whose store is None.
        """
        preferred = [self._store(name).name for name in prefer]
        image = await self.get(ctx, image_id)
        if image.status == DEACTIVATED and not ctx.is_admin:
            raise exception.Forbidden("The requested image has been deactivated. "
                                      "Image data download is forbidden.")
        if image.status not in (ACTIVE, DEACTIVATED):
            if allow_empty:
                return Download(image)
            raise exception.NotFound(f"Image {image_id} is not active")
        if not image.size:
            return Download(image)
        sources = self._sources(image)
        if not sources:
            raise exception.NotFound(f"The data of image {image_id} is in no configured store")
        if preferred:
            rank = {name: i for i, name in enumerate(dict.fromkeys(preferred))}
            sources = tuple(sorted(sources, key=lambda source: rank.get(source[0].name,
                                                                        len(rank))))
        return Download(image, sources)

    def _sources(self, image: Image) -> tuple[tuple[Store, str], ...]:
        """(store, key) of each active location of ``image`` this server can read, first
        added first; a local file that is gone is skipped."""
        sources = []
        for location in image.active_locations:
            store = self.stores.get(location.store)
            if store is None:
                LOG.error("image %s: its store %s is not configured", image.id, location.store)
                continue
            path = store.local_path(location.key)
            if path is not None and not os.path.exists(path):
                LOG.error("image %s: %s is missing from store %s", image.id, location.key,
                          store.name)
                continue
            sources.append((store, location.key))
        return tuple(sources)

    # -- writing ----------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, fields: dict[str, Any],
                     properties: dict[str, str], image_id: str | None = None,
                     image_type: str | None = None, status: str = QUEUED,
                     property_quota: bool = False) -> Image:
        """Register a new image record (``queued`` unless told otherwise).

        With ``property_quota`` (v2) the number of extra properties is limited.
        """
        fields = self._validated_fields(ctx, fields, image_type, None)
        if property_quota:
            self._check_property_quota(len(properties))
        if image_type is not None:
            properties = {**properties, "type": image_type}
        fields.setdefault("owner", ctx.owner)
        quota = self.settings.project_image_quota
        if quota >= 0 and fields["owner"] is not None:
            count = (await self._db(self.registry.usage, fields["owner"]))["count"]
            if count >= quota:
                raise exception.LimitExceeded(
                    f"Project {fields['owner']} already has {count} images, its quota")
        image = Image(id=validate_image_id(image_id) if image_id else new_image_id(),
                      status=status, **fields)
        image.properties = dict(properties)
        return await self._db(self.registry.create, image)

    async def update(self, ctx: RequestContext, image_id: str, fields: dict[str, Any],
                     properties: dict[str, str], purge_properties: bool,
                     image_type: str | None = None,
                     remove_properties: Iterable[str] = (),
                     property_quota: bool = False, based_on: Image | None = None) -> Image:
        """Change an image's metadata (``property_quota`` as for ``create``).

        A ``tags`` list adds and removes the tags that differ from ``based_on`` (the image as
        the request saw it; by default as read now).
        """
        image = await self._mutable(ctx, image_id)
        seen = (based_on or image).tags
        fields = self._validated_fields(ctx, fields, image_type, image)
        if image_type is not None:
            properties = {**properties, "type": image_type}
        # only what this request changes is written, each in its own rows, in one transaction:
        # concurrent changes to other fields, properties or tags all survive
        tags = fields.pop("tags", None)
        added = [t for t in tags if t not in seen] if tags is not None else []
        removed = [t for t in seen if t not in tags] if tags is not None else []
        return await self._db(
            self.registry.update, image_id, fields, properties, purge_properties,
            remove_properties, tags_added=added, tags_removed=removed,
            tag_quota=self.settings.image_tag_quota if added else None,
            property_quota=self.settings.image_property_quota if property_quota else None)

    async def upload(self, ctx: RequestContext, image_id: str, chunks: AsyncIterator[Chunk],
                     store_name: str | None = None, expected_size: int | None = None,
                     expected_checksum: str | None = None,
                     failed_status: str = KILLED, from_status: str = QUEUED) -> Image:
        """The upload pipeline, used by every way data comes in.

        Claims the image (``from_status`` → saving), streams the chunks into the store while computing
        MD5 and SHA-512 and enforcing the declared size and the size cap, verifies, and marks
        the image active. On any failure the partial data is deleted and the image is set to
        ``failed_status`` before the error propagates.
        """
        image = await self._mutable(ctx, image_id)
        store = self._store(store_name or self.settings.default_store)
        if not store.writable:
            raise exception.BadRequest(f"Store {store.name} is read-only")
        if image.status != from_status:
            raise exception.Conflict(
                f"Cannot upload to an image that is {image.status} (it must be {from_status})")
        _require_formats(image)
        if expected_checksum is not None and len(expected_checksum) > 32:
            raise exception.BadRequest("Invalid checksum: an MD5 hex digest has 32 characters")
        limit = await self._size_limit(image, expected_size)
        disk = self._disk_check(image)
        # the write is recorded (a saving location held by this process) before any byte is
        # written, so that a crash leaves something recovery can clean up
        await self._db(self.registry.start_write, image_id, store=store.name, worker=self.worker,
                       from_status=from_status, to_status=SAVING,
                       values={"size": expected_size})
        failed = _failure_values(failed_status)
        digest = _Digest()
        try:
            stored = await store.put(
                image_id, self._verified(chunks, digest, expected_size, expected_checksum, limit,
                                         disk), expected_size)
        except BaseException as exc:
            # the store removed what it wrote; only the record is left to undo
            await asyncio.shield(self._db(
                self.registry.abandon_write, image_id, store=store.name, worker=self.worker,
                from_status=SAVING, to_status=failed_status, values=failed))
            gone = _client_gone(exc, "Upload")
            if gone is None:
                raise
            raise gone from exc
        values: dict[str, Any] = {
            "status": ACTIVE, "size": stored.size, "checksum": digest.md5.hexdigest(),
            "os_hash_algo": "sha512", "os_hash_value": digest.sha512.hexdigest()}
        if disk is not None and disk.result is not None:
            values["virtual_size"] = disk.result.virtual_size
        try:
            return await self._db(self.registry.finish_upload, image_id, store=store.name,
                                  worker=self.worker, key=stored.key, values=values)
        except BaseException as exc:
            # deleted, or taken over by recovery, while we were saving
            if await asyncio.shield(self._take_back(image_id, store, stored.key)):
                await asyncio.shield(self._db(
                    self.registry.abandon_write, image_id, store=store.name,
                    worker=self.worker, from_status=SAVING, to_status=failed_status,
                    values=failed))
            if isinstance(exc, exception.NotFound):
                raise exception.Gone(
                    f"Image {image_id} was deleted during the upload; its data was discarded"
                ) from None
            raise

    async def _take_back(self, image_id: str, store: Store, key: str) -> bool:
        """After a write of this process could not be committed: delete its bytes if they
        are still this process's to delete — its location still held by it (then True: the
        caller forgets the location), or the image deleted or killed (its keys are never
        written again). Bytes under a location another process took over are left to it."""
        mine = Location(store.name, image_id, LOCATION_SAVING, self.worker)
        if await self._db(self.registry.claim_location, image_id, store.name,
                          worker=self.worker, expected=mine):
            return await self._delete_held(image_id, store, key)
        try:
            image = await self._db(self.registry.get, image_id, True)
        except exception.NotFound:
            return False
        if image.deleted or image.status == KILLED:
            await store.delete(key)
        return False

    async def _delete_held(self, image_id: str, store: Store, key: str) -> bool:
        """Delete the bytes of a location this process holds for deletion; if the store
        fails, let go of the location (recovery tries again) and say False."""
        try:
            await store.delete(key)
            return True
        except exception.StoreError as exc:
            LOG.error("image %s: cannot delete its data in store %s (%s); recovery will try "
                      "again", image_id, store.name, exc)
            await self._db(self.registry.release_location, image_id, store.name,
                           worker=self.worker)
            return False

    async def register_location(self, ctx: RequestContext, image_id: str, url: str) -> Image:
        """Activate a queued image whose data already lives at an http(s) ``url``."""
        image = await self._mutable(ctx, image_id)
        if image.status != QUEUED:
            raise exception.BadRequest(
                "Attempted to update Location field for an image not in queued status.")
        _require_formats(image)
        stat = await self.check_source(url, readable=True)
        assert stat is not None
        return await self._db(
            self.registry.update, image_id,
            {"status": ACTIVE, "size": stat.size}, expected_status=[QUEUED],
            locations=[Location(self._http_store().name, url)])

    async def check_source(self, url: str, readable: bool = False) -> StoredObject | None:
        """BadRequest for a URL this server will not read from: not http(s), carrying
        credentials, or on a non-public address (unless ``web_download_allow_private``);
        with ``readable``, also one that does not answer; then its size."""
        await check_public_url(url, self.settings.web_download_allow_private)
        if not readable:
            return None
        try:
            return await self._remote_source().stat(url)
        except exception.NotFound as exc:
            raise exception.BadRequest(f"Location {url} is not readable: {exc}") from None

    async def copy_from(self, ctx: RequestContext, image_id: str, url: str,
                        store_name: str | None = None, expected_size: int | None = None,
                        expected_checksum: str | None = None) -> Image:
        """Fetch the data of a queued image from an http(s) ``url`` through the pipeline."""
        await self.check_source(url)
        source = self._remote_source().get(url)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in source:
                    yield chunk
            except exception.NotFound as exc:
                raise exception.BadRequest(f"Cannot copy from {url}: {exc}") from None

        return await self.upload(ctx, image_id, chunks(), store_name, expected_size,
                                 expected_checksum)

    # -- v2 import: stage, then import in the background -----------------------------------

    async def stage(self, ctx: RequestContext, image_id: str, chunks: AsyncIterator[Chunk],
                    expected_size: int | None = None) -> Image:
        """Keep data for a later glance-direct import (queued → uploading)."""
        staging = self._staging()
        image = await self._mutable(ctx, image_id)
        if image.status != QUEUED:
            raise exception.Conflict(f"Cannot stage data for an image that is {image.status}")
        limit = await self._size_limit(image, expected_size)
        # the staging copy is recorded while it is written, so that recovery can tell a
        # half-staged image (back to queued) from one being staged by a live process
        await self._db(self.registry.start_write, image_id, store=staging.name,
                       worker=self.worker, from_status=QUEUED, to_status=UPLOADING)
        try:
            stored = await staging.put(image_id, self._verified(
                chunks, _Digest(), expected_size, None, limit), expected_size)
        except BaseException as exc:
            await asyncio.shield(self._db(
                self.registry.abandon_write, image_id, store=staging.name, worker=self.worker,
                from_status=UPLOADING, to_status=QUEUED))
            gone = _client_gone(exc, "Staging")
            if gone is None:
                raise
            raise gone from exc
        try:
            await self._db(self.registry.finish_stage, image_id, store=staging.name,
                           worker=self.worker)
        except BaseException as exc:
            # deleted, or taken over by recovery, while we were staging
            if await asyncio.shield(self._take_back(image_id, staging, stored.key)):
                await asyncio.shield(self._db(
                    self.registry.abandon_write, image_id, store=staging.name,
                    worker=self.worker, from_status=UPLOADING, to_status=QUEUED))
            if isinstance(exc, exception.NotFound):
                raise exception.Gone(
                    f"Image {image_id} was deleted while its data was staged; the data was "
                    f"discarded") from None
            raise
        return await self.get(ctx, image_id)

    async def import_image(self, ctx: RequestContext, image_id: str, method: str,
                           uri: str | None = None, store_name: str | None = None,
                           stores: list[str] | None = None, all_stores: bool = False,
                           all_stores_must_succeed: bool = True) -> Task | None:
        """Start importing data into an image; the work runs as a task in the background.

        copy-image copies an active image into ``stores`` (or every store it is not in
        yet); None when there is nothing to copy.
        """
        image = await self._mutable(ctx, image_id)
        if method == "copy-image":
            return await copies.start_copy(self, ctx, image, stores, all_stores,
                                           all_stores_must_succeed)
        if store_name is not None:
            self._store(store_name)
        if method == "glance-direct":
            self._staging()
            expected = UPLOADING
        elif method == "web-download" and self.web_source is not None:
            if not isinstance(uri, str):
                raise exception.BadRequest("web-download needs method.uri, an http(s) URL")
            await check_public_url(uri, self.settings.web_download_allow_private)
            expected = QUEUED
        else:
            raise exception.BadRequest(f"Import method {method!r} is not supported")
        if image.status != expected:
            raise exception.Conflict(
                f"Image {image_id} is {image.status}; {method} needs it {expected}")
        if not image.disk_format or not image.container_format:
            raise exception.Conflict("disk_format and container_format must be set before "
                                     "importing data")
        # the task exists (stamped with this process) before the image is importing, so
        # that recovery in another process never takes a running import for an orphan
        task = Task(id=new_image_id(), image_id=image_id, owner=ctx.owner,
                    input={"import_req": {"method": {"name": method, **(
                        {"uri": uri} if uri else {})}}, "backend": [store_name]},
                    worker=self.worker)
        await self._db(self.registry.create_task, task)
        try:
            await self._db(self.registry.update, image_id, {"status": IMPORTING},
                           expected_status=[expected])
        except BaseException as exc:
            await asyncio.shield(self._db(self.registry.update_task, task.id, "failure",
                                          f"Not started: {exc}"))
            raise
        job = asyncio.get_running_loop().create_task(
            self._run_import(ctx, image_id, task.id, method, uri, store_name))
        self._jobs.add(job)
        job.add_done_callback(self._jobs.discard)
        return task

    async def usage(self, ctx: RequestContext) -> dict[str, int]:
        """What the caller's project uses: image count and bytes, uploads in progress, and
        bytes staged for import (an admin without a project: everyone's)."""
        owner = None if ctx.is_admin and ctx.owner is None else ctx.owner
        usage = await self._db(self.registry.usage, owner)
        staged = 0
        if self.staging is not None:
            for image in await self._db(self.registry.ids_in_status, UPLOADING):
                if owner is None or image.owner == owner:
                    try:
                        staged += (await self.staging.stat(image.id)).size
                    except exception.NotFound:
                        pass
        return {**usage, "staged": staged}

    async def image_tasks(self, ctx: RequestContext, image_id: str) -> list[Task]:
        await self.get(ctx, image_id)
        return await self._db(self.registry.image_tasks, image_id)

    async def _run_import(self, ctx: RequestContext, image_id: str, task_id: str, method: str,
                          uri: str | None, store_name: str | None) -> None:
        await self._db(self.registry.update_task, task_id, "processing")
        if method == "glance-direct":
            chunks = self._staging().get(image_id)
        else:
            assert uri is not None and self.web_source is not None
            chunks = self.web_source.get(uri)
        try:
            # a failed import leaves the image importing, so that the staged data is dropped
            # before the image is queued again (and can be staged anew)
            await self.upload(ctx, image_id, chunks, store_name, failed_status=IMPORTING,
                              from_status=IMPORTING)
        except BaseException as exc:
            LOG.warning("import of image %s (%s) failed: %s", image_id, method, exc)
            await asyncio.shield(self._unstage(image_id, IMPORTING))
            await asyncio.shield(self._db(self.registry.update_task, task_id, "failure",
                                          f"{type(exc).__name__}: {exc}"))
            if not isinstance(exc, Exception):
                raise
            return
        await self._discard_staged(image_id)
        await self._db(self.registry.update_task, task_id, "success", "Import complete")

    async def _unstage(self, image_id: str, status: str) -> None:
        """Drop staged data and put an image left in ``status`` back to queued (``status``
        must be one from which nothing can stage again meanwhile)."""
        await self._discard_staged(image_id)
        try:
            await self._db(self.registry.update, image_id, {"status": QUEUED},
                           expected_status=[status], locations=[])
        except (exception.NotFound, exception.Conflict):
            pass

    async def _discard_staged(self, image_id: str) -> None:
        if self.staging is not None:
            await self.staging.delete(image_id)

    def _staging(self) -> Store:
        if self.staging is None:
            raise exception.NotFound("The glance-direct import method is not enabled")
        return self.staging

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (403 when protected)."""
        image = await self._mutable(ctx, image_id)
        if image.protected:
            raise exception.Forbidden("Image is protected")
        check_transition(image.status, DELETED)
        image = await self._db(
            self.registry.update, image_id,
            {"status": DELETED, "deleted": True, "deleted_at": utcnow()},
            expected_status=[image.status], locations_status=LOCATION_DELETING,
            worker=self.worker)
        await self._discard_data(image)
        await self._discard_staged(image_id)

    async def delete_from_store(self, ctx: RequestContext, store_name: str,
                                image_id: str) -> None:
        """Remove the copy of an active image kept in one store (never its last copy)."""
        await copies.delete_from_store(self, ctx, store_name, image_id)

    async def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """active → deactivated (no-op when deactivated; 403 from any other status)."""
        image = await self._mutable(ctx, image_id)
        if image.status == DEACTIVATED:
            return image
        if image.status != ACTIVE:
            raise exception.Forbidden(f"Cannot deactivate an image that is {image.status}")
        return await self._db(self.registry.update, image_id, {"status": DEACTIVATED},
                              expected_status=[ACTIVE])

    async def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """deactivated → active (no-op when active; 403 from any other status)."""
        image = await self._mutable(ctx, image_id)
        if image.status == ACTIVE:
            return image
        if image.status != DEACTIVATED:
            raise exception.Forbidden(f"Cannot reactivate an image that is {image.status}")
        return await self._db(self.registry.update, image_id, {"status": ACTIVE},
                              expected_status=[DEACTIVATED])

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Add one tag (one SQL change: concurrent tag changes all survive)."""
        await self._mutable(ctx, image_id)
        _check_tags([tag])
        await self._db(self.registry.add_tag, image_id, tag,
                       quota=self.settings.image_tag_quota)

    async def remove_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Remove one tag (404 when the image does not have it)."""
        await self._mutable(ctx, image_id)
        await self._db(self.registry.remove_tag, image_id, tag)

    # -- members ----------------------------------------------------------------------------

    async def members(self, ctx: RequestContext, image_id: str) -> list[Membership]:
        await self.get(ctx, image_id)
        return await self._db(self.registry.members, image_id)

    async def shared_with(self, ctx: RequestContext, member_id: str) -> list[Membership]:
        if not ctx.is_admin and member_id != ctx.owner:
            return []
        return await self._db(self.registry.shared_with, member_id)

    async def set_member(self, ctx: RequestContext, image_id: str, member_id: str,
                         can_share: bool | None) -> None:
        await self._sharable(ctx, image_id)
        await self._db(self.registry.set_member, image_id, member_id, can_share)

    async def replace_members(self, ctx: RequestContext, image_id: str,
                              members: dict[str, bool | None]) -> None:
        await self._sharable(ctx, image_id)
        await self._db(self.registry.replace_members, image_id, members)

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        await self._sharable(ctx, image_id)
        await self._db(self.registry.delete_member, image_id, member_id)

    # v2 members: only shared images have them; they accept or reject the share

    async def member_list(self, ctx: RequestContext, image_id: str) -> list[Membership]:
        """The owner sees every member, a member sees itself."""
        image = await self._shared(ctx, image_id)
        members = await self._db(self.registry.members, image.id)
        if ctx.is_admin or image.owner == ctx.owner:
            return members
        return [m for m in members if m.member_id == ctx.owner]

    async def get_member(self, ctx: RequestContext, image_id: str,
                         member_id: str) -> Membership:
        image = await self._shared(ctx, image_id)
        if not ctx.is_admin and image.owner != ctx.owner and member_id != ctx.owner:
            raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
        return await self._db(self.registry.member, image_id, member_id)

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> Membership:
        """A new pending member (owner or admin only; 409 if already a member)."""
        await self._mutable(ctx, image_id)
        await self._shared(ctx, image_id)
        if not isinstance(member_id, str) or not member_id or len(member_id) > 255:
            raise exception.BadRequest("A member must be a project id of 1 to 255 characters")
        count = len(await self._db(self.registry.members, image_id))
        if count >= self.settings.image_member_quota:
            raise exception.LimitExceeded(
                f"Image {image_id} already has {count} members, the most allowed")
        return await self._db(self.registry.add_member, image_id, member_id)

    async def set_member_status(self, ctx: RequestContext, image_id: str, member_id: str,
                                status: str) -> Membership:
        """The member (or an admin) accepts, rejects or resets its membership."""
        await self._shared(ctx, image_id)
        if status not in MEMBER_STATUSES:
            raise exception.BadRequest(
                f"Invalid member status {status!r}: must be one of {', '.join(MEMBER_STATUSES)}")
        if not ctx.is_admin and member_id != ctx.owner:
            raise exception.Forbidden("Only the member itself may change its status")
        return await self._db(self.registry.set_member_status, image_id, member_id, status)

    async def remove_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        await self._mutable(ctx, image_id)
        await self._shared(ctx, image_id)
        await self._db(self.registry.member, image_id, member_id)
        await self._db(self.registry.delete_member, image_id, member_id)

    async def _shared(self, ctx: RequestContext, image_id: str) -> Image:
        image = await self.get(ctx, image_id)
        if image.visibility != "shared":
            raise exception.Forbidden("Only shared images have members.")
        return image

    # -- helpers ----------------------------------------------------------------------------

    def _store(self, name: str) -> Store:
        store = self.stores.get(name)
        if store is None:
            raise exception.BadRequest(
                f"Requested store {name} not available on this server "
                f"(available: {', '.join(sorted(self.stores))})")
        return store

    def _remote_source(self) -> Store:
        """Where v1 location and copy-from read: the web-download source, which refuses
        non-public addresses (each redirect hop too) unless allowed."""
        return self.web_source if self.web_source is not None else self._http_store()

    def _http_store(self) -> Store:
        for store in self.stores.values():
            if store.driver == "http":
                return store
        raise exception.BadRequest("This server has no http store")

    def check_store(self, name: str) -> None:
        """BadRequest unless this server has a store called ``name``."""
        self._store(name)

    async def _visible(self, ctx: RequestContext, image: Image) -> bool:
        if ctx.is_admin or image.visibility in ("public", "community"):
            return True
        if ctx.owner is not None and image.owner == ctx.owner:
            return True
        if ctx.owner is None or image.visibility != "shared":
            return False  # only shared images are seen by their members
        members = await self._db(self.registry.members, image.id)
        return any(m.member_id == ctx.owner for m in members)

    async def _mutable(self, ctx: RequestContext, image_id: str) -> Image:
        image = await self.get(ctx, image_id)
        if not ctx.is_admin and (ctx.owner is None or image.owner != ctx.owner):
            raise exception.Forbidden("Only the image's owner or an administrator may change it")
        return image

    async def _sharable(self, ctx: RequestContext, image_id: str) -> Image:
        image = await self.get(ctx, image_id)
        if ctx.is_admin or (ctx.owner is not None and image.owner == ctx.owner):
            return image
        members = await self._db(self.registry.members, image_id)
        if any(m.member_id == ctx.owner and m.can_share for m in members):
            return image
        raise exception.NotFound(f"Image with identifier {image_id} not found")

    def _validated_fields(self, ctx: RequestContext, fields: dict[str, Any],
                          image_type: str | None, current: Image | None) -> dict[str, Any]:
        unknown = set(fields) - SETTABLE_FIELDS
        if unknown:
            raise exception.BadRequest(f"Unknown image field(s): {', '.join(sorted(unknown))}")
        fields = dict(fields)
        for key in ("name", "owner"):
            if fields.get(key) is not None and not isinstance(fields[key], str):
                raise exception.BadRequest(f"{key} must be a string or null")
        name = fields.get("name")
        if name is not None and len(name) > MAX_NAME_LENGTH:
            raise exception.BadRequest(f"Image name too long: at most {MAX_NAME_LENGTH} characters")
        if "visibility" in fields and fields["visibility"] not in VISIBILITIES:
            raise exception.BadRequest(f"Invalid visibility {fields['visibility']!r}")
        for key in ("min_ram", "min_disk"):
            if key in fields and (not isinstance(fields[key], int) or
                                  isinstance(fields[key], bool) or fields[key] < 0):
                raise exception.BadRequest(f"{key} must be a non-negative integer")
        for key in ("protected", "os_hidden"):
            if key in fields and not isinstance(fields[key], bool):
                raise exception.BadRequest(f"{key} must be true or false")
        if "tags" in fields:
            tags = fields["tags"]
            if not isinstance(tags, list):
                raise exception.BadRequest(
                    f"Tags must be a list of strings of 1 to {MAX_TAG_LENGTH} characters")
            _check_tags(tags)
            fields["tags"] = list(dict.fromkeys(tags))
            if len(fields["tags"]) > self.settings.image_tag_quota:
                raise exception.LimitExceeded(
                    f"An image may have at most {self.settings.image_tag_quota} tags")
        if "owner" in fields and not ctx.is_admin and fields["owner"] != (
                current.owner if current else ctx.owner):
            raise exception.Forbidden("Only an administrator may set an image's owner")
        if fields.get("visibility") == "public" and not ctx.is_admin and (
                current is None or current.visibility != "public"):
            raise exception.Forbidden("Only an administrator may make an image public")
        if "disk_format" in fields or "container_format" in fields or image_type is not None:
            fields["disk_format"], fields["container_format"] = apply_format_rules(
                fields.get("disk_format", current.disk_format if current else None),
                fields.get("container_format", current.container_format if current else None),
                image_type)
        return fields

    def _check_property_quota(self, count: int, current: int = 0) -> None:
        """413 when an image would have more extra properties than allowed (an image already
        over the quota may still shrink)."""
        quota = self.settings.image_property_quota
        if quota >= 0 and count > quota and count > current:
            raise exception.LimitExceeded(
                f"An image may have at most {quota} extra properties (this change makes "
                f"{count})")

    async def _size_limit(self, image: Image, expected_size: int | None) -> "_Limit":
        """The most bytes this upload may bring: the size cap or the owner's quota left.
        A declared ``expected_size`` beyond it is refused (413) before any data is read."""
        cap = self.settings.image_size_cap
        limit = _Limit(cap, f"the size limit of {cap} bytes")
        quota = self.settings.project_storage_quota
        if quota >= 0 and image.owner is not None:
            used = (await self._db(self.registry.usage, image.owner, image.id))["size"]
            if quota - used < limit.bytes:
                limit = _Limit(max(quota - used, 0),
                               f"project {image.owner}'s storage quota of {quota} bytes "
                               f"({used} already used)")
        if expected_size is not None and expected_size > limit.bytes:
            raise exception.LimitExceeded(f"Image size {expected_size} exceeds {limit.reason}")
        return limit

    def _disk_check(self, image: Image) -> "_DiskCheck | None":
        """The format inspection an upload of ``image`` gets (None: none, because it is off,
        the container wraps the disk, or the disk_format is not one we inspect)."""
        if not self.settings.image_format_inspection or image.container_format != "bare" or \
                image.disk_format not in formats.INSPECTED:
            return None
        return _DiskCheck(image.disk_format)

    async def _verified(self, chunks: AsyncIterator[Chunk], digest: "_Digest",
                        expected_size: int | None, expected_checksum: str | None,
                        limit: "_Limit", disk: "_DiskCheck | None" = None
                        ) -> AsyncIterator[Chunk]:
        """Pass chunks through, hashing each while the store writes it, enforcing sizes, and
        (with ``disk``) checking the data is a safe disk of the declared format."""
        size = 0
        pending: Awaitable[Any] | None = None
        try:
            async for chunk in chunks:
                if pending is not None:
                    await pending
                    pending = None
                size += len(chunk)
                if expected_size is not None and size > expected_size:
                    raise exception.BadRequest(
                        f"Size mismatch: the declared size is {expected_size} bytes but the "
                        f"data is longer")
                if size > limit.bytes:
                    raise exception.LimitExceeded(f"Image data exceeds {limit.reason}")
                pending = digest.update(chunk)
                if disk is not None:
                    disk.inspector.feed(chunk)
                yield chunk
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)
        if expected_size is not None and size != expected_size:
            raise exception.BadRequest(
                f"Size mismatch: the declared size is {expected_size} bytes but the data has "
                f"{size}")
        if expected_checksum is not None and expected_checksum.lower() != digest.md5.hexdigest():
            raise exception.BadRequest(
                f"Checksum mismatch: x-image-meta-checksum says {expected_checksum} but the data's "
                f"MD5 is {digest.md5.hexdigest()}")
        if disk is not None:
            disk.check()

    async def _discard_partial(self, image_id: str, location: Location) -> bool:
        """After a crash: remove whatever an interrupted write of ``location`` left in its
        store (a whole object, if the crash came after the store's commit; parts; segments).
        False when the store could not be reached (the caller keeps the record)."""
        store = self._holder(location)
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

    def _holder(self, location: Location) -> Store | None:
        """The store ``location`` names: a configured one, or staging (data being staged)."""
        if self.staging is not None and location.store == self.staging.name:
            return self.staging
        return self.stores.get(location.store)

    async def _discard_data(self, image: Image) -> None:
        """Delete every copy of a deleted image's bytes (each location held by this process
        for deletion), then forget its locations. A store that fails keeps its location for
        recovery to retry."""
        for location in image.locations:
            store = self._holder(location)
            if store is None:
                LOG.error("image %s: its store %s is no longer configured; data left in place",
                          image.id, location.store)
                continue
            if store.writable and not await self._delete_held(image.id, store, location.key):
                continue
            await self._db(self.registry.forget_location, image.id, location.store,
                           worker=self.worker)


def _client_gone(exc: BaseException, what: str) -> exception.BadRequest | None:
    """The 400 to raise when ``exc`` means the client went away mid-transfer, else None."""
    if isinstance(exc, (ConnectionError, asyncio.IncompleteReadError)):
        return exception.BadRequest(
            f"{what} failed: the client disconnected before sending all data")
    return None


def _check_tags(tags: list[Any]) -> None:
    if not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in tags):
        raise exception.BadRequest(
            f"Tags must be a list of strings of 1 to {MAX_TAG_LENGTH} characters")


def _failure_values(status: str) -> dict[str, Any]:
    """What a failed upload resets: nothing when the image is killed; when it goes back to
    be uploaded again, everything the upload set, as if it never happened."""
    if status == KILLED:
        return {}
    return dict(size=None, virtual_size=None, checksum=None, os_hash_algo=None,
                os_hash_value=None)


def _require_formats(image: Image) -> None:
    if not image.disk_format:
        raise exception.BadRequest("Disk format is not specified.")
    if not image.container_format:
        raise exception.BadRequest("Container format is not specified.")


@dataclass(frozen=True)
class _Limit:
    """An upper bound on an upload's size and why it exists."""

    bytes: int
    reason: str


class _DiskCheck:
    """The format inspection of one upload declared ``declared``."""

    def __init__(self, declared: str) -> None:
        self.declared = declared
        self.inspector = formats.Inspector()
        self.result: formats.Result | None = None

    def check(self) -> None:
        """InvalidDiskImage (415) unless the data is a safe disk of the declared format."""
        self.result = found = self.inspector.result()
        problems = [formats.mismatch(self.declared, found)]
        if not found.safe:
            problems.append(f"the image data is an unsafe {found.format} disk: {found.problem}")
        problem = "; ".join(p for p in problems if p)
        if problem:
            raise exception.InvalidDiskImage(f"Image data rejected: {problem}")


class _Digest:
    """MD5 and SHA-512 of a stream, each updated in its own worker thread."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha512 = hashlib.sha512()

    def update(self, chunk: Chunk) -> Awaitable[Any]:
        loop = asyncio.get_running_loop()
        return asyncio.gather(loop.run_in_executor(None, self.md5.update, chunk),
                              loop.run_in_executor(None, self.sha512.update, chunk))
