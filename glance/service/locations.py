"""An image's locations as v2 shows and changes them.

A location is an active copy: ``<store>://<key>`` in a store of this server, or in the
read-only http store a public URL the data stays at. With ``show_multiple_locations`` v2
shows them (with their metadata) and PATCH ``/locations`` adds a URL, changes metadata or
removes a copy. v2.17's ``POST /v2/images/{id}/locations`` gives a queued image the data at
a URL as a ``location_import`` task that hashes it in the background (``do_secure_hash``)
and, given ``validation_data``, activates the image only if the data matches.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping

from glance.common import exception
from glance.common.hashing import new_hash
from glance.context import RequestContext
from glance.domain import ACTIVE, IMPORTING, QUEUED, Image, Location, Task, new_image_id
from glance.service import access, copies, imports
from glance.service.core import Core
from glance.service.pipeline import Checks, Digest, size_limit, verified
from glance.service.requests import LocationEdit, NewLocation
from glance.stores.http import check_public_url, check_url

LOG = logging.getLogger(__name__)

TASK_TYPE = "location_import"
HASH_FIELDS: tuple[str, ...] = ("checksum", "os_hash_algo", "os_hash_value")
ALIVE_CHECK_SECONDS = 5.0  # how often a hashing job looks whether its image still exists


@dataclass(frozen=True)
class ShownLocation:
    """A location as v2 shows it."""

    url: str
    metadata: dict[str, Any]


def url_of(core: Core, location: Location) -> str:
    """The ``url`` v2 shows for ``location``: the URL itself, or ``<store>://<key>``."""
    store = core.stores.get(location.store)
    if store is not None and store.keys_are_urls:
        return location.key
    return f"{location.store}://{location.key}"


def ordered(core: Core, image: Image) -> list[Location]:
    """The image's active locations, highest store weight first, then first added first
    (the order of ``stores``)."""
    weights = {name: store.weight for name, store in core.stores.items()}
    return sorted(image.active_locations, key=lambda loc: -weights.get(loc.store, 0))


def shown(core: Core, image: Image) -> list[ShownLocation] | None:
    """What v2 shows as the image's ``locations`` (None: they are not shown here)."""
    if not core.settings.show_multiple_locations:
        return None
    return _shown(core, image)


def _shown(core: Core, image: Image) -> list[ShownLocation]:
    return [ShownLocation(url_of(core, loc), {**loc.metadata, "store": loc.store})
            for loc in ordered(core, image)]


# -- validation_data ---------------------------------------------------------------------------

def _hex(value: str) -> bool:
    return all(c in "0123456789abcdef" for c in value.lower())


def check_validation(data: Mapping[str, Any], allowed: tuple[str, ...]) -> dict[str, str]:
    """``validation_data`` as image fields; 400 for an unknown key, a value that is not a
    hex digest of the right length, an unknown algorithm, or a hash without its algorithm
    (or the other way round)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise exception.BadRequest(f"validation_data may hold {', '.join(allowed)}; not "
                                   f"{', '.join(unknown)}")
    for key, value in data.items():
        if not isinstance(value, str) or not value:
            raise exception.BadRequest(f"validation_data {key} must be a non-empty string")
    values = {key: data[key].lower() if key != "os_hash_algo" else data[key].strip().lower()
              for key in data}
    checksum = values.get("checksum")
    if checksum is not None and (len(checksum) != 32 or not _hex(checksum)):
        raise exception.BadRequest("validation_data checksum must be an MD5 hex digest "
                                   "(32 hexadecimal digits)")
    algorithm, value = values.get("os_hash_algo"), values.get("os_hash_value")
    if (algorithm is None) != (value is None):
        raise exception.BadRequest("validation_data needs os_hash_algo and os_hash_value "
                                   "together")
    if algorithm is not None and value is not None:
        try:
            digits = new_hash(algorithm).digest_size * 2
        except ValueError as exc:
            raise exception.BadRequest(f"validation_data os_hash_algo: {exc}") from None
        if len(value) != digits or not _hex(value):
            raise exception.BadRequest(f"validation_data os_hash_value is not a {algorithm} "
                                       f"hex digest ({digits} hexadecimal digits)")
    return values


# -- PATCH /locations --------------------------------------------------------------------------

async def edit(core: Core, ctx: RequestContext, image_id: str,
               edits: tuple[LocationEdit, ...]) -> Image:
    """Apply PATCH's changes of ``locations`` in order (owner or admin; 403 unless this
    server shows locations)."""
    if not core.settings.show_multiple_locations:
        raise exception.Forbidden("Locations are not shown on this server "
                                  "(show_multiple_locations is off): they cannot be changed")
    image = await access.mutable(core, ctx, image_id)
    for change in edits:
        if change.op == "add":
            assert change.new is not None
            if change.index >= 0 and change.index != len(ordered(core, image)):
                raise exception.BadRequest("A location is added at the end: /locations/-")
            image = await add(core, image, change.new)
        elif change.op == "replace":
            image = await replace(core, image, change.replacement)
        else:
            image = await remove(core, image, change.index)
    return image


async def add(core: Core, image: Image, new: NewLocation) -> Image:
    """Add a URL location: a queued image becomes active with the size found at the URL
    (nothing is read, nothing hashed: ``validation_data`` is taken as given); an active one
    gains another location, whose ``validation_data`` must agree with the image's (409)."""
    url = check_url(new.url)
    if image.status not in (QUEUED, ACTIVE):
        raise exception.Conflict(f"Image {image.id} is {image.status}: locations are added "
                                 f"to queued or active images")
    given = {key: new.validation[key] for key in new.validation}
    for key in HASH_FIELDS:  # what the image already has must match (as given: 409)
        current, claimed = getattr(image, key), given.get(key)
        if current is not None and claimed is not None and \
                str(claimed).strip().lower() != current.lower():
            raise exception.Conflict(f"validation_data {key} {claimed!r} does not match the "
                                     f"image's {current!r}")
    values: dict[str, Any] = {key: value for key, value in
                              check_validation(given, HASH_FIELDS).items()
                              if getattr(image, key) is None}
    if image.status == QUEUED:
        access.require_formats(image)
    await check_public_url(url, core.settings.web_download_allow_private)
    size = (await imports.readable(core, url)).size or None
    if image.status == ACTIVE and image.size and size and image.size != size:
        raise exception.Conflict(f"The data at {url} has {size} bytes; the image has "
                                 f"{image.size}")
    if image.status == QUEUED:
        values["size"] = size
    expected = {key: getattr(image, key) for key in (*HASH_FIELDS, "size")}
    location = Location(core.url_store().name, url, metadata=_stored(new.metadata))
    return await core.db(core.registry.add_url_location, image.id, location,
                         from_status=[image.status], to_status=ACTIVE, values=values,
                         expected=expected)


