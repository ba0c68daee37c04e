"""Bank statements in (docs/payments.md): each import of a statement file, each line stored once per
(account, bank reference) with where it stands (posted or in suspense), the events each line became
(the split over a debtor's claims recorded), and the lines an import refused with their reasons.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: the registries' values that day (frozen, see 0004)
STATUSES = ("posted", "open", "assigned", "refunded", "returned", "settled")
MATCHES = ("virtual_account", "seller_ref", "claim_id", "national_id", "return", "person")


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _key(length: int):
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "statement_imports",
        sa.Column("import_id", serial, autoincrement=True, nullable=False),
        sa.Column("bank_account", _key(26), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("format", sa.String(64), nullable=False),
        sa.Column("statement_ref", sa.String(200), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("split_rule", sa.String(32), nullable=False),
        sa.Column("lines_read", sa.BigInteger(), nullable=False),
        sa.Column("posted", sa.BigInteger(), nullable=False),
        sa.Column("suspense", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("already", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_statement_imports")),
    )
    op.create_index(op.f("ix_statement_imports_bank_account"), "statement_imports", ["bank_account"])
    op.create_index(op.f("ix_statement_imports_content_sha256"), "statement_imports", ["content_sha256"])
    op.create_table(
        "statement_lines",
        sa.Column("line_id", serial, autoincrement=True, nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("bank_account", _key(26), nullable=False),
        sa.Column("bank_ref", _key(200), nullable=False),
        sa.Column("end_to_end_id", _key(200), nullable=True),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("is_return", sa.Boolean(), nullable=False),
        sa.Column("return_of", sa.String(200), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("counterparty_name", sa.String(300), nullable=True),
        sa.Column("counterparty_account", sa.String(40), nullable=True),
        sa.Column("virtual_account", sa.String(26), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("matched_by", sa.String(24), nullable=True),
        sa.Column("debtor_id", sa.BigInteger(), nullable=True),
        sa.Column("split_rule", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("candidate_claim_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_line_id", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_statement_lines_status_known")),
        sa.CheckConstraint(_in("matched_by", MATCHES), name=op.f("ck_statement_lines_matched_by_known")),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("bank_account", "bank_ref", name=op.f("uq_statement_lines_bank_account_bank_ref")),
    )
    op.create_index("ix_statement_lines_status", "statement_lines", ["status"])
    op.create_index("ix_statement_lines_end_to_end_id", "statement_lines", ["end_to_end_id"])
    op.create_table(
        "statement_line_events",
        sa.Column("line_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("line_id", "event_id", name=op.f("pk_statement_line_events")),
    )
    op.create_index("ix_statement_line_events_event_id", "statement_line_events", ["event_id"])
    op.create_table(
        "statement_refusals",
        sa.Column("import_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("bank_ref", sa.String(200), nullable=True),
        sa.Column("booking_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("direction", sa.String(8), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "position", name=op.f("pk_statement_refusals")),
    )


def downgrade() -> None:
    op.drop_table("statement_refusals")
    op.drop_index("ix_statement_line_events_event_id", table_name="statement_line_events")
    op.drop_table("statement_line_events")
    op.drop_index("ix_statement_lines_end_to_end_id", table_name="statement_lines")
    op.drop_index("ix_statement_lines_status", table_name="statement_lines")
    op.drop_table("statement_lines")
    op.drop_index(op.f("ix_statement_imports_content_sha256"), table_name="statement_imports")
    op.drop_index(op.f("ix_statement_imports_bank_account"), table_name="statement_imports")
    op.drop_table("statement_imports")
