"""The agencies' change feed (an outbox): placements with an agency, recalls and returns in the order
they happened, written in the same transaction as the change; the agencies' webhooks that deliver
it, and their deliveries.

Placements made before this migration are not in the feed: an agency reads its open placements.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: agency_changes.change's values as engine/domain.py's AgencyChange held them that day (frozen, see 0004)
CHANGES = ("placed", "recalled", "returned")


def upgrade() -> None:
    op.create_table(
        "agency_changes",
        sa.Column(
            "change_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("placement_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "change IN (" + ", ".join(f"'{c}'" for c in CHANGES) + ")", name=op.f("ck_agency_changes_change_known")
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.agency_id"], name=op.f("fk_agency_changes_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_agency_changes")),
    )
    op.create_index("ix_agency_changes_agency_id_change_id", "agency_changes", ["agency_id", "change_id"])

    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", serial, autoincrement=True, nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_through", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"], name=op.f("fk_webhooks_agency_id_agencies")),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_webhooks")),
    )
    op.create_index(op.f("ix_webhooks_agency_id"), "webhooks", ["agency_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", serial, autoincrement=True, nullable=False),
        sa.Column("webhook_id", serial, nullable=False),
        sa.Column("first_change_id", sa.BigInteger(), nullable=False),
        sa.Column("last_change_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhooks.webhook_id"], name=op.f("fk_webhook_deliveries_webhook_id_webhooks")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_webhook_id_delivery_id", "webhook_deliveries", ["webhook_id", "delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook_id_delivery_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_webhooks_agency_id"), table_name="webhooks")
    op.drop_table("webhooks")
    op.drop_index("ix_agency_changes_agency_id_change_id", table_name="agency_changes")
    op.drop_table("agency_changes")
