"""The pool's connections on PostgreSQL: a read of one statement runs in autocommit (no BEGIN or
ROLLBACK around it); a connection that sat idle is checked before use and replaced if dead; a
connection that died while in steady use fails its statement, a read then runs again on a new
one, and the pool renews the others (engine/store/database.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.store import database
from engine.store.database import read

BACKEND = "SELECT pg_backend_pid()"


@pytest.fixture
def pg(store):
    if store.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's pooled connections")
    store.dispose()  # one connection in the pool from here on: the next checkout takes the one killed
    return store


def _kill(store: sa.Engine, pid: int) -> None:
    """End the server side of one pooled connection, as a server restart or a cut would."""
    admin = sa.create_engine(store.url)
    with admin.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    admin.dispose()


def test_a_read_runs_in_autocommit_and_leaves_the_pooled_connection_as_it_was(pg):
    assert read(pg, lambda conn: conn.connection.dbapi_connection.autocommit) is True
    with pg.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1


def test_a_read_on_a_connection_killed_in_steady_use_is_answered_on_a_new_one(pg, monkeypatch):
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 3600.0)  # in steady use: no ping before use
    first = read(pg, lambda conn: conn.exec_driver_sql(BACKEND).scalar_one())
    _kill(pg, first)
    assert read(pg, lambda conn: conn.exec_driver_sql(BACKEND).scalar_one()) not in (first, None)


def test_a_transaction_on_a_connection_killed_in_steady_use_fails_and_the_next_is_served(pg, monkeypatch):
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 3600.0)
    with pg.connect() as conn:
        first = conn.exec_driver_sql(BACKEND).scalar_one()
    _kill(pg, first)
    with pytest.raises(sa.exc.DBAPIError) as failed, pg.begin() as conn:
        conn.exec_driver_sql(BACKEND)
    assert failed.value.connection_invalidated
    with pg.begin() as conn:
        assert conn.exec_driver_sql(BACKEND).scalar_one() != first


def test_a_connection_idle_past_the_bound_is_pinged_and_a_dead_one_replaced_before_use(pg, monkeypatch):
    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 0.0)  # every pooled connection counts as idle
    with pg.connect() as conn:
        first = conn.exec_driver_sql(BACKEND).scalar_one()
    _kill(pg, first)
    with pg.begin() as conn:  # a write's transaction: no error, another connection
        assert conn.exec_driver_sql(BACKEND).scalar_one() != first
    with pg.connect() as conn:  # a live idle connection passes its ping and is used again
        second = conn.exec_driver_sql(BACKEND).scalar_one()
    with pg.connect() as conn:
        assert conn.exec_driver_sql(BACKEND).scalar_one() == second


def test_a_read_on_sqlite_is_a_plain_read(store):
    if store.dialect.name != "sqlite":
        pytest.skip("SQLite")
    assert read(store, lambda conn: conn.exec_driver_sql("SELECT 1").scalar_one()) == 1
