"""Opening the store and keeping its schema current (Alembic, from the first table on)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from engine.errors import InputError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
#: how long a SQLite transaction waits for another process's write lock before it gives up
SQLITE_BUSY_SECONDS = 60
#: pg_advisory_xact_lock key of schema migrations ("cess_db" as a number): one upgrade at a time.
MIGRATION_LOCK_KEY = 0x636573735F6462
#: the tables `cession db status` counts
COUNTED = ("portfolios", "claims", "events", "claim_state", "engine_runs")
#: a pooled PostgreSQL connection idle longer than this is pinged before it is used again (a
#: connection in steady use is not: that ping was a round trip on every request of the HTTP API)
PING_IDLE_SECONDS = 1.0

T = TypeVar("T")


class StoreError(InputError):
    """The store cannot be used as asked (schema behind, unknown portfolio, locked run, ...)."""


def open_store(url: str | None = None, *, upgrade: bool = True) -> sa.Engine:
    """An engine for ``url`` (default: settings). An empty database is migrated on first use; one
    with an older schema is refused unless ``upgrade`` (the caller then runs `cession db upgrade`).
    Temporary folders that killed runs on this store left are removed (``scratch``)."""
    if url is None:
        from engine.settings import STORE, read

        url = read(STORE).database_url
    engine = engine_at(url)
    from engine.store.scratch import sweep_scratch

    sweep_scratch(engine.url)  # the temporary files of runs on this store that were killed
    current, head = revision(engine), head_revision()
    if current != head:
        if current is None or upgrade:
            log.info("migrating the store's schema %s -> %s", current or "(empty)", head)
            upgrade_schema(engine)
        else:
            raise StoreError(f"the store's schema is at {current}, this Cession needs {head}: run `cession db upgrade`")
    return engine


def engine_at(url: str) -> sa.Engine:
    """An engine on the store at ``url`` as it is: no migration, no sweep of killed runs' folders
    (``open_store`` does both; this is for reading a store another process opened, or checking
    its schema)."""
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            # WAL: readers never block the writer; foreign keys are off by default in SQLite.
            # Let SQLAlchemy's BEGIN (below) own transactions: pysqlite's own would defer them.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            from engine.store.lock_holders import begin_immediate

            # take the write lock up front (no upgrade deadlocks), saying whom it waits for
            begin_immediate(conn, engine, busy_ms=SQLITE_BUSY_SECONDS * 1000)

        return engine
    from engine.store.lock_holders import application_name

    # the server's view of each connection names the command (a waiting command says who holds a lock)
    engine = sa.create_engine(url, connect_args={"application_name": application_name()})
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled connection before it is used again if it sat idle for ``PING_IDLE_SECONDS``
    or more (a server restarted, an idle connection cut): a dead one is replaced before anyone
    uses it. SQLAlchemy's ``pool_pre_ping`` pings on every checkout, which cost two round trips
    (BEGIN, SELECT 1) and a ROLLBACK on every request of the HTTP API. A connection that dies
    while in steady use fails its statement instead: the pool then renews all its connections,
    and ``read`` runs a read again on a new one (a write's transaction fails whole, and an
    Idempotency-Key makes the client's retry safe)."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_IDLE_SECONDS:
            return  # a new connection, or one in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()
        except engine.dialect.loaded_dbapi.Error as e:
            if engine.dialect.is_disconnect(e, dbapi_connection, None):
                # the pool drops this connection and checks out another (SQLAlchemy's PoolEvents.checkout)
                raise sa.exc.DisconnectionError(f"a pooled connection was dead: {e}") from e
            raise


def read(engine: sa.Engine, query: Callable[[sa.Connection], T]) -> T:
    """``query(conn)``: a read of one statement (a consistent view by itself), on PostgreSQL in
    autocommit (no BEGIN and no ROLLBACK round trip around it), run once more on a new connection
    if the one taken turned out dead (the pool then renews its connections)."""
    try:
        return _read_once(engine, query)
    except sa.exc.DBAPIError as e:
        if not e.connection_invalidated:
            raise
    return _read_once(engine, query)


def _read_once(engine: sa.Engine, query: Callable[[sa.Connection], T]) -> T:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        return query(conn)


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


@cache
def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()  # type: ignore[return-value]


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(engine: sa.Engine, target: str = "head") -> None:
    """Migrate the schema to ``target`` in one transaction that first takes the database's lock
    (PostgreSQL: an advisory lock; SQLite: its write lock, by BEGIN IMMEDIATE), so commands
    started at once on a fresh database migrate it once: the others wait, then find it current."""
    command.upgrade(alembic_config(engine), target)


def table_counts(engine: sa.Engine, tables: tuple[str, ...] = COUNTED) -> dict[str, int]:
    """How many rows each of ``tables`` holds (a store whose schema is current)."""
    with engine.connect() as conn:
        return {
            table: conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
            for table in tables
        }
