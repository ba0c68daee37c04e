"""Claims found by their seller_ref alone: a bank statement's titles name claims by it (the
matching's second step, payments/matching.py). The unique (portfolio_id, seller_ref) could not
serve that lookup (seller_ref is its second column): every statement read the whole claims table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.create_index("ix_claims_seller_ref", ["seller_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_index("ix_claims_seller_ref")
