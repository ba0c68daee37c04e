"""The day each event was recorded in the store (``events.recorded_on``), for the journal (ledger/):
an event recorded after the period it is dated in is posted in the period it was recorded in, never
into a period already closed.

Events stored before this migration keep a null ``recorded_on``: they are taken as recorded on
their own ``event_date`` (the only day known of them). The column is added nullable, with no
default and no rewrite of the stored rows (events are append-only: the trigger refusing UPDATE
stays as it is). Every writer sets it from now on (engine/store/records.py, the HTTP API's
insert through the model's default).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("recorded_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("events", "recorded_on")
