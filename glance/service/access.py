"""Who may do what to an image, what values its fields may take, and the quotas on counts."""

from __future__ import annotations

from typing import Any, Mapping

from glance.common import exception
from glance.config import Settings
from glance.context import RequestContext
from glance.domain import (
    BY_NAME,
    MAX_NAME_LENGTH,
    SETTABLE,
    VISIBILITIES,
    Image,
    apply_format_rules,
    check_text,
)
from glance.service.core import Core

MAX_TAG_LENGTH = 255
MAX_OWNER_LENGTH = 255  # the registry's columns for owners and property names
MAX_PROPERTY_NAME_LENGTH = 255


async def mutable(core: Core, ctx: RequestContext, image_id: str) -> Image:
    """The image if the caller may change it (its owner or an admin): 404 when it cannot
    see it, 403 when it only sees it."""
    image = await core.get(ctx, image_id)
    if not ctx.is_admin and (ctx.owner is None or image.owner != ctx.owner):
        raise exception.Forbidden("Only the image's owner or an administrator may change it")
    return image


async def sharable(core: Core, ctx: RequestContext, image_id: str) -> Image:
    """The image if the caller may change its members the v1 way: owner, admin, or a member
    allowed to share it (404 for anyone else)."""
    image = await core.get(ctx, image_id)
    if ctx.is_admin or (ctx.owner is not None and image.owner == ctx.owner):
        return image
    members = await core.db(core.registry.members, image_id)
    if any(m.member_id == ctx.owner and m.can_share for m in members):
        return image
    raise exception.NotFound(f"Image with identifier {image_id} not found")


async def shared(core: Core, ctx: RequestContext, image_id: str) -> Image:
    """The image if the caller sees it and it is shared (v2 members); 403 when not shared."""
    image = await core.get(ctx, image_id)
    if image.visibility != "shared":
        raise exception.Forbidden("Only shared images have members.")
    return image


def validated_fields(settings: Settings, ctx: RequestContext, fields: Mapping[str, Any],
                     image_type: str | None, current: Image | None, *,
                     amazon_pairs: bool = True) -> dict[str, Any]:
    """``fields`` checked (names, types, who may set owner and public visibility) and with
    the formats the seed's ``type`` implies; ``current``: the image they change (None: a
    new one); ``amazon_pairs``: v1's aki/ari/ami pairing rule applies (v2 has none)."""
    unknown = set(fields) - SETTABLE
    if unknown:
        raise exception.BadRequest(f"Unknown image field(s): {', '.join(sorted(unknown))}")
    checked = dict(fields)
    for key in ("name", "owner"):
        if checked.get(key) is not None and not isinstance(checked[key], str):
            raise exception.BadRequest(f"{key} must be a string or null")
        if checked.get(key) is not None:
            check_text(checked[key], f"The image's {key}")
    check_owner(checked.get("owner"))
    name = checked.get("name")
    if name is not None and len(name) > MAX_NAME_LENGTH:
        raise exception.BadRequest(f"Image name too long: at most {MAX_NAME_LENGTH} characters")
    if "visibility" in checked and checked["visibility"] not in VISIBILITIES:
        raise exception.BadRequest(f"Invalid visibility {checked['visibility']!r}")
    for key in ("min_ram", "min_disk"):
        largest = BY_NAME[key].maximum
        if key in checked and (not isinstance(checked[key], int) or
                               isinstance(checked[key], bool) or
                               not 0 <= checked[key] <= largest):
            raise exception.BadRequest(f"{key} must be an integer from 0 to {largest}")
    for key in ("protected", "os_hidden"):
        if key in checked and not isinstance(checked[key], bool):
            raise exception.BadRequest(f"{key} must be true or false")
    if "tags" in checked:
        tags = checked["tags"]
        if not isinstance(tags, list):
            raise exception.BadRequest(
                f"Tags must be a list of strings of 1 to {MAX_TAG_LENGTH} characters")
        check_tags(tags)
        checked["tags"] = list(dict.fromkeys(tags))
        if len(checked["tags"]) > settings.image_tag_quota:
            raise exception.LimitExceeded(
                f"An image may have at most {settings.image_tag_quota} tags")
    if "owner" in checked and not ctx.is_admin and checked["owner"] != (
            current.owner if current else ctx.owner):
        raise exception.Forbidden("Only an administrator may set an image's owner")
    if checked.get("visibility") == "public" and not ctx.is_admin and (
            current is None or current.visibility != "public"):
        raise exception.Forbidden("Only an administrator may make an image public")
    if "disk_format" in checked or "container_format" in checked or image_type is not None:
        checked["disk_format"], checked["container_format"] = apply_format_rules(
            checked.get("disk_format", current.disk_format if current else None),
            checked.get("container_format", current.container_format if current else None),
            image_type, amazon_pairs=amazon_pairs)
    return checked


def check_tags(tags: list[Any]) -> None:
    """400 unless every tag is a string of 1 to MAX_TAG_LENGTH characters (no control
    characters)."""
    if not all(isinstance(t, str) and 0 < len(t) <= MAX_TAG_LENGTH for t in tags):
        raise exception.BadRequest(
            f"Tags must be a list of strings of 1 to {MAX_TAG_LENGTH} characters")
    for tag in tags:
        check_text(tag, "A tag")


def check_owner(owner: str | None) -> None:
    """400 for an owner (a project id) longer than the registry keeps."""
    if owner is not None and len(owner) > MAX_OWNER_LENGTH:
        raise exception.BadRequest(
            f"An owner (project id) has at most {MAX_OWNER_LENGTH} characters")


def check_properties(properties: Mapping[str, Any]) -> None:
    """400 when an extra property's name is too long, or it or its value has control
    characters."""
    for key, value in properties.items():
        if len(key) > MAX_PROPERTY_NAME_LENGTH:
            raise exception.BadRequest(f"Property name {key[:40]}… is longer than "
                                       f"{MAX_PROPERTY_NAME_LENGTH} characters")
        check_text(key, "A property name")
        if isinstance(value, str):
            check_text(value, f"The value of property {key}")


def check_property_quota(settings: Settings, count: int) -> None:
    """413 when a new image would have more extra properties than allowed."""
    quota = settings.image_property_quota
    if quota >= 0 and count > quota:
        raise exception.LimitExceeded(
            f"An image may have at most {quota} extra properties (this change makes "
            f"{count})")


async def check_image_quota(core: Core, owner: str | None) -> None:
    """413 when ``owner``'s project already has as many images as its quota allows."""
    quota = core.settings.project_image_quota
    if quota >= 0 and owner is not None:
        count = (await core.db(core.registry.usage, owner))["count"]
        if count >= quota:
            raise exception.LimitExceeded(
                f"Project {owner} already has {count} images, its quota")


def require_formats(image: Image) -> None:
    """400 unless the image's disk and container formats are set (data needs both)."""
    if not image.disk_format:
        raise exception.BadRequest("Disk format is not specified.")
    if not image.container_format:
        raise exception.BadRequest("Container format is not specified.")
