"""What every room of the service shares: the registry runner, the stores, the background
jobs, and the visible read of an image."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Callable, Coroutine, Iterable, ParamSpec, TypeVar

from glance.cache import ImageCache
from glance.common import exception
from glance.common.metrics import Metrics
from glance.config import Settings
from glance.context import RequestContext
from glance.domain import Image, Location
from glance.registry import Registry
from glance.stores import Store, unique_stores

LOG = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

HOST = socket.gethostname()[:40]


def new_worker_id() -> str:
    """An id for this server process, unique across restarts and machines."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Core:
    """The service's state: settings, registry, stores, and what this process runs."""

    def __init__(self, settings: Settings, registry: Registry, stores: dict[str, Store],
                 staging: Store | None = None, web_source: Store | None = None,
                 cache: ImageCache | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.registry = registry
        self.stores = stores  # by name and by alias
        self.staging = staging  # v2 stage/import; None: no glance-direct
        self.web_source = web_source  # where web-download fetches; None: no web-download
        self.cache = cache  # this node's image cache; None: off
        self.worker = new_worker_id()  # stamps what this process has in flight
        self.jobs: set[asyncio.Task[None]] = set()
        for store in [*unique_stores(stores), staging, web_source]:
            if store is not None:
                store.observer = self.metrics.store_call

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one registry method in a worker thread (its own transaction), timed."""
        started = time.monotonic()
        failed = False
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (exception.NotFound, exception.Conflict):
            raise  # answers, not failures
        except BaseException:
            failed = True
            raise
        finally:
            self.metrics.registry_call(getattr(fn, "__name__", "call"),
                                       time.monotonic() - started, failed)

    def spawn(self, job: Coroutine[object, object, None]) -> None:
        """Run ``job`` in the background until it ends or the service closes."""
        task = asyncio.get_running_loop().create_task(job)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    # -- stores ------------------------------------------------------------------------------

    def store(self, name: str) -> Store:
        """The store called ``name``; BadRequest when this server has none."""
        store = self.stores.get(name)
        if store is None:
            raise exception.BadRequest(
                f"Requested store {name} not available on this server "
                f"(available: {', '.join(sorted(self.stores))})")
        return store

    def writable_stores(self) -> list[Store]:
        """Each writable store instance once."""
        return [store for store in unique_stores(self.stores) if store.writable]

    def holder(self, location: Location) -> Store | None:
        """The store ``location`` names: a configured one, or staging (data being staged)."""
        if self.staging is not None and location.store == self.staging.name:
            return self.staging
        return self.stores.get(location.store)

    def url_store(self) -> Store:
        """The store whose keys are URLs (v1 locations)."""
        for store in self.stores.values():
            if store.keys_are_urls:
                return store
        raise exception.BadRequest("This server has no http store")

    def remote_source(self) -> Store:
        """Where v1 location and copy-from read: the web-download source, which refuses
        non-public addresses (each redirect hop too) unless allowed."""
        return self.web_source if self.web_source is not None else self.url_store()

    def staging_store(self) -> Store:
        if self.staging is None:
            raise exception.NotFound("The glance-direct import method is not enabled")
        return self.staging

    async def discard_staged(self, image_id: str) -> None:
        if self.staging is not None:
            await self.staging.delete(image_id)

    def sources(self, image: Image, prefer: Iterable[str] = ()) -> tuple[tuple[Store, str], ...]:
        """(store, key) of each active location of ``image`` this server can read, those in
        the stores named in ``prefer`` first (in that order), then the highest store weight
        first, then first added first; a local file that is gone is skipped (the image may
        have been deleted meanwhile: the caller judges)."""
        sources = []
        for location in image.active_locations:
            store = self.stores.get(location.store)
            if store is None:
                LOG.error("image %s: its store %s is not configured", image.id, location.store)
                continue
            path = store.local_path(location.key)
            if path is not None and not os.path.exists(path):
                continue
            sources.append((store, location.key))
        rank = {name: i for i, name in enumerate(dict.fromkeys(prefer))}
        return tuple(sorted(sources, key=lambda source: (rank.get(source[0].name, len(rank)),
                                                         -source[0].weight)))

    # -- reading -----------------------------------------------------------------------------

    async def get(self, ctx: RequestContext, image_id: str) -> Image:
        """The image if the caller may see it, else NotFound."""
        try:
            if ctx.is_admin:
                return await self.db(self.registry.get, image_id)
            return await self.db(self.registry.get_visible, image_id, ctx.owner)
        except exception.NotFound:
            raise exception.NotFound(f"Image with identifier {image_id} not found") from None
