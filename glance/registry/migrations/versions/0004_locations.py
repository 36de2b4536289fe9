"""Several locations per image: the image_locations table replaces images.store/location.

Revision ID: 0004
Revises: 0003

Each live image's (store, location) becomes one location row: ``active`` when it had a key,
``saving`` (key = image id) when an upload was in progress, so that the start-up reconcile
still finds and cleans it. The old columns are dropped (SQLite ≥ 3.35 drops a plain column
in place; no table copy, so no foreign-key cascade on the images' children).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_locations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.String(64), sa.ForeignKey("images.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("store", sa.String(255), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("image_id", "store", name="uq_image_locations_store"),
    )
    op.create_index("ix_image_locations_image_id", "image_locations", ["image_id"])
    op.create_index("ix_image_locations_status", "image_locations", ["status"])
    op.execute(
        "INSERT INTO image_locations (image_id, store, key, status, created_at, updated_at) "
        "SELECT id, store, COALESCE(location, id), "
        "CASE WHEN location IS NULL THEN 'saving' ELSE 'active' END, updated_at, updated_at "
        "FROM images WHERE store IS NOT NULL AND deleted = false "
        "ORDER BY created_at, id")
    op.drop_column("images", "location")
    op.drop_column("images", "store")


def downgrade() -> None:
    op.add_column("images", sa.Column("store", sa.String(255)))
    op.add_column("images", sa.Column("location", sa.Text))
    # the first location of each image goes back into the columns; other copies are forgotten
    op.execute(
        "UPDATE images SET "
        "store = (SELECT l.store FROM image_locations l WHERE l.image_id = images.id "
        "ORDER BY l.id LIMIT 1), "
        "location = (SELECT l.key FROM image_locations l WHERE l.image_id = images.id "
        "AND l.status = 'active' ORDER BY l.id LIMIT 1)")
    op.drop_table("image_locations")
