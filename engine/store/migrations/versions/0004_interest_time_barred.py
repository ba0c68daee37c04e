"""Limitation rule set 2026-12: claim_state.interest_time_barred (the part of interest_due past its own
limitation, docs/engine.md §3a) and the interest basis commercial_late_medical (claims.interest_basis
widened to 32 characters, its CHECK listing the new value).

interest_time_barred is NULL in the rows of runs computed before this migration (by rule set 2018-07,
which did not compute it): `cession run` computes it anew.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: claims.interest_basis's values before and after, as engine/domain.py's InterestBasis held them that day:
#: frozen here, never read from the registry, so this migration builds the same schema whatever it holds
#: later (a new basis gets a migration of its own, written like this one).
BASES_BEFORE = ("none", "statutory_late", "commercial_late", "contractual")
BASES_AFTER = BASES_BEFORE + ("commercial_late_medical",)


def _bases(values: tuple[str, ...], length: int, old_length: int) -> None:
    check = "interest_basis IN (" + ", ".join(f"'{v}'" for v in values) + ")"
    with op.batch_alter_table("claims") as batch:  # SQLite: the table copied with the new definition
        batch.drop_constraint(op.f("ck_claims_interest_basis_known"), type_="check")
        batch.alter_column(
            "interest_basis",
            type_=sa.String(length=length),
            existing_type=sa.String(length=old_length),
            existing_nullable=False,
        )
        batch.create_check_constraint(op.f("ck_claims_interest_basis_known"), check)


def upgrade() -> None:
    _bases(BASES_AFTER, 32, 16)
    op.add_column("claim_state", sa.Column("interest_time_barred", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Refused by the CHECK while a claim has the basis commercial_late_medical: nothing is lost."""
    op.drop_column("claim_state", "interest_time_barred")
    _bases(BASES_BEFORE, 16, 32)
