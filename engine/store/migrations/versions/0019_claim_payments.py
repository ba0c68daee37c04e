"""Each claim's payments as its engine run saw them (``claim_payments``): the count, the last day
and the amount paid in the last 90 days, kept by `cession run` so that allocation reads one row
per paying claim instead of every payment (engine/store/runs.py ``write_payments``). A run
records the horizon it kept them for (``engine_runs.payments_horizon_days``); runs stored before
this migration have none, and allocation reads their payments as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claim_payments",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("last_paid", sa.Date(), nullable=False),
        sa.Column("payments_before", sa.Integer(), nullable=False),
        sa.Column("last_paid_before", sa.Date(), nullable=True),
        sa.Column("paid_since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "claim_id"),
    )
    with op.batch_alter_table("engine_runs") as batch_op:
        batch_op.add_column(sa.Column("payments_horizon_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("engine_runs") as batch_op:
        batch_op.drop_column("payments_horizon_days")
    op.drop_table("claim_payments")
