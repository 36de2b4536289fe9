"""ImageService: what the APIs call, one method per operation. It owns the image lifecycle
(create, change, transitions, tags, delete) and hands data, imports, members, copies and
recovery to their rooms. It is the only caller of the registry and the stores."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable

from glance.cache import CachedImage, ImageCache
from glance.common import exception
from glance.common.metrics import Metrics
from glance.config import Settings
from glance.context import RequestContext
from glance.domain import (
    ACTIVE,
    DEACTIVATED,
    HAS_DATA,
    QUEUED,
    UPLOADING,
    Image,
    ImageQuery,
    Task,
    new_image_id,
    validate_image_id,
)
from glance.registry import Registry
from glance.service import (
    access,
    cache,
    copies,
    data,
    health,
    imports,
    locations,
    recovery,
    tasks,
    upkeep,
)
from glance.service.core import Core
from glance.service.data import Download, Upload
from glance.service.imports import Source
from glance.service.locations import ShownLocation
from glance.service.members import Members
from glance.service.metadefs import Metadefs
from glance.service.pipeline import discard_data
from glance.service.requests import Change, Claims, NewImage, NewLocation, StoreInfo
from glance.service.tickets import DownloadTickets
from glance.stores import Store, unique_stores
from glance.stores.base import Chunk

LOG = logging.getLogger(__name__)


class ImageService:
    """Create, upload, download, update, delete and list images."""

    def __init__(self, settings: Settings, registry: Registry, stores: dict[str, Store],
                 staging: Store | None = None, web_source: Store | None = None,
                 image_cache: ImageCache | None = None, metrics: Metrics | None = None) -> None:
        self.core = Core(settings, registry, stores, staging, web_source, image_cache, metrics)
        self.sharing = Members(self.core)  # v1 and v2 members
        self.metadefs = Metadefs(self.core)  # metadata definitions
        self.tickets = DownloadTickets(self.core)  # the console's download links
        self.upkeep = upkeep.Upkeep(self.core)  # verify, orphans, scrub (admin commands)
        self._keep_alive: asyncio.Task[None] | None = None

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def metrics(self) -> Metrics:
        return self.core.metrics

    # -- lifecycle of the service -----------------------------------------------------------

    async def start(self) -> None:
        """Start the stores, join the processes sharing the registry, and clean up what
        processes that are gone (an earlier run of this one, say) left half done."""
        core = self.core
        for store in unique_stores(core.stores):
            await store.start()
        if core.staging is not None:
            await core.staging.start()
        await recovery.heartbeat(core)
        for alias, store in core.stores.items():
            if alias != store.name and await core.db(core.registry.rename_store, alias,
                                                     store.name) > 0:
                LOG.warning("locations recorded under the alias %s now name store %s", alias,
                            store.name)
        await recovery.recover(core)
        if core.cache is not None:
            await asyncio.to_thread(core.cache.prepare)
            core.spawn(cache.prefetcher(core))
        self._keep_alive = asyncio.get_running_loop().create_task(recovery.keep_alive(core))
        if core.settings.delayed_delete:
            core.spawn(upkeep.scrubber(core))  # data of images deleted scrub_time ago

    async def close(self) -> None:
        core = self.core
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            await asyncio.gather(self._keep_alive, return_exceptions=True)
        for job in list(core.jobs):
            job.cancel()
        await asyncio.gather(*core.jobs, return_exceptions=True)
        await core.db(core.registry.forget_worker, core.worker)
        for extra in (core.staging, core.web_source):
            if extra is not None:
                await extra.close()
        for store in unique_stores(core.stores):
            await store.close()
        core.registry.close()

    # -- reading ----------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image if the caller may see it, else NotFound."""
        return await self.core.get(ctx, image_id)

    async def list_images(self, ctx: RequestContext, query: ImageQuery) -> list[Image]:
        """One page of the images the caller may see."""
        query.viewer = ctx.owner
        query.viewer_is_admin = ctx.is_admin
        if query.marker is not None:
            try:  # an invisible marker is as unknown as a missing one
                await self.core.get(ctx, query.marker)
            except exception.NotFound:
                raise exception.BadRequest(
                    f"Invalid marker {query.marker}: image could not be found") from None
        return await self.core.db(self.core.registry.list_images, query)

    async def download(self, ctx: RequestContext, image_id: str, *, allow_empty: bool = False,
                       prefer: Iterable[str] = ()) -> Download:
        """An active image's bytes (see ``data.download``)."""
        return await data.download(self.core, ctx, image_id, allow_empty=allow_empty,
                                   prefer=prefer)

    async def usage(self, ctx: RequestContext) -> dict[str, int]:
        """What the caller's project uses: image count and bytes, uploads in progress, and
        bytes staged for import (an admin without a project: everyone's)."""
        core = self.core
        owner = None if ctx.is_admin and ctx.owner is None else ctx.owner
        usage = await core.db(core.registry.usage, owner)
        staged = 0
        if core.staging is not None:
            for image in await core.db(core.registry.ids_in_status, UPLOADING):
                if owner is None or image.owner == owner:
                    try:
                        staged += (await core.staging.stat(image.id)).size
                    except exception.NotFound:
                        pass
        return {**usage, "staged": staged}

    async def image_tasks(self, ctx: RequestContext, image_id: str) -> list[Task]:
        await self.core.get(ctx, image_id)
        return await self.core.db(self.core.registry.image_tasks, image_id)

    async def create_task(self, ctx: RequestContext, task_type: Any, task_input: Any,
                          new: NewImage) -> Task:
        """A legacy ``import`` task (POST /v2/tasks): a new image (``new``) filled by
        web-download from the input's import_from (400 before anything exists if bad)."""
        url = await tasks.check_import_input(self.core, task_type, task_input)
        image = await self.create(ctx, new, property_quota=True)
        try:
            return await tasks.start_import_task(self.core, ctx, image, url, task_input)
        except BaseException:
            await asyncio.shield(self.core.db(self.core.registry.mark_deleted, image.id,
                                              worker=self.core.worker, from_=image.status))
            raise

    async def get_task(self, ctx: RequestContext, task_id: str) -> Task:
        return await tasks.get_task(self.core, ctx, task_id)

    async def list_tasks(self, ctx: RequestContext, query: tasks.TaskQuery) -> list[Task]:
        return await tasks.list_tasks(self.core, ctx, query)

    async def readiness(self) -> list[health.Check]:
        """Whether the registry and each store answer, each timed (see ``health``)."""
        return await health.readiness(self.core)

    def store_infos(self) -> list[StoreInfo]:
        """Each store instance once, under its own name (aliases such as ``file`` are not
        stores; internal ones are not listed)."""
        default = self.core.stores[self.settings.default_store].name
        return [StoreInfo(s.name, s.driver, s.name == default, s.writable, s.weight)
                for s in unique_stores(self.core.stores) if not s.name.startswith("os_glance_")]

    def store_weights(self) -> dict[str, int]:
        """Each store's weight by name (how the stores of an image are listed)."""
        return {name: store.weight for name, store in self.core.stores.items()}

    def writable_store_names(self) -> list[str]:
        """The names (and aliases) an upload may name."""
        return [name for name, store in self.core.stores.items() if store.writable]

    # -- the image cache (admin only) --------------------------------------------------------

    async def cache_listing(self, ctx: RequestContext) -> tuple[list[CachedImage], list[str]]:
        """This node's cached images and the ids queued for its prefetcher."""
        return await cache.listing(self.core, ctx)

    async def cache_enqueue(self, ctx: RequestContext, image_id: str) -> None:
        """Queue an active image for prefetching into this node's cache."""
        await cache.enqueue(self.core, ctx, image_id)

    async def cache_remove(self, ctx: RequestContext, image_id: str) -> None:
        """Drop an image from this node's cache and prefetch queue."""
        await cache.remove(self.core, ctx, image_id)

    async def cache_clear(self, ctx: RequestContext, target: str) -> None:
        """Empty this node's cache (``cache``), prefetch queue (``queue``) or ``both``."""
        await cache.clear(self.core, ctx, target)

    # -- writing ----------------------------------------------------------------------------

    async def create(self, ctx: RequestContext, new: NewImage, *,
                     property_quota: bool = False) -> Image:
        """Register a new ``queued`` image record. With ``property_quota`` (v2) the number
        of extra properties is limited."""
        core = self.core
        fields = access.validated_fields(core.settings, ctx, new.fields, new.image_type, None,
                                         amazon_pairs=new.amazon_pairs)
        if property_quota:
            access.check_property_quota(core.settings, len(new.properties))
        access.check_properties(new.properties)
        properties = dict(new.properties)
        if new.image_type is not None:
            properties["type"] = new.image_type
        fields.setdefault("owner", ctx.owner)
        access.check_owner(fields["owner"])
        await access.check_image_quota(core, fields["owner"])
        image = Image(id=validate_image_id(new.image_id) if new.image_id else new_image_id(),
                      status=QUEUED, **fields)
        image.properties = properties
        return await core.db(core.registry.create, image)

    async def register(self, ctx: RequestContext, new: NewImage, source: Source,
                       claimed_status: str | None = None) -> Image:
        """v1 create: a new image and its data from whichever ``source`` is named; a source
        this server will not read from is refused before any record exists."""
        source.check()
        if claimed_status not in (None, QUEUED):
            raise exception.Forbidden("Attribute 'status' is read-only")
        if source.store is not None:
            self.core.store(source.store)
        await imports.check_source(self.core, source)
        image = await self.create(ctx, new)
        return await imports.add_data(self.core, ctx, image, source)

    async def update(self, ctx: RequestContext, image_id: str, change: Change, *,
                     property_quota: bool = False, based_on: Image | None = None) -> Image:
        """Change an image's metadata (``property_quota`` as for ``create``). A ``tags``
        list adds and removes the tags that differ from ``based_on`` (the image as the
        request saw it; by default as read now). Only what changes is written."""
        core = self.core
        image = await access.mutable(core, ctx, image_id)
        seen = (based_on or image).tags
        fields = access.validated_fields(core.settings, ctx, change.fields, change.image_type,
                                         image, amazon_pairs=change.amazon_pairs)
        access.check_properties(change.properties)
        properties = dict(change.properties)
        if change.image_type is not None:
            properties["type"] = change.image_type
        tags = fields.pop("tags", None)
        wanted = seen if tags is None else tags
        added = [t for t in wanted if t not in seen]
        removed = [t for t in seen if t not in wanted]
        return await core.db(
            core.registry.change_metadata, image_id, fields=fields, set_properties=properties,
            remove_properties=change.removed, purge_properties=change.purge_properties,
            add_tags=added, remove_tags=removed,
            tag_quota=core.settings.image_tag_quota if added else None,
            property_quota=core.settings.image_property_quota if property_quota else None)

    async def patch(self, ctx: RequestContext, image_id: str,
                    compute: Callable[[Image], Awaitable[Change]]) -> Image:
        """v2 PATCH: the change ``compute`` makes of the image as it is now, applied (its
        changes of locations first)."""
        image = await self.core.get(ctx, image_id)
        change = await compute(image)
        if change.locations:
            image = await locations.edit(self.core, ctx, image_id, change.locations)
            if not change.of_metadata:
                return image
        return await self.update(ctx, image_id, change, property_quota=True, based_on=image)

    def shown_locations(self, image: Image) -> list[ShownLocation] | None:
        """The image's ``locations`` as v2 shows them (None: not shown on this server)."""
        return locations.shown(self.core, image)

    async def list_locations(self, ctx: RequestContext, image_id: str) -> list[ShownLocation]:
        """v2.17: an image's locations (administrators; all who see them where shown)."""
        return await locations.listing(self.core, ctx, image_id)

    async def add_location(self, ctx: RequestContext, image_id: str,
                           new: NewLocation) -> Task:
        """v2.17: give a queued image the data at a URL (a ``location_import`` task)."""
        return await locations.import_location(self.core, ctx, image_id, new)

    async def revise(self, ctx: RequestContext, image_id: str, change: Change,
                     source: Source, claims: Claims) -> Image:
        """v1 update: change the metadata, then add data from ``source`` (a queued image)."""
        current = await self.core.get(ctx, image_id)
        source.check()
        if claims.image_id is not None and claims.image_id != current.id:
            raise exception.Forbidden("Attribute 'id' is read-only")
        if claims.status is not None and claims.status != current.status:
            raise exception.Forbidden("Attribute 'status' is read-only")
        if source.body is not None and current.status != QUEUED:
            raise exception.Conflict("Cannot upload to an unqueued image")
        if source.store is not None:
            self.core.store(source.store)
        image = await self.update(ctx, image_id, change)
        return await imports.add_data(self.core, ctx, image, source)

    async def upload(self, ctx: RequestContext, image_id: str, upload: Upload) -> Image:
        """v2 upload of a queued image; a failed upload leaves it queued, to try again."""
        return await data.upload(self.core, ctx, image_id, upload, failed_status=QUEUED,
                                 from_status=QUEUED)

    async def stage(self, ctx: RequestContext, image_id: str, chunks: AsyncIterator[Chunk],
                    expected_size: int | None = None) -> Image:
        """Keep data for a later glance-direct import (queued → uploading)."""
        return await imports.stage(self.core, ctx, image_id, chunks, expected_size)

    async def import_image(self, ctx: RequestContext, image_id: str, method: str,
                           uri: str | None = None, stores: list[str] | None = None,
                           all_stores: bool = False, all_stores_must_succeed: bool = True,
                           params: dict[str, Any] | None = None) -> Task | None:
        """Start importing data into an image, in ``stores`` (or every writable store, or
        the default one); the work runs as a task in the background. copy-image copies an
        active image into the stores it is not in yet; None when there is nothing to copy."""
        image = await access.mutable(self.core, ctx, image_id)
        if method == "copy-image":
            return await copies.start_copy(self.core, ctx, image, stores, all_stores,
                                           all_stores_must_succeed)
        targets = imports.import_targets(self.core, stores, all_stores)
        return await imports.start_import(self.core, ctx, image, method, uri, targets,
                                          all_stores_must_succeed, params=params)

    async def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image and its data (403 when protected)."""
        core = self.core
        image = await access.mutable(core, ctx, image_id)
        if image.protected:
            raise exception.Forbidden("Image is protected")
        if core.settings.delayed_delete and image.status in HAS_DATA:
            # pending_delete: the scrubber deletes the data after scrub_time
            await core.db(core.registry.mark_pending_delete, image_id, from_=image.status)
        else:
            image = await core.db(core.registry.mark_deleted, image_id, worker=core.worker,
                                  from_=image.status)
            await discard_data(core, image)
        await core.discard_staged(image_id)
        await cache.forget_if_gone(core, image_id)

    async def delete_from_store(self, ctx: RequestContext, store_name: str,
                                image_id: str) -> None:
        """Remove the copy of an active image kept in one store (never its last copy)."""
        await copies.delete_from_store(self.core, ctx, store_name, image_id)

    async def deactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """active → deactivated (no-op when deactivated; 403 from any other status)."""
        return await self._toggle(ctx, image_id, ACTIVE, DEACTIVATED, "deactivate")

    async def reactivate(self, ctx: RequestContext, image_id: str) -> Image:
        """deactivated → active (no-op when active; 403 from any other status)."""
        return await self._toggle(ctx, image_id, DEACTIVATED, ACTIVE, "reactivate")

    async def _toggle(self, ctx: RequestContext, image_id: str, from_: str, to: str,
                      verb: str) -> Image:
        image = await access.mutable(self.core, ctx, image_id)
        if image.status == to:
            return image
        if image.status != from_:
            raise exception.Forbidden(f"Cannot {verb} an image that is {image.status}")
        return await self.core.db(self.core.registry.transition, image_id, from_=[from_],
                                  to=to)

    async def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Add one tag (one SQL change: concurrent tag changes all survive)."""
        await access.mutable(self.core, ctx, image_id)
        access.check_tags([tag])
        await self.core.db(self.core.registry.add_tag, image_id, tag,
                           quota=self.settings.image_tag_quota)

    async def remove_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Remove one tag (404 when the image does not have it)."""
        await access.mutable(self.core, ctx, image_id)
        await self.core.db(self.core.registry.remove_tag, image_id, tag)
