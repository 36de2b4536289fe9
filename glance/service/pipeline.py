"""The one upload pipeline: every byte that comes in — v1, v2, staging, import, copy — goes
through ``write``: hashed (MD5 and the ``hashing_algorithm``, SHA-512 by default),
size-checked and format-inspected while the store writes it, and recorded by the ownership
protocol of the registry:

- begin: the write is recorded (a ``saving`` location held by this process) before any
  byte is written, so that a crash leaves something recovery can clean up;
- the store writes; on failure it has removed what it wrote, and ``undo`` forgets the
  location and resets the image;
- commit: the location becomes active (and the image, say, active); if the commit fails
  (the image was deleted, or recovery took the write over) the bytes are taken back —
  deleted only while still this process's to delete.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Generic, TypeVar

from glance import formats
from glance.common import exception
from glance.common.hashing import Hash, new_hash
from glance.domain import KILLED, LOCATION_SAVING, Image, Location
from glance.service.core import Core
from glance.stores import Store, StoredObject, StoreLeftovers
from glance.stores.base import Chunk

LOG = logging.getLogger(__name__)
T = TypeVar("T")


class Digest:
    """MD5 and the image hash (``algorithm``: ``os_hash_algo``) of a stream, each updated in
    its own worker thread."""

    def __init__(self, algorithm: str) -> None:
        self.md5: Hash = hashlib.md5(usedforsecurity=False)
        self.algorithm = algorithm.strip().lower()
        self.os_hash: Hash = self.md5 if self.algorithm == "md5" else new_hash(algorithm)

    def update(self, chunk: Chunk) -> Awaitable[Any]:
        loop = asyncio.get_running_loop()
        if self.os_hash is self.md5:
            return loop.run_in_executor(None, self.md5.update, chunk)
        return asyncio.gather(loop.run_in_executor(None, self.md5.update, chunk),
                              loop.run_in_executor(None, self.os_hash.update, chunk))

    def values(self) -> dict[str, str]:
        """The image fields of the digest: checksum, os_hash_algo and os_hash_value."""
        return {"checksum": self.md5.hexdigest(), "os_hash_algo": self.algorithm,
                "os_hash_value": self.os_hash.hexdigest()}


@dataclass(frozen=True)
class Limit:
    """An upper bound on an upload's size and why it exists."""

    bytes: int
    reason: str


class DiskCheck:
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


@dataclass(frozen=True)
class Checks:
    """What the data must match while it streams: the declared size and MD5, a limit,
    (optionally) the declared disk format, and (a copy) the image's own hash."""

    limit: Limit
    size: int | None = None
    checksum: str | None = None
    disk: DiskCheck | None = None
    os_hash: tuple[str, str] | None = None  # (os_hash_algo, os_hash_value)


async def size_limit(core: Core, image: Image, expected_size: int | None) -> Limit:
    """The most bytes an upload of ``image`` may bring: the size cap or the owner's quota
    left. A declared ``expected_size`` beyond it is refused (413) before any data is read."""
    cap = core.settings.image_size_cap
    limit = Limit(cap, f"the size limit of {cap} bytes")
    quota = core.settings.project_storage_quota
    if quota >= 0 and image.owner is not None:
        used = (await core.db(core.registry.usage, image.owner, image.id))["size"]
        if quota - used < limit.bytes:
            limit = Limit(max(quota - used, 0),
                          f"project {image.owner}'s storage quota of {quota} bytes "
                          f"({used} already used)")
    if expected_size is not None and expected_size > limit.bytes:
        raise exception.LimitExceeded(f"Image size {expected_size} exceeds {limit.reason}")
    return limit


def disk_check(core: Core, image: Image) -> DiskCheck | None:
    """The format inspection an upload of ``image`` gets (None: none, because it is off,
    the container wraps the disk, or the disk_format is not one we inspect)."""
    if not core.settings.image_format_inspection or image.container_format != "bare" or \
            image.disk_format not in formats.INSPECTED:
        return None
    return DiskCheck(image.disk_format)


async def verified(chunks: AsyncIterator[Chunk], digest: Digest,
                   checks: Checks) -> AsyncIterator[Chunk]:
    """Pass chunks through, hashing each while the store writes it, enforcing sizes, and
    (with a disk check) checking the data is a safe disk of the declared format."""
    size = 0
    pending: Awaitable[Any] | None = None
    try:
        async for chunk in chunks:
            if pending is not None:
                await pending
                pending = None
            size += len(chunk)
            if checks.size is not None and size > checks.size:
                raise exception.BadRequest(
                    f"Size mismatch: the declared size is {checks.size} bytes but the "
                    f"data is longer")
            if size > checks.limit.bytes:
                raise exception.LimitExceeded(f"Image data exceeds {checks.limit.reason}")
            pending = digest.update(chunk)
            if checks.disk is not None:
                checks.disk.inspector.feed(chunk)
            yield chunk
        if pending is not None:
            await pending
            pending = None
    finally:
        if pending is not None:
            await asyncio.gather(pending, return_exceptions=True)
    if checks.size is not None and size != checks.size:
        raise exception.BadRequest(
            f"Size mismatch: the declared size is {checks.size} bytes but the data has "
            f"{size}")
    if checks.checksum is not None and checks.checksum.lower() != digest.md5.hexdigest():
        raise exception.BadRequest(
            f"Checksum mismatch: x-image-meta-checksum says {checks.checksum} but the data's "
            f"MD5 is {digest.md5.hexdigest()}")
    if checks.os_hash is not None and checks.os_hash[1].lower() != digest.os_hash.hexdigest():
        raise exception.BadRequest(
            f"Hash mismatch: the image's {checks.os_hash[0]} os_hash_value is "
            f"{checks.os_hash[1]} but the data's is {digest.os_hash.hexdigest()}")
    if checks.disk is not None:
        checks.disk.check()


