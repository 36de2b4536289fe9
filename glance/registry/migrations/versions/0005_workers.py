"""Server processes and what each is doing: a heartbeat per process, and the process that
writes each half-written copy and runs each task, so that one process's restart only cleans
up after processes that are gone.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    )
    with op.batch_alter_table("image_locations") as batch:
        batch.add_column(sa.Column("worker", sa.String(64)))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("worker", sa.String(64)))
    op.create_index("ix_tasks_status", "tasks", ["status"])  # recovery looks up unfinished


def downgrade() -> None:
    op.drop_index("ix_tasks_status", "tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("worker")
    with op.batch_alter_table("image_locations") as batch:
        batch.drop_column("worker")
    op.drop_table("workers")
