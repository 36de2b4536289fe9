"""SQLAlchemy models of the registry. Migrations in ``migrations/`` must match them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ImageRow(Base):
    __tablename__ = "images"
    # the default list orders (created_at or updated_at, then id) of live images, read off an
    # index instead of sorting every live row for each page
    __table_args__ = (Index("ix_images_deleted_created_at_id", "deleted", "created_at", "id"),
                      Index("ix_images_deleted_updated_at_id", "deleted", "updated_at", "id"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    disk_format: Mapped[str | None] = mapped_column(String(20), index=True)
    container_format: Mapped[str | None] = mapped_column(String(20), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger, index=True)
    virtual_size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(32), index=True)
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(30), index=True)
    visibility: Mapped[str] = mapped_column(String(20), index=True)
    protected: Mapped[bool] = mapped_column(Boolean, index=True, default=False)
    os_hidden: Mapped[bool] = mapped_column(Boolean, index=True, default=False)
    min_ram: Mapped[int] = mapped_column(Integer, index=True, default=0)
    min_disk: Mapped[int] = mapped_column(Integer, index=True, default=0)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, index=True, default=False)
    # where a failed upload leaves the image (set when an upload starts; recovery reads it)
    failed_upload_status: Mapped[str | None] = mapped_column(String(30))


class LocationRow(Base):
    """One copy of an image's bytes: (store instance name, key) and its status."""

    __tablename__ = "image_locations"
    __table_args__ = (UniqueConstraint("image_id", "store", "key", name="uq_image_locations_key"),
                      Index("ix_image_locations_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("images.id", ondelete="CASCADE"), index=True)
    store: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    worker: Mapped[str | None] = mapped_column(String(64))  # writing or deleting it
    meta: Mapped[str | None] = mapped_column("meta_data", Text)  # JSON object; null: {}
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PropertyRow(Base):
    __tablename__ = "image_properties"
    __table_args__ = (Index("ix_image_properties_name", "name"),)

    image_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MemberRow(Base):
    __tablename__ = "image_members"
    __table_args__ = (Index("ix_image_members_member", "member"),)

    image_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[str] = mapped_column(String(255), primary_key=True)
    can_share: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class TagRow(Base):
    __tablename__ = "image_tags"
    __table_args__ = (Index("ix_image_tags_value", "value"),)

    image_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class TaskRow(Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_image_id", "image_id"), Index("ix_tasks_status", "status"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    image_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))
    owner: Mapped[str | None] = mapped_column(String(255))
    input: Mapped[str] = mapped_column(Text)  # JSON
    message: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str | None] = mapped_column(String(64))  # the process running it
    request_id: Mapped[str | None] = mapped_column(String(64))  # migration 0013
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class WorkerRow(Base):
    """A running server process; alive while its heartbeat is recent."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)


class DownloadTicketRow(Base):
    """A single-use link to one image's data for one caller (the console's downloads)."""

    __tablename__ = "download_tickets"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the ticket
    image_id: Mapped[str] = mapped_column(String(64))
    caller: Mapped[str] = mapped_column(Text)  # JSON: project, user, roles, admin
    filename: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


# -- metadata definitions (metadefs) ---------------------------------------------------------

class MetadefNamespaceRow(Base):
    """A namespace of definitions; renamed in place (its contents refer to ``id``)."""

    __tablename__ = "metadef_namespaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(32), index=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MetadefResourceTypeRow(Base):
    __tablename__ = "metadef_resource_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    protected: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MetadefAssociationRow(Base):
    """A namespace applies to a resource type."""

    __tablename__ = "metadef_namespace_resource_types"
    __table_args__ = (Index("ix_metadef_ns_rt_resource_type", "resource_type_id"),)

    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id", ondelete="CASCADE"), primary_key=True)
    resource_type_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_resource_types.id"), primary_key=True)
    prefix: Mapped[str | None] = mapped_column(String(80))
    properties_target: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MetadefObjectRow(Base):
    __tablename__ = "metadef_objects"
    __table_args__ = (UniqueConstraint("namespace_id", "name", name="uq_metadef_objects_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[str] = mapped_column(Text)  # JSON list of property names
    properties: Mapped[str] = mapped_column(Text)  # JSON: name → property definition
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MetadefPropertyRow(Base):
    __tablename__ = "metadef_properties"
    __table_args__ = (UniqueConstraint("namespace_id", "name",
                                       name="uq_metadef_properties_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    json_schema: Mapped[str] = mapped_column(Text)  # JSON: title, type, constraints
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class MetadefTagRow(Base):
    __tablename__ = "metadef_tags"
    __table_args__ = (UniqueConstraint("namespace_id", "name", name="uq_metadef_tags_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
