"""Column copies (engine/store/copies.py): ``column_copies`` keeps whole columns of claim_state
(per run), claims and debtors as compressed Arrow blobs for the readers of millions of rows, and
``table_versions`` the version of claims and debtors that a copy must match, moved on by a trigger
on each statement that writes them (PostgreSQL: a statement trigger, also on TRUNCATE; SQLite: a
row trigger, SQLite has no other).

The blobs are stored out of line and uncompressed by PostgreSQL (``STORAGE EXTERNAL``): they are
compressed already.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

VERSIONED = ("claims", "debtors")


def upgrade() -> None:
    op.create_table(
        "column_copies",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("column_name", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("source", "version", "column_name"),
    )
    op.create_table(
        "table_versions",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name"),
    )
    op.execute("INSERT INTO table_versions (table_name, version) VALUES " + ", ".join(f"('{t}', 0)" for t in VERSIONED))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE column_copies ALTER COLUMN data SET STORAGE EXTERNAL")
        op.execute(
            """CREATE FUNCTION table_version_next() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              -- the store's own table_versions, whatever the writer's search_path
              EXECUTE format('UPDATE %I.table_versions SET version = version + 1 WHERE table_name = $1', TG_TABLE_SCHEMA)
                USING TG_TABLE_NAME;
              RETURN NULL;
            END $$"""
        )
        for table in VERSIONED:
            op.execute(
                f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION table_version_next()"
            )
    else:
        for table in VERSIONED:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_version_{action.lower()} AFTER {action} ON {table} BEGIN "
                    f"UPDATE table_versions SET version = version + 1 WHERE table_name = '{table}'; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in VERSIONED:
            op.execute(f"DROP TRIGGER {table}_version ON {table}")
        op.execute("DROP FUNCTION table_version_next()")
    else:
        for table in VERSIONED:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_version_{action}")
    op.drop_table("table_versions")
    op.drop_table("column_copies")
