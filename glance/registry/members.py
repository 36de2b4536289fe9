"""Image members: the projects an image is shared with, and their answers."""

from __future__ import annotations

from sqlalchemy import delete, false, select
from sqlalchemy.exc import IntegrityError

from glance.common import exception
from glance.domain import Membership, utcnow
from glance.registry.core import RegistryCore
from glance.registry.models import ImageRow, MemberRow
from glance.registry.rows import membership_of


class Members(RegistryCore):
    """Memberships of images."""

    def members(self, image_id: str) -> list[Membership]:
        """The image's members, by member id."""
        with self._read() as session:
            rows = session.scalars(select(MemberRow).where(MemberRow.image_id == image_id)
                                   .order_by(MemberRow.member))
            return [membership_of(row) for row in rows]

    def shared_with(self, member_id: str) -> list[Membership]:
        """The memberships of ``member_id`` in live images."""
        with self._read() as session:
            rows = session.scalars(
                select(MemberRow).join(ImageRow, ImageRow.id == MemberRow.image_id)
                .where(MemberRow.member == member_id, ImageRow.deleted == false())
                .order_by(MemberRow.image_id))
            return [membership_of(row) for row in rows]

    def set_member(self, image_id: str, member_id: str, can_share: bool | None) -> None:
        """Create the membership (can_share default False) or update its can_share."""
        now = utcnow()
        with self._write() as session:
            existing = session.get(MemberRow, (image_id, member_id))
            if existing is None:
                session.add(MemberRow(image_id=image_id, member=member_id,
                                      can_share=bool(can_share), status="pending",
                                      created_at=now, updated_at=now))
            elif can_share is not None:
                existing.can_share = can_share
                existing.updated_at = now

    def replace_members(self, image_id: str, members: dict[str, bool | None]) -> None:
        """Make ``members`` the whole member list (None keeps an existing can_share)."""
        now = utcnow()
        with self._write() as session:
            existing = {row.member: row for row in session.scalars(
                select(MemberRow).where(MemberRow.image_id == image_id))}
            for member_id, old in existing.items():
                if member_id not in members:
                    session.delete(old)
            for member_id, can_share in members.items():
                row = existing.get(member_id)
                if row is None:
                    session.add(MemberRow(image_id=image_id, member=member_id,
                                          can_share=bool(can_share), status="pending",
                                          created_at=now, updated_at=now))
                elif can_share is not None:
                    row.can_share = can_share
                    row.updated_at = now

    def member(self, image_id: str, member_id: str) -> Membership:
        """One membership, or NotFound."""
        with self._read() as session:
            row = session.get(MemberRow, (image_id, member_id))
            if row is None:
                raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
            return membership_of(row)

    def add_member(self, image_id: str, member_id: str) -> Membership:
        """Create a pending membership; Duplicate if it exists."""
        now = utcnow()
        try:
            with self._write() as session:
                session.add(MemberRow(image_id=image_id, member=member_id, can_share=False,
                                      status="pending", created_at=now, updated_at=now))
        except IntegrityError:
            raise exception.Duplicate(
                f"{member_id} is already a member of image {image_id}") from None
        return self.member(image_id, member_id)

    def set_member_status(self, image_id: str, member_id: str, status: str) -> Membership:
        """The member's answer to the share; NotFound when it is not a member."""
        with self._write() as session:
            row = session.get(MemberRow, (image_id, member_id))
            if row is None:
                raise exception.NotFound(f"{member_id} is not a member of image {image_id}")
            row.status = status
            row.updated_at = utcnow()
        return self.member(image_id, member_id)

    def delete_member(self, image_id: str, member_id: str) -> None:
        """End the membership (nothing happens when there is none)."""
        with self._write() as session:
            session.execute(delete(MemberRow).where(
                MemberRow.image_id == image_id, MemberRow.member == member_id))
