"""Allocation (issue 17): agencies' capacities in balance, regions, debtor kinds, balance band,
commission tiers and term; strategies kept whole by content hash; allocation runs; placements
with their strategy, rule, run, priority, balance at placement and recall reason, at most one open
placement per claim (a partial unique index), agency_id null for the purchaser's own queues, and
the queues epu, court, enforcement (was bailiff, never written) and reminder.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: placements.queue's values before and after, as engine/domain.py's PlacementQueue held them that day
#: (frozen here, never read from the registry)
QUEUES_BEFORE = ("agency", "epu", "court", "bailiff")
QUEUES_AFTER = ("agency", "epu", "court", "enforcement", "reminder")

Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _queues(values: tuple[str, ...]) -> str:
    return "queue IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("capacity_balance", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("regions", Json, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("debtor_kinds", Json, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("balance_min", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("balance_max", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("commission_tiers", Json, nullable=True))
        batch.add_column(sa.Column("term_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "strategies",
        sa.Column("strategy_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("strategy_hash", name=op.f("pk_strategies")),
        sa.UniqueConstraint("version", name=op.f("uq_strategies_version")),
    )
    op.create_table(
        "allocation_runs",
        sa.Column("allocation_run_id", SerialId, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("strategy_hash", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.Column("placed", sa.BigInteger(), nullable=False),
        sa.Column("recalled", sa.BigInteger(), nullable=False),
        sa.Column("summary", Json, nullable=True),
        sa.ForeignKeyConstraint(
            ["strategy_hash"], ["strategies.strategy_hash"], name=op.f("fk_allocation_runs_strategy_hash_strategies")
        ),
        sa.PrimaryKeyConstraint("allocation_run_id", name=op.f("pk_allocation_runs")),
    )
    op.execute("UPDATE placements SET queue = 'enforcement' WHERE queue = 'bailiff'")
    with op.batch_alter_table("placements") as batch:
        batch.drop_constraint(op.f("ck_placements_queue_known"), type_="check")
        batch.drop_constraint(op.f("fk_placements_claim_id_claims"), type_="foreignkey")
        batch.alter_column("agency_id", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("reason", new_column_name="recall_reason", existing_type=sa.String(length=200))
        batch.add_column(sa.Column("strategy_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("strategy_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rule", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("allocation_run_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("priority", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("balance", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("days_past_due", sa.Integer(), nullable=True))
        batch.create_check_constraint(op.f("ck_placements_queue_known"), _queues(QUEUES_AFTER))
        batch.create_index(
            "uq_placements_open_claim",
            ["claim_id"],
            unique=True,
            postgresql_where=sa.text("recalled_on IS NULL"),
            sqlite_where=sa.text("recalled_on IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("placements") as batch:
        batch.drop_index("uq_placements_open_claim")
        batch.drop_constraint(op.f("ck_placements_queue_known"), type_="check")
        for column in (
            "days_past_due",
            "balance",
            "priority",
            "allocation_run_id",
            "rule",
            "strategy_version",
            "strategy_hash",
        ):
            batch.drop_column(column)
        batch.alter_column("recall_reason", new_column_name="reason", existing_type=sa.String(length=200))
    op.execute("DELETE FROM placements WHERE agency_id IS NULL OR queue = 'reminder'")
    op.execute("UPDATE placements SET queue = 'bailiff' WHERE queue = 'enforcement'")
    with op.batch_alter_table("placements") as batch:
        batch.alter_column("agency_id", existing_type=sa.String(length=64), nullable=False)
        batch.create_check_constraint(op.f("ck_placements_queue_known"), _queues(QUEUES_BEFORE))
        batch.create_foreign_key(op.f("fk_placements_claim_id_claims"), "claims", ["claim_id"], ["claim_id"])
    op.drop_table("allocation_runs")
    op.drop_table("strategies")
    with op.batch_alter_table("agencies") as batch:
        for column in (
            "updated_at",
            "term_days",
            "commission_tiers",
            "balance_max",
            "balance_min",
            "debtor_kinds",
            "regions",
            "capacity_balance",
        ):
            batch.drop_column(column)
