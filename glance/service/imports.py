"""Data that does not come in a request body: v1 locations and copy-from (http(s) URLs),
and v2's interoperable import — stage, then glance-direct or web-download in the
background."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from glance.common import exception
from glance.context import RequestContext
from glance.domain import (
    ACTIVE,
    IMPORTING,
    KILLED,
    QUEUED,
    UPLOADING,
    Image,
    Location,
    Task,
    new_image_id,
)
from glance.service import access, copies, data, remote
from glance.service.copies import FAILED_IMPORT, IMPORTING_TO
from glance.service.core import Core
from glance.service.pipeline import Checks, Digest, Write, size_limit, write
from glance.stores import Store, StoredObject
from glance.stores.base import Chunk
from glance.stores.http import check_public_url, check_url

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where a v1 request's image data comes from: at most one of a request body (``body``),
    a URL the data stays at (``location``) or one to fetch it from (``copy_from``)."""

    body: AsyncIterator[Chunk] | None = None
    location: str | None = None
    copy_from: str | None = None
    store: str | None = None
    size: int | None = None
    checksum: str | None = None

    def check(self) -> None:
        """400 for a URL that is not http(s) or carries credentials, or for more than one
        source."""
        for url in (self.location, self.copy_from):
            if url is not None:
                check_url(url)
        if sum([self.body is not None, self.location is not None,
                self.copy_from is not None]) > 1:
            raise exception.BadRequest("It's invalid to provide multiple image sources.")


async def check_source(core: Core, source: Source) -> None:
    """Refuse, before any record exists, a URL this server will not read from."""
    if source.location is not None:
        await readable(core, source.location)
    elif source.copy_from is not None:
        await check_public_url(source.copy_from, core.settings.web_download_allow_private)


async def readable(core: Core, url: str) -> StoredObject:
    """The size at ``url``; BadRequest for a URL this server will not read from (not
    http(s), with credentials, on a non-public address unless allowed) or that does not
    answer."""
    await check_public_url(url, core.settings.web_download_allow_private)
    try:
        return await core.remote_source().stat(url)
    except exception.NotFound as exc:
        raise exception.BadRequest(f"Location {url} is not readable: {exc}") from None


async def add_data(core: Core, ctx: RequestContext, image: Image, source: Source) -> Image:
    """Fill a queued image from whichever source is named (v1: a failed upload kills it)."""
    if source.body is not None:
        return await data.upload(core, ctx, image.id, data.Upload(
            source.body, source.store, source.size, source.checksum),
            failed_status=KILLED, from_status=QUEUED)
    if source.location is not None:
        return await register_location(core, ctx, image.id, source.location)
    if source.copy_from is not None:
        return await copy_from(core, ctx, image.id, source)
    return image


async def register_location(core: Core, ctx: RequestContext, image_id: str, url: str) -> Image:
    """Activate a queued image whose data already lives at an http(s) ``url``."""
    image = await access.mutable(core, ctx, image_id)
    if image.status != QUEUED:
        raise exception.BadRequest(
            "Attempted to update Location field for an image not in queued status.")
    access.require_formats(image)
    stat = await readable(core, url)
    return await core.db(core.registry.transition, image_id, from_=[QUEUED], to=ACTIVE,
                         values={"size": stat.size},
                         locations=[Location(core.url_store().name, url)])


async def copy_from(core: Core, ctx: RequestContext, image_id: str, source: Source) -> Image:
    """Fetch the data of a queued image from an http(s) URL through the pipeline."""
    url = source.copy_from
    assert url is not None
    await check_public_url(url, core.settings.web_download_allow_private)
    fetched = core.remote_source().get(url)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            async for chunk in fetched:
                yield chunk
        except exception.NotFound as exc:
            raise exception.BadRequest(f"Cannot copy from {url}: {exc}") from None

    return await data.upload(core, ctx, image_id, data.Upload(
        chunks(), source.store, source.size, source.checksum),
        failed_status=KILLED, from_status=QUEUED)


# -- v2 import: stage, then import in the background ----------------------------------------

