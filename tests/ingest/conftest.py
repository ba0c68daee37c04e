"""Ingest tests that touch the store use the store tests' fixtures: a fresh migrated SQLite file,
and PostgreSQL with CESSION_TEST_DATABASE_URL."""

from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401  (pytest fixtures)
