"""Several URL locations per image, and each location's metadata (v2's locations API).

Revision ID: 0014
Revises: 0013

An image keeps one copy per store, except in the read-only http store, where each location
is a different URL: the unique key becomes (image_id, store, key); the service still allows
one copy per writable store. ``meta_data`` is the location's metadata as v2 shows it (JSON;
null: none).
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_locations") as batch:
        batch.drop_constraint("uq_image_locations_store", type_="unique")
        batch.create_unique_constraint("uq_image_locations_key", ["image_id", "store", "key"])
        batch.add_column(sa.Column("meta_data", sa.Text))


def downgrade() -> None:
    # an image's second and later URLs go: one location per store again
    op.execute(
        "DELETE FROM image_locations WHERE id NOT IN "
        "(SELECT MIN(id) FROM image_locations GROUP BY image_id, store)")
    with op.batch_alter_table("image_locations") as batch:
        batch.drop_column("meta_data")
        batch.drop_constraint("uq_image_locations_key", type_="unique")
        batch.create_unique_constraint("uq_image_locations_store", ["image_id", "store"])
