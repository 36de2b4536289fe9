"""Composite indexes for the default list orders: (deleted, created_at, id) and
(deleted, updated_at, id).

Revision ID: 0006
Revises: 0005

A page of live images sorted by created_at (the default) or updated_at, ties broken by id,
is then read off the index in order and stops after ``limit`` rows, instead of sorting every
live row (SQLite's "USE TEMP B-TREE FOR ORDER BY") on each request.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_images_deleted_created_at_id", "images", ["deleted", "created_at", "id"])
    op.create_index("ix_images_deleted_updated_at_id", "images", ["deleted", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_images_deleted_updated_at_id", table_name="images")
    op.drop_index("ix_images_deleted_created_at_id", table_name="images")
