"""Engine runs from the store: the stored state is the engine's answer, a rerun is bit-identical,
and a run that fails or is killed halfway leaves the previous state intact and readable."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import date

import polars as pl
import pytest

from engine import compute_state
from engine.rules import StaleRulesError
from engine.store import bulk, records, runs
from engine.store.database import StoreError
from engine.store_run import run
from engine.totals import state_digest
from synthetic.book import generate_portfolio

AS_OF = date(2026, 10, 31)
LATER = date(2026, 11, 20)


@pytest.fixture
def portfolio():
    return generate_portfolio(600, seed=11)


@pytest.fixture
def loaded(store, portfolio):
    records.load(store, *portfolio)
    return store


def stored_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM claim_state").scalar()


def kept_payments(engine) -> pl.DataFrame:
    """claim_payments' rows by claim and run, with each claim's portfolio."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT cp.run_id, cp.claim_id, c.portfolio_id, cp.payments, cp.last_paid, cp.paid_since "
            "FROM claim_payments cp JOIN claims c ON c.claim_id = cp.claim_id ORDER BY cp.claim_id, cp.run_id"
        ).all()
    columns = ["run_id", "claim_id", "portfolio_id", "payments", "last_paid", "paid_since"]
    return pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row")


def payments_tables(engine) -> list[tuple[str, bool]]:
    """PostgreSQL: each run's claim_payments table and whether it is attached (SQLite: none)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT relname, relispartition FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                "AND relkind = 'r' AND relname ~ '^claim_payments_run_' ORDER BY relname"
            )
        ]


def attached(engine, *run_ids: int) -> list[tuple[str, bool]]:
    """What ``payments_tables`` is when the runs' tables, and only they, are attached."""
    if engine.dialect.name != "postgresql":
        return []
    return sorted((f"claim_payments_run_{r}", True) for r in run_ids)


def test_the_stored_state_is_the_engines_answer(loaded, portfolio):
    record = run(loaded, AS_OF, allow_stale_rates=True)
    expected = pl.from_arrow(compute_state(*portfolio, AS_OF, allow_stale_rates=True))
    assert runs.read_state(loaded).equals(expected)
    assert record.status == "succeeded" and record.claims == 600 and record.events == portfolio[1].height
    assert record.totals["total_due"] == expected["total_due"].sum()
    assert record.time_barred == expected["time_barred"].sum()
    assert record.state_sha256 == state_digest(compute_state(*portfolio, AS_OF, allow_stale_rates=True))


def test_a_rerun_gives_the_same_state_bit_for_bit(loaded):
    first = run(loaded, AS_OF, allow_stale_rates=True)
    before = runs.read_state(loaded)
    second = run(loaded, AS_OF, allow_stale_rates=True)
    assert second.run_id != first.run_id and second.state_sha256 == first.state_sha256
    assert runs.read_state(loaded).equals(before)
    assert stored_rows(loaded) == before.height  # superseded rows are gone


def test_a_portfolio_run_replaces_only_that_portfolio(loaded, portfolio):
    run(loaded, AS_OF, allow_stale_rates=True)
    some = portfolio[0]["portfolio_id"][0]
    record = run(loaded, LATER, portfolio=some, allow_stale_rates=True)
    state = runs.read_state(loaded)
    ours = state.join(portfolio[0].select("claim_id", "portfolio_id"), on="claim_id")
    assert set(ours.filter(pl.col("as_of") == LATER)["portfolio_id"]) == {some}
    assert ours.filter(pl.col("portfolio_id") == some).height == record.claims
    assert state.height == 600 and stored_rows(loaded) == 600
    with pytest.raises(StoreError, match="not in the store"):
        run(loaded, AS_OF, portfolio="NO-SUCH", allow_stale_rates=True)


def test_only_the_current_runs_payments_are_kept(loaded):
    first = run(loaded, AS_OF, allow_stale_rates=True)
    kept = kept_payments(loaded)
    assert kept.height > 0 and set(kept["run_id"]) == {first.run_id}
    assert payments_tables(loaded) == attached(loaded, first.run_id)
    second = run(loaded, AS_OF, allow_stale_rates=True)
    again = kept_payments(loaded)
    assert set(again["run_id"]) == {second.run_id}  # the first run's rows are gone
    assert again.drop("run_id").equals(kept.drop("run_id"))  # the same claims' payments
    assert payments_tables(loaded) == attached(loaded, second.run_id)


