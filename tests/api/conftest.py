"""The services run on the same stores as the store's tests: SQLite, and PostgreSQL with
CESSION_TEST_DATABASE_URL (a schema of their own)."""

from tests.store.conftest import store, store_url  # noqa: F401 (fixtures)
