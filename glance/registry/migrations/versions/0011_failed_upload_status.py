"""The status an image goes back to when its upload fails, recorded when the upload starts,
so that recovery after a crash applies it too (a v2 upload: queued again; v1: killed).

Revision ID: 0011
Revises: 0007

Images recorded before it have none, which means killed (what recovery always did).
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("failed_upload_status", sa.String(30)))


def downgrade() -> None:
    # in place (SQLite >= 3.35): a table copy would cascade-delete the images' children
    op.drop_column("images", "failed_upload_status")
