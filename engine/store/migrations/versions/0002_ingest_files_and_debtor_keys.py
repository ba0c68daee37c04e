"""Ingest: the files taken in (content hash, portfolio version, counts, control totals) and the
keys probable-duplicate debtors are found by

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key(length: int):
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "debtor_keys",
        sa.Column("debtor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name_key", _key(300), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("postal_code", sa.String(length=6), nullable=True),
        sa.PrimaryKeyConstraint("debtor_id", name=op.f("pk_debtor_keys")),
    )
    op.create_index(op.f("ix_debtor_keys_name_key"), "debtor_keys", ["name_key"], unique=False)
    op.create_table(
        "ingest_files",
        sa.Column("ingest_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("portfolio_id", _key(64), nullable=False),
        sa.Column("base_portfolio", _key(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("profile", sa.String(length=200), nullable=True),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("purchase_price", sa.BigInteger(), nullable=False),
        sa.Column("control_count", sa.BigInteger(), nullable=True),
        sa.Column("control_principal", sa.BigInteger(), nullable=True),
        sa.Column("control_ok", sa.Boolean(), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.PrimaryKeyConstraint("ingest_id", name=op.f("pk_ingest_files")),
        sa.UniqueConstraint("portfolio_id", "content_sha256", name=op.f("uq_ingest_files_portfolio_id_content_sha256")),
    )
    op.create_index(op.f("ix_ingest_files_content_sha256"), "ingest_files", ["content_sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_files_content_sha256"), table_name="ingest_files")
    op.drop_table("ingest_files")
    op.drop_index(op.f("ix_debtor_keys_name_key"), table_name="debtor_keys")
    op.drop_table("debtor_keys")
