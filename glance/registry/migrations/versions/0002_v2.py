"""Images API v2: os_hidden and tags.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("os_hidden", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_index("ix_images_os_hidden", "images", ["os_hidden"])
    op.create_table(
        "image_tags",
        sa.Column("image_id", sa.String(64), sa.ForeignKey("images.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
    )
    op.create_index("ix_image_tags_value", "image_tags", ["value"])


def downgrade() -> None:
    op.drop_table("image_tags")
    op.drop_index("ix_images_os_hidden", "images")
    with op.batch_alter_table("images") as batch:
        batch.drop_column("os_hidden")
