"""A plan or a settlement offer replaced by the next one made on its claim (``replaced_by``): it is
then final as it stood, never decided anew by the daily update (payments/plans/store.py
``_open_where``). Without it, a broken plan mended by a late payment (or an update dated before
it broke) came back active beside the plan made after it: two active plans of one claim.

The upgrade marks every plan and offer that has a later one on its claim with the next one's id.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

TABLES = {"payment_plans": "plan_id", "settlements": "settlement_id"}


def upgrade() -> None:
    for table, key in TABLES.items():
        # plain ALTERs (SQLite has both since 3.35): a batch copy of payment_plans would break
        # plan_instalments' foreign key to it
        op.add_column(table, sa.Column("replaced_by", sa.BigInteger(), nullable=True))
        op.execute(
            f"UPDATE {table} SET replaced_by = (SELECT min(later.{key}) FROM {table} later "
            f"WHERE later.claim_id = {table}.claim_id AND later.{key} > {table}.{key})"
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "replaced_by")
