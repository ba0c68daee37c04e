"""claim_payments kept only for the runs portfolios point at, as claim_state: on PostgreSQL
LIST-partitioned by run_id (a run's rows are a table of its own, attached when the run succeeds
and dropped whole once superseded; engine/store/runs.py ``write_payments``, ``drop_superseded``),
on SQLite the superseded rows deleted after each run. Until now no run's rows were ever removed.

The upgrade keeps the rows of each claim under the run its portfolio points at and drops the
rest (rows of superseded runs, and of portfolios that moved on from a run they shared); the
downgrade puts the kept rows back into one table.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

#: a claim's rows of the run its portfolio points at (``{table}``: claim_payments' rows as they were)
CURRENT = (
    "SELECT cp.* FROM {table} cp JOIN claims c ON c.claim_id = cp.claim_id "
    "JOIN portfolios p ON p.portfolio_id = c.portfolio_id AND p.current_run_id = cp.run_id"
)


def _columns() -> list:
    return [
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("last_paid", sa.Date(), nullable=False),
        sa.Column("payments_before", sa.Integer(), nullable=False),
        sa.Column("last_paid_before", sa.Date(), nullable=True),
        sa.Column("paid_since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "claim_id", name=op.f("pk_claim_payments")),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            "DELETE FROM claim_payments WHERE NOT EXISTS (SELECT 1 FROM claims c JOIN portfolios p "
            "ON p.portfolio_id = c.portfolio_id WHERE c.claim_id = claim_payments.claim_id "
            "AND p.current_run_id = claim_payments.run_id)"
        )
        return
    op.execute("ALTER TABLE claim_payments RENAME TO claim_payments_0019")
    op.execute("ALTER INDEX pk_claim_payments RENAME TO pk_claim_payments_0019")
    op.create_table("claim_payments", *_columns(), postgresql_partition_by="LIST (run_id)")
    kept = op.get_bind().exec_driver_sql(
        "SELECT DISTINCT current_run_id FROM portfolios WHERE current_run_id IS NOT NULL ORDER BY 1"
    )
    for run_id in [int(r) for r in kept.scalars()]:
        part = f"claim_payments_run_{run_id}"
        op.execute(
            f"CREATE TABLE {part} (LIKE claim_payments INCLUDING DEFAULTS, PRIMARY KEY (run_id, claim_id), "
            f"CONSTRAINT {part}_run CHECK (run_id = {run_id}))"
        )
        op.execute(
            f"INSERT INTO {part} {CURRENT.format(table='claim_payments_0019')} WHERE cp.run_id = {run_id} "
            "ORDER BY cp.claim_id"
        )
        op.execute(f"ALTER TABLE claim_payments ATTACH PARTITION {part} FOR VALUES IN ({run_id})")
    op.drop_table("claim_payments_0019")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE claim_payments RENAME TO claim_payments_0020")
    op.execute("ALTER INDEX pk_claim_payments RENAME TO pk_claim_payments_0020")
    op.create_table("claim_payments", *_columns())
    op.execute("INSERT INTO claim_payments SELECT * FROM claim_payments_0020 ORDER BY run_id, claim_id")
    op.drop_table("claim_payments_0020")  # its partitions with it
