"""Each store test gets a fresh, migrated database: a SQLite file, and (with
CESSION_TEST_DATABASE_URL) a PostgreSQL schema of its own, dropped afterwards. Tests commit for
real (runs are atomic by their own transactions), so isolation is by database, not by rollback."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from engine.store.database import open_store

POSTGRES_URL = os.environ.get("CESSION_TEST_DATABASE_URL")


def _postgres_schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set CESSION_TEST_DATABASE_URL (.ci/run sets it) to run the store tests on it")
    # CESSION_TEST_SCHEMA_PREFIX: sessions sharing one database name their schemas apart
    schema = f"{os.environ.get('CESSION_TEST_SCHEMA_PREFIX', 't_')}{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _postgres_schema_url(POSTGRES_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def store(store_url):
    engine = open_store(store_url)
    yield engine
    engine.dispose()
