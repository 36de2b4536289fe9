"""The glance-download import's other side: an image of another region's image service,
found through the Keystone catalogue and read with the caller's token. Its formats and the
properties named by ``glance_download_properties`` are copied onto the new image."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Mapping

from glance.common import exception
from glance.context import RequestContext
from glance.domain import CONTAINER_FORMATS, DISK_FORMATS
from glance.service.core import Core
from glance.stores.remote import RemoteImages

METHOD = "glance-download"


@dataclass(frozen=True)
class RemoteImage:
    """Which remote image a glance-download import reads."""

    image_id: str
    region: str
    interface: str = "public"


def remote_image(params: Mapping[str, Any]) -> RemoteImage:
    """The remote image a glance-download request names (400 when malformed)."""
    image_id, region = params.get("glance_image_id"), params.get("glance_region")
    interface = params.get("glance_service_interface", "public")
    if not isinstance(image_id, str):
        raise exception.BadRequest("glance-download needs method.glance_image_id")
    try:
        uuid.UUID(image_id)
    except ValueError:
        raise exception.BadRequest(f"Remote image id does not look like a UUID: "
                                   f"{image_id!r}") from None
    if not isinstance(region, str) or not region:
        raise exception.BadRequest("glance-download needs method.glance_region")
    if not isinstance(interface, str) or not interface:
        raise exception.BadRequest("method.glance_service_interface must be a string")
    return RemoteImage(image_id, region, interface)


def check_available(core: Core, ctx: RequestContext) -> None:
    """400 unless this server can find other regions: a Keystone and the caller's token."""
    if not core.settings.keystone_url or not ctx.auth_token:
        raise exception.BadRequest("glance-download needs auth_mode keystone (the remote "
                                   "image service is found in the Keystone catalogue)")


def reader(core: Core, ctx: RequestContext) -> RemoteImages:
    assert core.settings.keystone_url and ctx.auth_token
    return RemoteImages(core.settings.keystone_url, ctx.auth_token,
                        chunk_size=core.settings.chunk_size)


def _copied(core: Core, properties: Mapping[str, Any]) -> dict[str, str]:
    patterns = [p.strip() for p in core.settings.glance_download_properties.split(",")
                if p.strip()]
    return {key: value for key, value in properties.items()
            if isinstance(value, str) and any(fnmatchcase(key, p) for p in patterns)}


async def prepare(core: Core, remote: RemoteImages, image_id: str, wanted: RemoteImage) -> str:
    """Find the remote image (it must be active), copy its formats and chosen properties
    onto ``image_id``; the remote endpoint its data is read from."""
    endpoint = await remote.endpoint(wanted.region, wanted.interface)
    record = await remote.image(endpoint, wanted.image_id)
    if record.get("status") != "active":
        raise exception.Conflict(f"Remote image {wanted.image_id} is {record.get('status')}, "
                                 f"not active")
    fields: dict[str, Any] = {}
    if record.get("disk_format") in DISK_FORMATS:
        fields["disk_format"] = record["disk_format"]
    if record.get("container_format") in CONTAINER_FORMATS:
        fields["container_format"] = record["container_format"]
    await core.db(core.registry.change_metadata, image_id, fields=fields,
                  set_properties=_copied(core, record))
    return endpoint