async def stage(core: Core, ctx: RequestContext, image_id: str, chunks: AsyncIterator[Chunk],
                expected_size: int | None) -> Image:
    """Keep data for a later glance-direct import (queued → uploading)."""
    staging = core.staging_store()
    image = await access.mutable(core, ctx, image_id)
    if image.status != QUEUED:
        raise exception.Conflict(f"Cannot stage data for an image that is {image.status}")
    checks = Checks(await size_limit(core, image, expected_size), expected_size)

    async def begin() -> Image:
        # the staging copy is recorded while it is written, so that recovery can tell a
        # half-staged image (back to queued) from one being staged by a live process
        return await core.db(core.registry.start_write, image_id, store=staging.name,
                             worker=core.worker, from_status=QUEUED, to_status=UPLOADING)

    async def commit(stored: StoredObject, digest: Digest) -> None:
        await core.db(core.registry.finish_stage, image_id, store=staging.name,
                      worker=core.worker)

    async def undo(leftovers: bool) -> bool:
        return await core.db(core.registry.abandon_write, image_id, store=staging.name,
                             worker=core.worker, from_status=UPLOADING, to_status=QUEUED,
                             leftovers=leftovers)

    await write(core, Write(image_id, staging, begin, commit, undo, what="Staging", gone=(
        f"Image {image_id} was deleted while its data was staged; the data was discarded")),
        chunks, checks)
    return await core.get(ctx, image_id)


def import_targets(core: Core, stores: list[str] | None, all_stores: bool) -> list[Store]:
    """The stores an import writes into, in order: those named, every writable store
    (``all_stores``), or the default store."""
    if all_stores:
        if stores:
            raise exception.BadRequest("Use either stores or all_stores, not both")
        return core.writable_stores()
    targets: list[Store] = []
    for name in dict.fromkeys(stores or [core.settings.default_store]):
        store = core.store(name)
        if not store.writable:
            raise exception.BadRequest(f"Store {store.name} is read-only")
        if store not in targets:
            targets.append(store)
    return targets


async def start_import(core: Core, ctx: RequestContext, image: Image, method: str,
                       uri: str | None, targets: list[Store], must_succeed: bool, *,
                       task_type: str = "api_image_import",
                       task_input: dict[str, Any] | None = None,
                       params: dict[str, Any] | None = None) -> Task:
    """Start a glance-direct, web-download or glance-download (``params``: the request's
    method object) import into ``targets``; the work runs as a task in the background (of
    ``task_type``, recording ``task_input`` if given). Progress shows in the image
    properties os_glance_importing_to_stores and os_glance_failed_import."""
    if not targets:
        raise exception.BadRequest("No writable store to import into")
    if method == "glance-direct":
        core.staging_store()
        expected = UPLOADING
    elif method == "web-download" and core.web_source is not None:
        if not isinstance(uri, str):
            raise exception.BadRequest("web-download needs method.uri, an http(s) URL")
        await check_public_url(uri, core.settings.web_download_allow_private)
        expected = QUEUED
    elif method == remote.METHOD:
        wanted = remote.remote_image(params or {})
        remote.check_available(core, ctx)
        expected = QUEUED
    else:
        raise exception.BadRequest(f"Import method {method!r} is not supported")
    if image.status != expected:
        raise exception.Conflict(
            f"Image {image.id} is {image.status}; {method} needs it {expected}")
    if not image.disk_format or not image.container_format:
        raise exception.Conflict("disk_format and container_format must be set before "
                                 "importing data")
    names = [t.name for t in targets]
    # the task exists (stamped with this process) before the image is importing, so that
    # recovery in another process never takes a running import for an orphan
    task = Task(id=new_image_id(), image_id=image.id, type=task_type, owner=ctx.owner,
                request_id=ctx.request_id, user_id=ctx.user_id,
                input=task_input if task_input is not None else {"import_req": {
                    "method": {"name": method, **({"uri": uri} if uri else {}), **(
                        {k: v for k, v in (params or {}).items() if k.startswith("glance_")}
                        if method == remote.METHOD else {})},
                    "stores": names, "all_stores_must_succeed": must_succeed},
                    "backend": names},
                worker=core.worker)
    await core.db(core.registry.create_task, task)
    try:
        await core.db(core.registry.transition, image.id, from_=[expected], to=IMPORTING)
    except BaseException as exc:
        await asyncio.shield(core.db(core.registry.update_task, task.id, "failure",
                                     f"Not started: {exc}"))
        raise
    await core.db(core.registry.swap_properties, image.id, expected={}, new={
        IMPORTING_TO: ",".join(names), FAILED_IMPORT: ""})
    if method == remote.METHOD:
        core.spawn(_run_download(core, ctx, image.id, task.id, wanted, targets, must_succeed))
    else:
        core.spawn(_run_import(core, ctx, image.id, task.id, targets, must_succeed,
                               lambda: _source(core, image.id, method, uri)))
    return task