def test_each_portfolio_keeps_the_payments_of_the_run_it_points_at(loaded, portfolio):
    one, other = sorted(set(portfolio[0]["portfolio_id"]))[:2]
    shared = run(loaded, AS_OF, allow_stale_rates=True)
    paying = kept_payments(loaded).drop("run_id")

    def runs_by_portfolio() -> dict[str, set[int]]:
        kept = kept_payments(loaded)
        assert kept["claim_id"].is_unique().all() and kept.drop("run_id").equals(paying)  # one row per paying claim
        return {p: set(g["run_id"]) for (p,), g in kept.group_by("portfolio_id")}

    ours = run(loaded, AS_OF, portfolio=one, allow_stale_rates=True)  # over the run it shared
    by_portfolio = runs_by_portfolio()
    assert by_portfolio.pop(one) == {ours.run_id} and set().union(*by_portfolio.values()) == {shared.run_id}
    assert payments_tables(loaded) == attached(loaded, shared.run_id, ours.run_id)

    theirs = run(loaded, AS_OF, portfolio=other, allow_stale_rates=True)
    again = run(loaded, AS_OF, portfolio=one, allow_stale_rates=True)  # its previous run goes whole
    by_portfolio = runs_by_portfolio()
    assert by_portfolio.pop(one) == {again.run_id} and by_portfolio.pop(other) == {theirs.run_id}
    assert set().union(*by_portfolio.values()) == {shared.run_id}
    assert payments_tables(loaded) == attached(loaded, shared.run_id, theirs.run_id, again.run_id)

    every = run(loaded, AS_OF, allow_stale_rates=True)
    assert set(runs_by_portfolio()) == set(paying["portfolio_id"])
    assert set(kept_payments(loaded)["run_id"]) == {every.run_id}
    assert payments_tables(loaded) == attached(loaded, every.run_id)


def test_a_store_at_0019_keeps_only_its_current_payments_through_the_upgrade_and_back(loaded, portfolio):
    from alembic import command

    from engine.store.database import alembic_config, head_revision, revision, upgrade_schema

    old = run(loaded, AS_OF, allow_stale_rates=True)
    shared = run(loaded, AS_OF, allow_stale_rates=True)
    ours = run(loaded, AS_OF, portfolio=sorted(set(portfolio[0]["portfolio_id"]))[0], allow_stale_rates=True)
    current = kept_payments(loaded)
    command.downgrade(alembic_config(loaded), "0019")
    assert kept_payments(loaded).equals(current) and payments_tables(loaded) == []  # one table again
    columns = "claim_id, payments, last_paid, payments_before, last_paid_before, paid_since"
    with loaded.begin() as conn:  # what runs before 0020 left: a superseded run's rows, and the shared run's of ours
        for run_id, of in ((old.run_id, shared.run_id), (shared.run_id, ours.run_id)):
            conn.exec_driver_sql(
                f"INSERT INTO claim_payments (run_id, {columns}) SELECT {run_id}, {columns} FROM claim_payments "
                f"WHERE run_id = {of}"
            )
    assert kept_payments(loaded).height > current.height
    upgrade_schema(loaded)
    assert revision(loaded) == head_revision()
    assert kept_payments(loaded).equals(current)
    assert payments_tables(loaded) == attached(loaded, shared.run_id, ours.run_id)
    latest = run(loaded, AS_OF, allow_stale_rates=True)
    assert set(kept_payments(loaded)["run_id"]) == {latest.run_id}
    assert payments_tables(loaded) == attached(loaded, latest.run_id)


