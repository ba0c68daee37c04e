"""``agency_changes`` without its foreign key to ``agencies``: every change row is written from a
placement (placed, recalled, returned) in that placement's transaction and carries its agency, and
``placements.agency_id`` keeps its own key to ``agencies``. The second key checked the same agency
again, a row at a time: ~0.7 s of a 10M allocation's ~17 s (200k changes; BENCHMARKS.md).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

KEY = "fk_agency_changes_agency_id_agencies"


def upgrade() -> None:
    # SQLite: the table copied without the key (batch mode); PostgreSQL: the key dropped in place
    with op.batch_alter_table("agency_changes") as batch:
        batch.drop_constraint(KEY, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("agency_changes") as batch:
        batch.create_foreign_key(KEY, "agencies", ["agency_id"], ["agency_id"])
