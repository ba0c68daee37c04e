"""The daily plan update reads what changed (issue 20): ``plan_updates`` keeps each update's day,
the day it read the store and the largest event id it saw, so that the next one recomputes only
the plans, settlements and promises whose claims have payments or reversals it has not counted
(dated since, or recorded since), that are new, or that turn by the day alone (payments/plans/
store.py); the rest are as it left them. Two indexes on ``events`` find those events without a
scan: ``event_date`` (the payments dated since the last update) and ``recorded_on`` (those
recorded since, whatever their day).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "plan_updates",
        sa.Column("update_id", SerialId, autoincrement=True, nullable=False),
        sa.Column("portfolio_id", sa.String(length=64), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("read_on", sa.Date(), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("full_recompute", sa.Boolean(), nullable=False),
        sa.Column("recomputed_claims", sa.BigInteger(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_plan_updates")),
    )
    op.create_index("ix_events_event_date", "events", ["event_date"])
    op.create_index("ix_events_recorded_on", "events", ["recorded_on"])


def downgrade() -> None:
    op.drop_index("ix_events_recorded_on", table_name="events")
    op.drop_index("ix_events_event_date", table_name="events")
    op.drop_table("plan_updates")
