"""Image members: v1's shares (with can_share) and v2's (only shared images, accepted or
rejected by the member)."""

from __future__ import annotations

from glance.common import exception
from glance.context import RequestContext
from glance.domain import MEMBER_STATUSES, Membership, check_text
from glance.service import access
from glance.service.core import Core

MAX_MEMBER_LENGTH = 255


def check_member_id(member_id: object) -> str:
    """``member_id`` if it can name a project: 1 to 255 characters, no control characters."""
    if not isinstance(member_id, str) or not 0 < len(member_id) <= MAX_MEMBER_LENGTH:
        raise exception.BadRequest(
            f"A member must be a project id of 1 to {MAX_MEMBER_LENGTH} characters")
    return check_text(member_id, "A member id")


class Members:
    """Who an image is shared with."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # v1: owners, admins and members allowed to share change the list

    async def members(self, ctx: RequestContext, image_id: str) -> list[Membership]:
        await self.core.get(ctx, image_id)
        return await self.core.db(self.core.registry.members, image_id)

    async def shared_with(self, ctx: RequestContext, member_id: str) -> list[Membership]:
        if not ctx.is_admin and member_id != ctx.owner:
            return []
        return await self.core.db(self.core.registry.shared_with, member_id)

    async def set_member(self, ctx: RequestContext, image_id: str, member_id: str,
                         can_share: bool | None) -> None:
        await access.sharable(self.core, ctx, image_id)
        check_member_id(member_id)
        await self.core.db(self.core.registry.set_member, image_id, member_id, can_share)

    async def replace_members(self, ctx: RequestContext, image_id: str,
                              members: dict[str, bool | None]) -> None:
        await access.sharable(self.core, ctx, image_id)
        for member_id in members:
            check_member_id(member_id)
        await self.core.db(self.core.registry.replace_members, image_id, members)

    async def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        await access.sharable(self.core, ctx, image_id)
        await self.core.db(self.core.registry.delete_member, image_id, member_id)

    # v2: only shared images have members; they accept or reject the share

    async def member_list(self, ctx: RequestContext, image_id: str) -> list[Membership]:
        """The owner sees every member, a member sees itself."""
        image = await access.shared(self.core, ctx, image_id)
        members = await self.core.db(self.core.registry.members, image.id)
        if ctx.is_admin or image.owner == ctx.owner:
            return members
        return [m for m in members if m.member_id == ctx.owner]

    async def get_member(self, ctx: RequestContext, image_id: str,
                         member_id: str) -> Membership:
        image = await access.shared(self.core, ctx, image_id)
        if not ctx.is_admin and image.owner != ctx.owner and member_id != ctx.owner:
            raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
        return await self.core.db(self.core.registry.member, image_id, member_id)

    async def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> Membership:
        """A new pending member (owner or admin only; 409 if already a member)."""
        await access.mutable(self.core, ctx, image_id)
        await access.shared(self.core, ctx, image_id)
        check_member_id(member_id)
        count = len(await self.core.db(self.core.registry.members, image_id))
        if count >= self.core.settings.image_member_quota:
            raise exception.LimitExceeded(
                f"Image {image_id} already has {count} members, the most allowed")
        return await self.core.db(self.core.registry.add_member, image_id, member_id)

    async def set_member_status(self, ctx: RequestContext, image_id: str, member_id: str,
                                status: str) -> Membership:
        """The member (or an admin) accepts, rejects or resets its membership."""
        await access.shared(self.core, ctx, image_id)
        if status not in MEMBER_STATUSES:
            raise exception.BadRequest(
                f"Invalid member status {status!r}: must be one of {', '.join(MEMBER_STATUSES)}")
        if not ctx.is_admin and member_id != ctx.owner:
            raise exception.Forbidden("Only the member itself may change its status")
        return await self.core.db(self.core.registry.set_member_status, image_id, member_id,
                                  status)

    async def remove_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        await access.mutable(self.core, ctx, image_id)
        await access.shared(self.core, ctx, image_id)
        await self.core.db(self.core.registry.member, image_id, member_id)
        await self.core.db(self.core.registry.delete_member, image_id, member_id)