async def replace(core: Core, image: Image, replacement: tuple[NewLocation, ...]) -> Image:
    """Replace the image's locations: on an image without any, add each; otherwise the same
    locations must come back (in any order), and only their metadata changes (400)."""
    current = {url_of(core, loc): loc for loc in ordered(core, image)}
    if not current:
        for new in replacement:
            image = await add(core, image, new)
        return image
    urls = [new.url for new in replacement]
    if len(set(urls)) != len(urls) or set(urls) != set(current):
        raise exception.BadRequest(
            "Replacing locations may only change their metadata: add and remove "
            "locations one at a time")
    if any(new.validation for new in replacement):
        raise exception.BadRequest("validation_data is only for a location being added")
    changed = [dataclasses.replace(current[new.url], metadata=_stored(new.metadata))
               for new in replacement]
    return await core.db(core.registry.set_location_metadata, image.id, changed)


async def remove(core: Core, image: Image, index: int) -> Image:
    """Remove the location at ``index`` (in the order shown): a copy's bytes are deleted, a
    URL is forgotten; 403 for the image's last location."""
    current = ordered(core, image)
    if not 0 <= index < len(current):
        raise exception.BadRequest(f"Image {image.id} has no location at index {index}")
    location = current[index]
    store = core.stores.get(location.store)
    if store is None:
        raise exception.Conflict(f"Store {location.store} is not configured here: its "
                                 f"location cannot be removed")
    if len(current) == 1:
        raise exception.Forbidden("Cannot remove the last location of an image: delete the "
                                  "image instead")
    await copies.delete_copy(core, image.id, store, location)
    return await core.db(core.registry.get, image.id)


async def listing(core: Core, ctx: RequestContext, image_id: str) -> list[ShownLocation]:
    """GET /v2/images/{id}/locations: for administrators, and for whoever sees the image
    where this server shows locations (403 otherwise)."""
    image = await core.get(ctx, image_id)
    if not ctx.is_admin and not core.settings.show_multiple_locations:
        raise exception.Forbidden("Locations are shown to administrators only here")
    return _shown(core, image)


