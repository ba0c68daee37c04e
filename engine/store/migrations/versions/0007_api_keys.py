"""The HTTP API: its keys (only their SHA-256 kept; a role, an agency for an agency's key) and the
writes sent with an Idempotency-Key (the body's SHA-256 and the response given, per key).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: api_keys.role's values as engine/domain.py's KeyRole held them that day (frozen here, see 0004)
ROLES = ("admin", "analyst", "agency", "legal")


def _key(length: int):
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", _key(32), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name=op.f("ck_api_keys_role_known")),
        sa.CheckConstraint("(role = 'agency') = (agency_id IS NOT NULL)", name=op.f("ck_api_keys_agency_keys_only")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.agency_id"], name=op.f("fk_api_keys_agency_id_agencies")),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "api_requests",
        sa.Column("key_id", _key(32), nullable=False),
        sa.Column("idempotency_key", _key(200), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("response", _json(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.key_id"], name=op.f("fk_api_requests_key_id_api_keys")),
        sa.PrimaryKeyConstraint("key_id", "idempotency_key", name=op.f("pk_api_requests")),
    )


def downgrade() -> None:
    op.drop_table("api_requests")
    op.drop_table("api_keys")
