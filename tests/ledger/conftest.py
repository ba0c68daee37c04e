"""The journal over a real store, SQLite and PostgreSQL (with CESSION_TEST_DATABASE_URL): the
store's fixtures; and small books written as frames for the scenarios."""

from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401 (fixtures)
