"""Tasks remember the request that started them and its user (GET /v2/images/{id}/tasks
shows request_id and user_id).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("request_id", sa.String(64)))
        batch.add_column(sa.Column("user_id", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("user_id")
        batch.drop_column("request_id")
