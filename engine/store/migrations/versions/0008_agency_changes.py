"""The agencies' change feed (an outbox): placements with an agency, recalls and returns in the order
they happened, written in the same transaction as the change.

Placements made before this migration are not in the feed: an agency reads its open placements.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: agency_changes.change's values as engine/domain.py's AgencyChange held them that day (frozen, see 0004)
CHANGES = ("placed", "recalled", "returned")


def upgrade() -> None:
    op.create_table(
        "agency_changes",
        sa.Column(
            "change_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("placement_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "change IN (" + ", ".join(f"'{c}'" for c in CHANGES) + ")", name=op.f("ck_agency_changes_change_known")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.agency_id"], name=op.f("fk_agency_changes_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_agency_changes")),
    )
    op.create_index("ix_agency_changes_agency_id_change_id", "agency_changes", ["agency_id", "change_id"])


def downgrade() -> None:
    op.drop_index("ix_agency_changes_agency_id_change_id", table_name="agency_changes")
    op.drop_table("agency_changes")
