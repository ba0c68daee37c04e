"""The store: which one (``CESSION_DATABASE_URL`` or a URL given), opening it, migrating it, and
what it holds. Every service takes the store this module opened (a SQLAlchemy engine) as its
explicit ``store`` argument; the repositories under ``engine/store`` own the SQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from engine.settings import STORE, read
from engine.store import lock_holders
from engine.store.database import engine_at, head_revision, open_store, revision, table_counts, upgrade_schema
from engine.store.scratch import sweep_scratch

#: told who holds the store's lock when a command is about to wait for it (``lock_holders.on_wait``)
OnWait = Callable[[str], None]


@dataclass(frozen=True)
class Upgraded:
    database: str  # the URL, password hidden
    before: str | None  # the schema revision before (None: an empty database)
    after: str | None
    head: str  # the revision this Cession needs


@dataclass(frozen=True)
class Status:
    database: str  # the URL, password hidden
    schema: str | None  # None: an empty database
    head: str
    counts: dict[str, int]  # rows per table (none when the database is empty)

    def summary(self) -> dict:
        return {"database": self.database, "schema": self.schema, "head": self.head, "counts": self.counts}


def database_url(*, given: str | None = None) -> str:
    """The store's URL: ``given``, else the setting (env ``CESSION_DATABASE_URL``, else an
    embedded SQLite file in the user's data folder)."""
    return given or read(STORE).database_url


def shown(*, url: str | sa.URL) -> str:
    """The URL as it may be shown: its password hidden."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _listen(on_wait: OnWait | None) -> None:
    if on_wait is not None:
        lock_holders.on_wait = on_wait


def opened(*, url: str, upgrade: bool = True, on_wait: OnWait | None = None) -> sa.Engine:
    """The store at ``url``, its schema current (an empty database is migrated; an older schema
    too unless ``upgrade`` is false, then it is refused), killed runs' temporary folders removed.
    ``on_wait`` hears who holds the store's lock whenever this process is about to wait for it."""
    _listen(on_wait)
    return open_store(url, upgrade=upgrade)


def upgrade(*, url: str, on_wait: OnWait | None = None) -> Upgraded:
    """Bring the store's schema to this Cession's version (one transaction under the database's lock)."""
    _listen(on_wait)
    store = engine_at(url)
    before = revision(store)
    upgrade_schema(store)
    return Upgraded(shown(url=url), before, revision(store), head_revision())


def status(*, url: str, on_wait: OnWait | None = None) -> Status:
    """Where the store is, its schema version and its row counts. Only looks: an empty store is
    not migrated (but killed runs' temporary folders go, as with every command on the store)."""
    _listen(on_wait)
    store = engine_at(url)
    sweep_scratch(store.url)
    current = revision(store)
    return Status(shown(url=url), current, head_revision(), table_counts(store) if current is not None else {})
