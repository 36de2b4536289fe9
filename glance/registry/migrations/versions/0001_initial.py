"""Initial schema: images, properties, members.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_INDEXED = ("name", "disk_format", "container_format", "size", "checksum", "os_hash_value",
            "status", "visibility", "protected", "min_ram", "min_disk", "owner", "created_at",
            "updated_at", "deleted")


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("disk_format", sa.String(20)),
        sa.Column("container_format", sa.String(20)),
        sa.Column("size", sa.BigInteger),
        sa.Column("virtual_size", sa.BigInteger),
        sa.Column("checksum", sa.String(32)),
        sa.Column("os_hash_algo", sa.String(64)),
        sa.Column("os_hash_value", sa.String(128)),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("visibility", sa.String(20), nullable=False),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("min_ram", sa.Integer, nullable=False),
        sa.Column("min_disk", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(255)),
        sa.Column("store", sa.String(255)),
        sa.Column("location", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("deleted_at", sa.DateTime),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    for column in _INDEXED:
        op.create_index(f"ix_images_{column}", "images", [column])
    op.create_table(
        "image_properties",
        sa.Column("image_id", sa.String(64), sa.ForeignKey("images.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_image_properties_name", "image_properties", ["name"])
    op.create_table(
        "image_members",
        sa.Column("image_id", sa.String(64), sa.ForeignKey("images.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("member", sa.String(255), primary_key=True),
        sa.Column("can_share", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_image_members_member", "image_members", ["member"])


def downgrade() -> None:
    op.drop_table("image_members")
    op.drop_table("image_properties")
    op.drop_table("images")