def _source(core: Core, image_id: str, method: str, uri: str | None) -> AsyncIterator[Chunk]:
    if method == "glance-direct":
        return core.staging_store().get(image_id)
    assert uri is not None and core.web_source is not None
    return core.web_source.get(uri)


def _describe(store: Store, exc: BaseException) -> str:
    return f"{store.name}: {type(exc).__name__}: {exc}"


async def _run_download(core: Core, ctx: RequestContext, image_id: str, task_id: str,
                        wanted: remote.RemoteImage, targets: list[Store],
                        must_succeed: bool) -> None:
    """glance-download: find the remote image and take its metadata, then import its data."""
    reader = remote.reader(core, ctx)
    try:
        await core.db(core.registry.update_task, task_id, "processing")
        try:
            endpoint = await remote.prepare(core, reader, image_id, wanted)
        except Exception as exc:
            LOG.warning("glance-download of image %s failed: %s", image_id, exc)
            await _fail(core, image_id, task_id, targets,
                        [f"{remote.METHOD}: {type(exc).__name__}: {exc}"])
            return
        await _run_import(core, ctx, image_id, task_id, targets, must_succeed,
                          lambda: reader.data(endpoint, wanted.image_id))
    finally:
        await reader.close()


async def _run_import(core: Core, ctx: RequestContext, image_id: str, task_id: str,
                      targets: list[Store], must_succeed: bool,
                      source: Callable[[], AsyncIterator[Chunk]]) -> None:
    """Write the data into the first target that takes it (the image becomes active), then
    copy it into the others; a store that fails is reported in os_glance_failed_import. The
    import fails (image back to queued) when no store took the data, or with
    ``must_succeed`` when the first did not."""
    await core.db(core.registry.update_task, task_id, "processing")
    failures: list[str] = []
    written = None
    for index, target in enumerate(targets):
        try:
            # a failed write leaves the image importing, so that the staged data stays for
            # the next store and is dropped before the image is queued again
            await data.upload(core, ctx, image_id, data.Upload(source(), target.name),
                failed_status=IMPORTING, from_status=IMPORTING)
        except BaseException as exc:
            LOG.warning("import of image %s into %s failed: %s", image_id, target.name, exc)
            failures.append(_describe(target, exc))
            await asyncio.shield(copies.progress(core, image_id, target.name, failed=True))
            if not isinstance(exc, Exception):
                await asyncio.shield(_fail(core, image_id, task_id, targets[index + 1:],
                                           failures))
                raise
            if must_succeed or index == len(targets) - 1:
                await _fail(core, image_id, task_id, targets[index + 1:], failures)
                return
            continue
        written = index
        await copies.progress(core, image_id, target.name, failed=False)
        break
    assert written is not None
    await core.discard_staged(image_id)
    rest = targets[written + 1:]
    for index, target in enumerate(rest):
        try:
            await copies.copy_one(core, image_id, target)
        except BaseException as exc:
            LOG.warning("import of image %s into %s failed: %s", image_id, target.name, exc)
            failures.append(_describe(target, exc))
            await asyncio.shield(copies.progress(core, image_id, target.name, failed=True))
            if not isinstance(exc, Exception):
                raise
            if must_succeed:
                for skipped in rest[index + 1:]:
                    await copies.progress(core, image_id, skipped.name, failed=None)
                break
            continue
        await copies.progress(core, image_id, target.name, failed=False)
    if failures and must_succeed:
        await core.db(core.registry.update_task, task_id, "failure",
                      "Import failed: " + "; ".join(failures))
    else:
        await core.db(core.registry.update_task, task_id, "success", "Import complete" + (
            "; failed: " + "; ".join(failures) if failures else ""))


async def _fail(core: Core, image_id: str, task_id: str, skipped: list[Store],
                failures: list[str]) -> None:
    """No store took the data: the image goes back to queued, the task fails."""
    for store in skipped:
        await copies.progress(core, image_id, store.name, failed=None)
    await unstage(core, image_id, IMPORTING)
    await core.db(core.registry.update_task, task_id, "failure",
                  "Import failed: " + "; ".join(failures))


async def unstage(core: Core, image_id: str, status: str) -> None:
    """Drop staged data and put an image left in ``status`` back to queued (``status`` must
    be one from which nothing can stage again meanwhile)."""
    await core.discard_staged(image_id)
    try:
        await core.db(core.registry.requeue, image_id, from_=status)
    except (exception.NotFound, exception.Conflict):
        pass
