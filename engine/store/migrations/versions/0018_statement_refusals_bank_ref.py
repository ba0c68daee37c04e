"""Refused statement lines found by their bank reference: an import refuses a line it refused
before again, with the reason given then (payments/importing.py), so each import looks up the
refusals of its lines' references.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statement_refusals") as batch_op:
        batch_op.create_index("ix_statement_refusals_bank_ref", ["bank_ref"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statement_refusals") as batch_op:
        batch_op.drop_index("ix_statement_refusals_bank_ref")
