"""Virtual accounts: every debtor's own account number at the fund's bank (engine/store/virtual_accounts.py).

The table starts empty: a store's debtors get their numbers from the next `cession load` or ingest,
or at once from `cession debtors accounts` (the migration has no setting to read the fund's prefix from).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "virtual_accounts",
        sa.Column("debtor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("nrb", sa.String(length=26), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("debtor_id", name=op.f("pk_virtual_accounts")),
        sa.UniqueConstraint("nrb", name=op.f("uq_virtual_accounts_nrb")),
    )


def downgrade() -> None:
    op.drop_table("virtual_accounts")
