"""Each store test gets a fresh, migrated database: a SQLite file, and (with
CESSION_TEST_DATABASE_URL) a PostgreSQL schema of its own, dropped afterwards. Tests commit for
real (runs are atomic by their own transactions), so isolation is by database, not by rollback.

The schema is migrated once a session and copied for each test (the SQLite file; the PostgreSQL
schema's ``pg_dump``, its name changed): ~0.3-1 s of Alembic a test, 400 tests. ``empty_store_url``
is a store with nothing in it, for the tests of migrating one."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from engine.store.database import open_store

POSTGRES_URL = os.environ.get("CESSION_TEST_DATABASE_URL")


def _postgres_schema_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-csearch_path={schema}')}"


def _schema_name() -> str:
    # CESSION_TEST_SCHEMA_PREFIX: sessions sharing one database name their schemas apart
    return f"{os.environ.get('CESSION_TEST_SCHEMA_PREFIX', 't_')}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite store migrated by the migrations, whole in its file (no write-ahead log left)."""
    path = tmp_path_factory.mktemp("migrated") / "store.db"
    open_store(f"sqlite:///{path}").dispose()
    with closing(sqlite3.connect(path)) as conn:  # the write-ahead log into the file, so one file is all
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> str | None:
    """The SQL that makes a migrated schema named ``{schema}``: a schema migrated by the
    migrations, dumped by ``pg_dump`` (None without a pg_dump of the server's major version: each
    test then migrates its schema)."""
    if not POSTGRES_URL:
        return None
    schema = _schema_name()
    admin = sa.create_engine(POSTGRES_URL)
    url = sa.engine.make_url(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            server = conn.exec_driver_sql("SHOW server_version_num").scalar_one()
        open_store(_postgres_schema_url(POSTGRES_URL, schema)).dispose()
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return None
        version = subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout.split()[2]
        if version.split(".")[0] != str(int(server) // 10000):
            return None
        dumped = subprocess.run(
            [
                pg_dump,
                "--schema",
                schema,
                "--no-owner",
                "--no-privileges",
                "--inserts",
                "--host",
                url.host or "localhost",
                "--port",
                str(url.port or 5432),
                "--username",
                url.username or "postgres",
                url.database or "postgres",
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PGPASSWORD=url.password or ""),
        )
        if dumped.returncode != 0:
            return None
        # psql's meta-commands (\restrict) are not SQL; the schema's name (unique) becomes a field
        lines = (line for line in dumped.stdout.splitlines() if not line.startswith("\\"))
        return "\n".join(lines).replace("{", "{{").replace("}", "}}").replace(schema, "{schema}")
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_store_url(request, tmp_path):
    """A store with nothing in it yet (the first use migrates it)."""
    yield from _store_url(request.param, tmp_path, None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """A store whose schema is at the migrations' head, with nothing else in it."""
    if request.param == "sqlite":
        template = request.getfixturevalue("migrated_sqlite")
    else:
        template = request.getfixturevalue("migrated_postgres") if POSTGRES_URL else None
    yield from _store_url(request.param, tmp_path, template)


def _store_url(kind: str, tmp_path: Path, template: Path | str | None):
    if kind == "sqlite":
        if template is not None:
            shutil.copyfile(template, tmp_path / "store.db")
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set CESSION_TEST_DATABASE_URL (.ci/run sets it) to run the store tests on it")
    schema = _schema_name()
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        if template is None:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        else:
            conn.connection.driver_connection.execute(template.format(schema=schema))
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
