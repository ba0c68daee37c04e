"""Events found by claim and day, and reversals by the event they take back: a bank statement's
open balances (payments/repository.py) read only a claim's payments after its state's day (an
index range, no visit to the claim's older events) and the reversals naming those payments.

``ix_events_claim_id`` (claim_id) becomes ``ix_events_claim_day`` (claim_id, event_date): every
read by claim alone uses it as before. ``ix_events_reverses`` holds only reversals (partial: no
upkeep when a payment is written).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.create_index("ix_events_claim_day", ["claim_id", "event_date"], unique=False)
        batch_op.drop_index("ix_events_claim_id")
        batch_op.create_index(
            "ix_events_reverses",
            ["reverses"],
            unique=False,
            postgresql_where=sa.text("reverses IS NOT NULL"),
            sqlite_where=sa.text("reverses IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_reverses")
        batch_op.create_index("ix_events_claim_id", ["claim_id"], unique=False)
        batch_op.drop_index("ix_events_claim_day")
