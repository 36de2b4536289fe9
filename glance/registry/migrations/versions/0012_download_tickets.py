"""Download tickets of the web console, kept in the registry so that any process (a worker of
the same server, another server behind a load balancer) can spend a ticket another issued.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "download_tickets",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("image_id", sa.String(64), nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("download_tickets")