def test_an_error_while_writing_leaves_the_previous_state(loaded, monkeypatch):
    run(loaded, AS_OF, allow_stale_rates=True)
    before = runs.read_state(loaded)
    monkeypatch.setattr(bulk, "BATCH_ROWS", 100)

    def fail_after_the_first_batch(written: int) -> None:
        if written >= 200:
            raise RuntimeError("disk full (injected)")

    with pytest.raises(RuntimeError, match="injected"):
        run(loaded, LATER, allow_stale_rates=True, on_batch=fail_after_the_first_batch)
    assert runs.read_state(loaded).equals(before)
    assert stored_rows(loaded) == before.height
    failed = runs.runs_list(loaded)[0]
    assert failed.status == "failed" and "disk full (injected)" in failed.error


def test_an_engine_error_marks_the_run_failed(loaded):
    run(loaded, AS_OF, allow_stale_rates=True)
    before = runs.read_state(loaded)
    with pytest.raises(StaleRulesError):
        run(loaded, LATER)  # the shipped tables end before LATER
    assert runs.read_state(loaded).equals(before)
    assert runs.runs_list(loaded)[0].status == "failed"


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from engine.store import bulk
    from engine.store.database import open_store
    from engine.store_run import run

    bulk.BATCH_ROWS = 100
    def kill_after_the_first_batches(written):
        if written >= 300:
            os.kill(os.getpid(), signal.SIGKILL)
    run(open_store(sys.argv[1]), date(2026, 11, 20), allow_stale_rates=True, on_batch=kill_after_the_first_batches)
    """
)


def test_a_run_killed_with_sigkill_midway_leaves_the_previous_state(loaded, store_url):
    first = run(loaded, AS_OF, allow_stale_rates=True)
    before = runs.read_state(loaded)
    payments = kept_payments(loaded)
    killed = subprocess.run([sys.executable, "-c", KILLER, store_url], capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert runs.read_state(loaded).equals(before)  # readable at once, before any recovery
    assert runs.runs_list(loaded)[0].status == "running"  # nobody has noticed yet
    marked = runs.recover(loaded)
    assert len(marked) == 1
    dead = runs.runs_list(loaded)[0]
    assert dead.status == "failed" and dead.error == runs.INTERRUPTED
    assert stored_rows(loaded) == before.height
    assert kept_payments(loaded).equals(payments) and payments_tables(loaded) == attached(loaded, first.run_id)
    if loaded.dialect.name == "postgresql":  # a run's table never attached (its transaction takes it with it)
        with loaded.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE claim_payments_run_999 (LIKE claim_payments)")
        runs.recover(loaded)
        assert payments_tables(loaded) == attached(loaded, first.run_id)
    assert run(loaded, LATER, allow_stale_rates=True).status == "succeeded"
    assert set(runs.read_state(loaded)["as_of"]) == {LATER}


def test_one_run_at_a_time(loaded):
    with runs.run_lock(loaded), pytest.raises(StoreError, match="another run is in progress"):
        run(loaded, AS_OF, allow_stale_rates=True)
    assert runs.runs_list(loaded) == []


@pytest.mark.postgres
def test_stores_in_two_schemas_of_one_database_run_independently(store, store_url):
    """The run lock is the store's (its schema's), not the whole database's."""
    if store.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: stores in schemas of one database")
    import uuid

    import sqlalchemy as sa

    from engine.store.database import open_store
    from tests.store.conftest import POSTGRES_URL, _postgres_schema_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    other = open_store(_postgres_schema_url(POSTGRES_URL, schema))
    try:
        with runs.run_lock(store):
            with runs.run_lock(other):  # another store: free
                pass
            with pytest.raises(StoreError, match="another run is in progress"), runs.run_lock(store):
                pass
    finally:
        other.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_the_state_digest_is_of_values_not_of_their_layout(tmp_path, portfolio):
    """A claim_state read back from Parquet, or cut into chunks, digests as the one computed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    state = compute_state(*portfolio, AS_OF, allow_stale_rates=True)
    pq.write_table(state, tmp_path / "state.parquet")
    again = pq.read_table(tmp_path / "state.parquet")
    rows = state.num_rows
    chunked = pa.concat_tables([state.slice(0, rows // 3), state.slice(rows // 3)])
    assert again.equals(state)
    assert state_digest(again) == state_digest(state) == state_digest(chunked)
    changed = state.set_column(2, "principal_due", pa.array([1] + state.column(2).to_pylist()[1:]))
    assert state_digest(changed) != state_digest(state)