def failure_values(status: str) -> dict[str, Any]:
    """What a failed upload resets: nothing when the image is killed; when it goes back to
    be uploaded again, everything the upload set, as if it never happened."""
    if status == KILLED:
        return {}
    return dict(size=None, virtual_size=None, checksum=None, os_hash_algo=None,
                os_hash_value=None)


@dataclass(frozen=True)
class Write(Generic[T]):
    """One write of an image's bytes into ``store``, as the registry records it."""

    image_id: str
    store: Store
    begin: Callable[[], Awaitable[object]]  # record the write (held by this process)
    commit: Callable[[StoredObject, Digest], Awaitable[T]]  # the write is complete
    # nothing was kept: forget it, reset the image; with True the store could not remove
    # what it wrote yet (StoreLeftovers): recovery must clean it up once the store is back
    undo: Callable[[bool], Awaitable[object]]
    what: str = "Upload"  # for messages: "Upload", "Staging", "Copy"
    gone: str | None = None  # the message of Gone, when the image is deleted meanwhile


async def write(core: Core, job: Write[T], chunks: AsyncIterator[Chunk],
                checks: Checks) -> T:
    """Run ``job``: begin, stream the verified chunks into the store, commit; on any failure
    nothing of it is left and the error propagates (a client gone mid-transfer: 400)."""
    digest = Digest(checks.os_hash[0] if checks.os_hash else core.settings.hashing_algorithm)
    await job.begin()
    try:
        stored = await job.store.put(job.image_id, verified(chunks, digest, checks),
                                     checks.size)
    except BaseException as exc:
        # the store removed what it wrote (or will, once back); the record is left to undo
        await asyncio.shield(undo_write(core, job, None,
                                        leftovers=isinstance(exc, StoreLeftovers)))
        if isinstance(exc, (ConnectionError, asyncio.IncompleteReadError)):
            LOG.info("%s of image %s: the client went away before sending all data (%s)",
                     job.what, job.image_id, type(exc).__name__)
            raise exception.BadRequest(
                f"{job.what} failed: the client disconnected before sending all data") from exc
        raise
    try:
        return await job.commit(stored, digest)
    except BaseException as exc:
        # verification failed, or the image was deleted or the write taken over meanwhile
        await asyncio.shield(undo_write(core, job, stored))
        if job.gone is not None and isinstance(exc, exception.NotFound):
            raise exception.Gone(job.gone) from None
        raise


async def undo_write(core: Core, job: Write[T], stored: StoredObject | None, *,
                     leftovers: bool = False) -> None:
    """Undo a write that failed: take back its bytes if the store kept them (``stored``),
    then forget its record and reset the image. While the registry is unavailable (the
    database restarting) nothing can be recorded: the undo is retried in the background
    until it can, so that the image does not stay ``saving`` under a live process."""
    left = stored  # bytes still to take back

    async def attempt() -> None:
        nonlocal left
        if left is not None:
            if not await take_back(core, job.image_id, job.store, left.key):
                return  # not this process's to undo any more
            left = None
        await job.undo(leftovers)

    try:
        await attempt()
    except exception.ServiceUnavailable as exc:
        LOG.warning("image %s: cannot undo the failed %s now (%s); retrying in the background",
                    job.image_id, job.what.lower(), exc)
        core.spawn(_retry_undo(job.image_id, attempt))


async def _retry_undo(image_id: str, attempt: Callable[[], Awaitable[None]]) -> None:
    delay = 0.5
    while True:
        await asyncio.sleep(delay)
        try:
            await attempt()
            LOG.info("image %s: the failed write is undone", image_id)
            return
        except exception.ServiceUnavailable:
            delay = min(delay * 2, 10.0)
        except Exception:
            LOG.exception("image %s: undoing a failed write failed", image_id)
            return


async def take_back(core: Core, image_id: str, store: Store, key: str) -> bool:
    """After a write of this process could not be committed: delete its bytes if they are
    still this process's to delete — its location still held by it (then True: the caller
    forgets the location), or the image deleted or killed (its keys are never written
    again). Bytes under a location another process took over are left to it."""
    mine = Location(store.name, image_id, LOCATION_SAVING, core.worker)
    if await core.db(core.registry.claim_location, image_id, store.name, worker=core.worker,
                     expected=mine):
        return await delete_held(core, image_id, store, key)
    try:
        image = await core.db(core.registry.get, image_id, True)
    except exception.NotFound:
        return False
    if image.deleted or image.status == KILLED:
        await store.delete(key)
    return False


async def delete_held(core: Core, image_id: str, store: Store, key: str) -> bool:
    """Delete the bytes of a location this process holds for deletion; if the store fails,
    let go of the location (recovery tries again) and say False."""
    try:
        await store.delete(key)
        return True
    except exception.StoreError as exc:
        LOG.error("image %s: cannot delete its data in store %s (%s); recovery will try "
                  "again", image_id, store.name, exc)
        await core.db(core.registry.release_location, image_id, store.name, worker=core.worker)
        return False


async def discard_data(core: Core, image: Image) -> None:
    """Delete every copy of a deleted image's bytes (each location held by this process for
    deletion), then forget its locations. A store that fails keeps its location for
    recovery to retry."""
    for location in image.locations:
        store = core.holder(location)
        if store is None:
            LOG.error("image %s: its store %s is no longer configured; data left in place",
                      image.id, location.store)
            continue
        if store.writable and not await delete_held(core, image.id, store, location.key):
            continue
        await core.db(core.registry.forget_location, image.id, location.store,
                      worker=core.worker)
