"""Column copies (engine/store/copies.py) on SQLite and PostgreSQL: allocation reads the same
inputs from them as from the tables — the state from its run's copy, the claims and debtors from
the copies kept by the allocation before — and never a copy that is not of what its snapshot sees:
a load moves claims' and debtors' versions on, a new run supersedes its state's copy; one portfolio
read from copies of the whole book; a killed-off run leaves no copy."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation import store as allocation_store
from allocation.features import claim_frame
from api.runs import service as runs_service
from engine.domain import PAYMENTS_HORIZON_DAYS
from engine.store import copies, records, runs
from tests.allocation.test_store import DAY, _paying_book
from tests.builders import claim, frames


def stored_copies(store) -> set[tuple[str, int]]:
    with store.connect() as conn:
        return {(s, v) for s, v in conn.exec_driver_sql("SELECT DISTINCT source, version FROM column_copies")}


def versions(store) -> dict[str, int]:
    with store.connect() as conn:
        return copies.versions(conn)


def from_tables(store, **kwargs):
    """read_inputs with every copy set aside (they are put back after)."""
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE set_aside AS SELECT * FROM column_copies")
        conn.exec_driver_sql("DELETE FROM column_copies")
    try:
        return allocation_store.read_inputs(store, DAY, **kwargs)
    finally:
        with store.begin() as conn:
            conn.exec_driver_sql("INSERT INTO column_copies SELECT * FROM set_aside")
            conn.exec_driver_sql("DROP TABLE set_aside")


def same(a, b) -> None:
    for day in (DAY, DAY - timedelta(days=PAYMENTS_HORIZON_DAYS)):  # the days the kept payments serve
        assert claim_frame(a, day).sort("claim_id").equals(claim_frame(b, day).sort("claim_id"))
    assert a.joined().sort("claim_id").equals(b.joined().sort("claim_id"))
    assert a.joined().schema == b.joined().schema  # (equals does not compare the dtypes)


def test_allocation_reads_the_same_from_the_copies_as_from_the_tables(store, monkeypatch):
    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    first = runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    assert stored_copies(store) == {("claim_state", first.run_id)}  # the run's, in its transaction

    assert set(allocation_store.STATE_SCHEMA) <= set(copies.STATE_COLUMNS)  # all a run keeps of its state
    read = []
    monkeypatch.setattr(
        copies, "frames", lambda rows, columns, f=copies.frames: read.append(rows.height) or f(rows, columns)
    )
    kept = allocation_store.read_inputs(store, DAY, placed_since=DAY, keep_copies=True)  # the state's copy
    assert read == [7] and stored_copies(store) == {  # portfolio_id and the state's six columns
        ("claim_state", first.run_id),
        ("claims", versions(store)["claims"]),
        ("debtors", versions(store)["debtors"]),
    }
    read.clear()
    copied = allocation_store.read_inputs(store, DAY, placed_since=DAY)
    assert read == [7, 6, 4]  # all three from copies
    tables = from_tables(store, placed_since=DAY)
    same(kept, tables)
    same(copied, tables)

    # one portfolio: its rows of the copies of the whole book
    read.clear()
    mine = allocation_store.read_inputs(store, DAY, "P2", placed_since=DAY)
    assert read == [7, 6, 4]
    assert set(mine.joined()["claim_id"]) == set(range(7, 13))
    same(mine, from_tables(store, portfolio="P2", placed_since=DAY))

    # a load moves claims and debtors on: their copies are no longer read, nor is a state superseded
    records.load(store, *frames([claim(13, due=date(2024, 6, 1), debtor_id=12, portfolio_id="P2")]))
    assert versions(store)["claims"] > kept_version(store, "claims")
    second = runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    assert ("claim_state", first.run_id) not in stored_copies(store)
    read.clear()
    after = allocation_store.read_inputs(store, DAY, placed_since=DAY, keep_copies=True)
    assert read == [7, 4]  # the new run's state and the debtors (the same version); the claims from their table
    assert 13 in set(after.joined()["claim_id"])
    same(after, from_tables(store, placed_since=DAY))
    assert stored_copies(store) == {
        ("claim_state", second.run_id),
        ("claims", versions(store)["claims"]),
        ("debtors", versions(store)["debtors"]),
    }


def kept_version(store, source: str) -> int:
    with store.connect() as conn:
        return conn.exec_driver_sql(f"SELECT max(version) FROM column_copies WHERE source = '{source}'").scalar()


def test_a_failed_run_leaves_no_copy(store, monkeypatch):
    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    first = runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full (injected)")

    monkeypatch.setattr(runs, "_attach_payments", broken)  # after the copy is written, before the commit
    with pytest.raises(RuntimeError, match="injected"):
        runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    assert stored_copies(store) == {("claim_state", first.run_id)}
    assert allocation_store.read_inputs(store, DAY).joined().height == 12


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=50),
    st.lists(st.one_of(st.none(), st.dates(date(1900, 1, 1), date(2200, 12, 31))), max_size=50),
    st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=50),
    st.lists(st.one_of(st.none(), st.booleans()), max_size=50),
)
def test_a_column_comes_back_as_it_was_encoded(ints, days, texts, flags):
    for series in (
        pl.Series("i", ints, dtype=pl.Int64),
        pl.Series("d", days, dtype=pl.Date),
        pl.Series("t", texts, dtype=pl.String),
        pl.Series("c", texts, dtype=pl.String).cast(pl.Categorical),
        pl.Series("b", flags, dtype=pl.Boolean),
        pl.Series("n", ints, dtype=pl.Int64).cast(pl.Int32, strict=False),
    ):
        back = copies.decode(copies.encode(series))
        assert back.dtype == series.dtype and back.name == series.name
        assert back.cast(pl.String).to_list() == series.cast(pl.String).to_list()


def test_copies_switched_off_are_neither_kept_nor_read(store, monkeypatch):
    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    monkeypatch.setenv("CESSION_COLUMN_COPIES", "false")
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    tables = allocation_store.read_inputs(store, DAY, placed_since=DAY, keep_copies=True)
    assert stored_copies(store) == set()
    monkeypatch.setenv("CESSION_COLUMN_COPIES", "true")
    run = runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    assert stored_copies(store) == {("claim_state", run.run_id)}
    monkeypatch.setenv("CESSION_COLUMN_COPIES", "false")
    same(allocation_store.read_inputs(store, DAY, placed_since=DAY), tables)


def test_every_versioned_table_has_its_triggers_at_the_head(store):
    """A SQLite migration that recreates claims or debtors (batch_alter_table) drops their triggers:
    their copies would then be read however the table changed. Every write must move the version."""
    with store.connect() as conn:
        if store.dialect.name == "postgresql":
            found = conn.exec_driver_sql(
                "SELECT DISTINCT event_object_table FROM information_schema.triggers WHERE trigger_name IN ('claims_version', 'debtors_version') "
                "AND trigger_schema = current_schema()"
            ).scalars()
            assert set(found) == set(copies.VERSIONED)
        else:
            names = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
            assert {f"{t}_version_{a}" for t in copies.VERSIONED for a in ("insert", "update", "delete")} <= names
    before = versions(store)
    with store.begin() as conn:
        for table in copies.VERSIONED:
            conn.exec_driver_sql(
                f"UPDATE {table} SET {'seller_ref' if table == 'claims' else 'name'} = NULL WHERE 1 = 0"
            )
    moved = versions(store)
    # PostgreSQL's statement triggers fire on a statement that touches no row; SQLite's row triggers do not
    assert all(moved[t] >= before[t] for t in copies.VERSIONED)


def test_a_copy_not_kept_is_no_reason_to_stop(store, monkeypatch, caplog):
    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)

    def full(*args, **kwargs):
        raise OSError("no space left on device (injected)")

    monkeypatch.setattr(copies, "write", full)
    read = allocation_store.read_inputs(store, DAY, placed_since=DAY, keep_copies=True)
    assert read.joined().height == 12 and "was not kept" in caplog.text
    assert {s for s, _ in stored_copies(store)} == {"claim_state"}
