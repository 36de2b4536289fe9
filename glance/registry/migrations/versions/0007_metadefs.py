"""Metadata definitions: namespaces, resource types and their associations, objects,
properties and tags; the usual resource types are there from the start.

Revision ID: 0007
Revises: 0006
"""

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# the resource types OpenStack services look for, so that a client has some to choose from
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Cinder::Volume", "OS::Nova::Flavor",
                  "OS::Nova::Aggregate", "OS::Nova::Server")


def _namespace_fk() -> Any:
    return sa.Column("namespace_id", sa.Integer,
                     sa.ForeignKey("metadef_namespaces.id", ondelete="CASCADE"),
                     nullable=False)


def _times() -> list[Any]:
    return [sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "metadef_namespaces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("namespace", sa.String(80), nullable=False, unique=True),
        sa.Column("display_name", sa.String(80)),
        sa.Column("description", sa.Text),
        sa.Column("visibility", sa.String(32), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(255)),
        *_times(),
    )
    op.create_index("ix_metadef_namespaces_visibility", "metadef_namespaces", ["visibility"])
    op.create_index("ix_metadef_namespaces_owner", "metadef_namespaces", ["owner"])
    op.create_index("ix_metadef_namespaces_created_at", "metadef_namespaces", ["created_at"])
    resource_types = op.create_table(
        "metadef_resource_types",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("protected", sa.Boolean, nullable=False),
        *_times(),
    )
    op.create_table(
        "metadef_namespace_resource_types",
        sa.Column("namespace_id", sa.Integer,
                  sa.ForeignKey("metadef_namespaces.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("resource_type_id", sa.Integer, sa.ForeignKey("metadef_resource_types.id"),
                  primary_key=True),
        sa.Column("prefix", sa.String(80)),
        sa.Column("properties_target", sa.String(80)),
        *_times(),
    )
    op.create_index("ix_metadef_ns_rt_resource_type", "metadef_namespace_resource_types",
                    ["resource_type_id"])
    op.create_table(
        "metadef_objects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _namespace_fk(),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("required", sa.Text, nullable=False),
        sa.Column("properties", sa.Text, nullable=False),
        *_times(),
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_objects_name"),
    )
    op.create_table(
        "metadef_properties",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _namespace_fk(),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("json_schema", sa.Text, nullable=False),
        *_times(),
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_properties_name"),
    )
    op.create_table(
        "metadef_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _namespace_fk(),
        sa.Column("name", sa.String(255), nullable=False),
        *_times(),
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_tags_name"),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(resource_types, [
        {"name": name, "protected": True, "created_at": now, "updated_at": now}
        for name in RESOURCE_TYPES])


def downgrade() -> None:
    for table in ("metadef_tags", "metadef_properties", "metadef_objects",
                  "metadef_namespace_resource_types", "metadef_resource_types",
                  "metadef_namespaces"):
        op.drop_table(table)
