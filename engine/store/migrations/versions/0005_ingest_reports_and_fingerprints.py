"""Ingest: the report lines kept in the store (rejects, debtor candidates, name conflicts, rows
stored twice on purpose), so a lost report file can be written again; per ingest the content
fingerprint (duplicates beyond identical bytes), the reports' stem and whether they were still
staged at the commit.

Ingests made before this migration have no fingerprint and no kept report lines.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _key(length: int):
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _report_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column("ingest_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("line", sa.BigInteger(), autoincrement=False, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["ingest_id"],
            ["ingest_files.ingest_id"],
            name=op.f(f"fk_{name}_ingest_id_ingest_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ingest_id", "line", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    with op.batch_alter_table("ingest_files") as batch:
        batch.add_column(sa.Column("content_fingerprint", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reports_stem", sa.String(length=1000), nullable=True))
        batch.add_column(sa.Column("reports_pending", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.create_index(op.f("ix_ingest_files_content_fingerprint"), ["content_fingerprint"], unique=False)
    _report_table(
        "ingest_rejects",
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("seller_ref", sa.Text(), nullable=True),
        sa.Column("column", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
    )
    _report_table(
        "ingest_candidates",
        sa.Column("debtor_id", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("other_debtor_id", sa.BigInteger(), nullable=False),
        sa.Column("other_in", sa.String(length=20), nullable=False),
        sa.Column("match", sa.String(length=100), nullable=False),
    )
    _report_table(
        "ingest_name_conflicts",
        sa.Column("national_id", sa.String(length=16), nullable=True),
        sa.Column("debtor_id", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("seller_ref", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kept_name", sa.Text(), nullable=True),
        sa.Column("kept_row", sa.BigInteger(), nullable=True),
        sa.Column("kept_in", sa.String(length=20), nullable=False),
    )
    _report_table(
        "ingest_overlaps",
        sa.Column("row", sa.BigInteger(), nullable=False),
        sa.Column("seller_ref", sa.Text(), nullable=False),
        sa.Column("portfolio_id", _key(64), nullable=False),
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("differs", sa.String(length=100), nullable=True),
    )


def downgrade() -> None:
    for name in ("ingest_overlaps", "ingest_name_conflicts", "ingest_candidates", "ingest_rejects"):
        op.drop_table(name)
    with op.batch_alter_table("ingest_files") as batch:
        batch.drop_index(op.f("ix_ingest_files_content_fingerprint"))
        batch.drop_column("reports_pending")
        batch.drop_column("reports_stem")
        batch.drop_column("content_fingerprint")