def _stored(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A location's metadata as kept (``store`` is shown from the location itself)."""
    return {key: value for key, value in metadata.items() if key != "store"}


# -- POST /v2/images/{id}/locations (v2.17) ----------------------------------------------------

async def import_location(core: Core, ctx: RequestContext, image_id: str,
                          new: NewLocation) -> Task:
    """Give a queued image the data at ``new.url`` (owner or admin), as a task. With
    ``do_secure_hash`` the data is read in the background: given ``validation_data`` the
    image is ``importing`` until its hash matches (then active; else queued again, the task
    failed); without, it is active at once and the task records its hashes when read.
    400 for a bad URL or validation_data, 409 unless queued."""
    image = await access.mutable(core, ctx, image_id)
    url = check_url(new.url)
    validation = check_validation(new.validation, ("os_hash_algo", "os_hash_value"))
    if image.status != QUEUED:
        raise exception.Conflict(f"Image {image.id} is {image.status}: a location is added "
                                 f"to a queued image")
    access.require_formats(image)
    await check_public_url(url, core.settings.web_download_allow_private)
    size = (await imports.readable(core, url)).size or None
    hashing = core.settings.do_secure_hash
    algorithm = validation.get("os_hash_algo", core.settings.hashing_algorithm)
    task = Task(id=new_image_id(), image_id=image.id, type=TASK_TYPE, owner=ctx.owner,
                input={"image_id": image.id, "loc_url": url, "validation_data": validation},
                request_id=ctx.request_id, user_id=ctx.user_id, worker=core.worker,
                status="pending" if hashing else "success",
                message="" if hashing else "Location added (do_secure_hash is off: not read)")
    await core.db(core.registry.create_task, task)
    location = Location(core.url_store().name, url, metadata=_stored(new.metadata))
    try:
        if hashing and validation:
            await core.db(core.registry.transition, image.id, from_=[QUEUED], to=IMPORTING)
            job = _verify(core, image.id, task.id, location, algorithm, validation, size)
        else:
            values: dict[str, Any] = {"size": size}
            if hashing:
                values["os_hash_algo"] = algorithm
            else:
                values.update(validation)
            await core.db(core.registry.add_url_location, image.id, location,
                          from_status=[QUEUED], to_status=ACTIVE, values=values, expected={})
            if not hashing:
                return task
            job = _record_hashes(core, image.id, task.id, url, algorithm, size)
    except BaseException as exc:
        await asyncio.shield(core.db(core.registry.update_task, task.id, "failure",
                                     f"Not started: {exc}"))
        raise
    core.spawn(job)
    return task


async def _read(core: Core, image_id: str, url: str, algorithm: str,
                size: int | None) -> tuple[Digest, int]:
    """Read the data at ``url`` (no more than ``size`` bytes, if known, nor than the image
    may hold): its digest and length. Gone when the image is deleted meanwhile."""
    image = await core.db(core.registry.get, image_id)
    checks = Checks(await size_limit(core, image, size), size)
    digest = Digest(algorithm)
    length, looked = 0, time.monotonic()
    async for chunk in verified(core.remote_source().get(url), digest, checks):
        length += len(chunk)
        if time.monotonic() - looked > ALIVE_CHECK_SECONDS:
            looked = time.monotonic()
            try:
                await core.db(core.registry.get, image_id)
            except exception.NotFound:
                raise exception.Gone(f"Image {image_id} was deleted while its data was "
                                     f"read") from None
    return digest, length


async def _verify(core: Core, image_id: str, task_id: str, location: Location,
                  algorithm: str, validation: dict[str, str], size: int | None) -> None:
    """Read the data; if it matches ``validation`` the image becomes active with it, else
    it goes back to queued and the task fails."""
    await core.db(core.registry.update_task, task_id, "processing")
    try:
        digest, length = await _read(core, image_id, location.key, algorithm, size)
        found = digest.values()
        if found["os_hash_value"] != validation["os_hash_value"]:
            raise exception.BadRequest(
                f"The data at {location.key} does not match validation_data: its {algorithm} "
                f"is {found['os_hash_value']}, not {validation['os_hash_value']}")
        await core.db(core.registry.add_url_location, image_id, location,
                      from_status=[IMPORTING], to_status=ACTIVE,
                      values={**found, "size": length}, expected={})
    except BaseException as exc:
        LOG.warning("location import of image %s failed: %s", image_id, exc)
        await asyncio.shield(_requeue(core, image_id, task_id, exc))
        if not isinstance(exc, Exception):
            raise
        return
    await core.db(core.registry.update_task, task_id, "success",
                  f"Location added: {location.key}")


async def _requeue(core: Core, image_id: str, task_id: str, exc: BaseException) -> None:
    try:
        await core.db(core.registry.requeue, image_id, from_=IMPORTING)
    except (exception.NotFound, exception.Conflict):
        pass
    await core.db(core.registry.update_task, task_id, "failure",
                  f"Location import failed: {type(exc).__name__}: {exc}")


async def _record_hashes(core: Core, image_id: str, task_id: str, url: str, algorithm: str,
                         size: int | None) -> None:
    """Read the data of an active image at ``url`` and record its checksum and hash (and
    size, if the URL did not say) — unless the image changed meanwhile."""
    await core.db(core.registry.update_task, task_id, "processing")
    try:
        digest, length = await _read(core, image_id, url, algorithm, size)
        values: dict[str, Any] = {key: value for key, value in digest.values().items()
                                  if key != "os_hash_algo"}
        if size is None:
            values["size"] = length
        await core.db(core.registry.fill_values, image_id, values=values, expected={
            "status": ACTIVE, "os_hash_algo": algorithm, "os_hash_value": None,
            "size": size})
    except BaseException as exc:
        LOG.warning("hashing the data of image %s at %s failed: %s", image_id, url, exc)
        await asyncio.shield(core.db(core.registry.update_task, task_id, "failure",
                                     f"Hashing failed: {type(exc).__name__}: {exc}"))
        if not isinstance(exc, Exception):
            raise
        return
    await core.db(core.registry.update_task, task_id, "success",
                  f"Location added and hashed: {url}")
