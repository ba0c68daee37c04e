"""Contacts with debtors: template versions, contacts (queued, sent, held with their rule),
delivery results, objections to channels and doubtful addresses.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: the vocabularies' values that day (frozen, see 0004)
TEMPLATES = ("notice", "reminder", "demand")
CHANNELS = ("letter", "email", "sms", "phone")
STATUSES = ("held", "queued", "sent", "failed", "expired", "delivered", "bounced", "returned")
RESULTS = ("delivered", "bounced", "returned")


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _id():
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "contact_templates",
        sa.Column("template_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("files", _json(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("template_hash", name=op.f("pk_contact_templates")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_contact_templates_name_version")),
    )
    op.create_table(
        "contacts",
        sa.Column("contact_id", _id(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("debtor_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("template", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(24), nullable=True),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rules_sha256", sa.String(64), nullable=False),
        sa.Column("template_hash", sa.String(64), nullable=True),
        sa.Column("data", _json(), nullable=True),
        sa.Column("document_sha256", sa.String(64), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("batch", sa.String(200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("template", TEMPLATES), name=op.f("ck_contacts_template_known")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_contacts_channel_known")),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_contacts_status_known")),
        sa.CheckConstraint("(status = 'held') = (rule IS NOT NULL)", name=op.f("ck_contacts_held_has_rule")),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("day", "claim_id", "step", name=op.f("uq_contacts_day_claim_id_step")),
    )
    op.create_index("ix_contacts_claim_id_day", "contacts", ["claim_id", "day"])
    op.create_index("ix_contacts_debtor_id_day", "contacts", ["debtor_id", "day"])
    op.create_index("ix_contacts_day_status", "contacts", ["day", "status"])
    op.create_table(
        "contact_events",
        sa.Column("event_id", _id(), autoincrement=True, nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("result", RESULTS), name=op.f("ck_contact_events_result_known")),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.contact_id"], name=op.f("fk_contact_events_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_contact_events")),
        sa.UniqueConstraint("contact_id", "result", name=op.f("uq_contact_events_contact_id_result")),
    )
    op.create_index("ix_contact_events_contact_id", "contact_events", ["contact_id"])
    op.create_table(
        "contact_objections",
        sa.Column("debtor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_contact_objections_channel_known")),
        sa.PrimaryKeyConstraint("debtor_id", "channel", name=op.f("pk_contact_objections")),
    )
    op.create_table(
        "doubtful_addresses",
        sa.Column("debtor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("debtor_id", "address", name=op.f("pk_doubtful_addresses")),
    )


def downgrade() -> None:
    op.drop_table("doubtful_addresses")
    op.drop_table("contact_objections")
    op.drop_index("ix_contact_events_contact_id", table_name="contact_events")
    op.drop_table("contact_events")
    op.drop_index("ix_contacts_day_status", table_name="contacts")
    op.drop_index("ix_contacts_debtor_id_day", table_name="contacts")
    op.drop_index("ix_contacts_claim_id_day", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("contact_templates")
