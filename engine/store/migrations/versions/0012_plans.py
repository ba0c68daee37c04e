"""Payment plans, settlements and promises to pay (issue 20, second half): payment_plans with their
terms and what the daily update last found (at most one active plan per claim: a partial unique
index), plan_instalments (0 is the down payment), settlements (at most one open per claim) and
promises (with the agency and the collector who took them).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

#: the registries' values that day (frozen, see 0004)
PLAN_STATUSES = ("active", "kept", "broken", "cancelled")
SETTLEMENT_STATUSES = ("open", "paid", "lapsed", "cancelled")
PROMISE_STATUSES = ("open", "kept", "broken", "cancelled")

SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _made() -> list[sa.Column]:
    return [
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
    ]


def _one_open_per_claim(table: str, status: str) -> None:
    where = sa.text(f"status = '{status}'")
    op.create_index(
        f"uq_{table}_open_claim", table, ["claim_id"], unique=True, postgresql_where=where, sqlite_where=where
    )


def upgrade() -> None:
    op.create_table(
        "payment_plans",
        sa.Column("plan_id", SerialId, autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("down_payment", sa.BigInteger(), nullable=False),
        sa.Column("instalments", sa.Integer(), nullable=False),
        sa.Column("write_off_rest", sa.Boolean(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("break_after_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("instalments_paid", sa.Integer(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("updated_as_of", sa.Date(), nullable=True),
        sa.Column("acknowledgment_event_id", sa.BigInteger(), nullable=True),
        sa.Column("write_off_event_id", sa.BigInteger(), nullable=True),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        *_made(),
        sa.CheckConstraint(_in("status", PLAN_STATUSES), name=op.f("ck_payment_plans_status_known")),
        sa.CheckConstraint(
            "total > 0 AND down_payment >= 0 AND down_payment < total AND instalments > 0 "
            "AND grace_days >= 0 AND break_after_days >= grace_days",
            name=op.f("ck_payment_plans_terms"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.agency_id"], name=op.f("fk_payment_plans_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_payment_plans")),
    )
    op.create_index("ix_payment_plans_claim_id", "payment_plans", ["claim_id"])
    _one_open_per_claim("payment_plans", "active")
    op.create_table(
        "plan_instalments",
        sa.Column("plan_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0 AND number >= 0", name=op.f("ck_plan_instalments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plans.plan_id"], name=op.f("fk_plan_instalments_plan_id_payment_plans")
        ),
        sa.PrimaryKeyConstraint("plan_id", "number", name=op.f("pk_plan_instalments")),
    )
    op.create_table(
        "settlements",
        sa.Column("settlement_id", SerialId, autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pay_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("updated_as_of", sa.Date(), nullable=True),
        sa.Column("write_off_event_id", sa.BigInteger(), nullable=True),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.String(length=200), nullable=True),
        *_made(),
        sa.CheckConstraint(_in("status", SETTLEMENT_STATUSES), name=op.f("ck_settlements_status_known")),
        sa.CheckConstraint("amount > 0 AND pay_by >= offered_on", name=op.f("ck_settlements_terms")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"], name=op.f("fk_settlements_agency_id_agencies")),
        sa.PrimaryKeyConstraint("settlement_id", name=op.f("pk_settlements")),
    )
    op.create_index("ix_settlements_claim_id", "settlements", ["claim_id"])
    _one_open_per_claim("settlements", "open")
    op.create_table(
        "promises",
        sa.Column("promise_id", SerialId, autoincrement=True, nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pay_by", sa.Date(), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("collector", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_on", sa.Date(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("updated_as_of", sa.Date(), nullable=True),
        *_made(),
        sa.CheckConstraint(_in("status", PROMISE_STATUSES), name=op.f("ck_promises_status_known")),
        sa.CheckConstraint("amount > 0 AND pay_by >= made_on", name=op.f("ck_promises_terms")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"], name=op.f("fk_promises_agency_id_agencies")),
        sa.PrimaryKeyConstraint("promise_id", name=op.f("pk_promises")),
    )
    op.create_index("ix_promises_claim_id", "promises", ["claim_id"])
    op.create_index("ix_promises_agency_id", "promises", ["agency_id"])


def downgrade() -> None:
    op.drop_table("promises")
    op.drop_table("settlements")
    op.drop_table("plan_instalments")
    op.drop_table("payment_plans")
