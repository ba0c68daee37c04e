"""Store speed: loading a portfolio, reading it back, and a full engine run from the store.

On PostgreSQL when CESSION_BENCH_DATABASE_URL is set (each benchmark starts from an empty
schema of its own), else on an embedded SQLite file. Sizes as in conftest.py. Figures: BENCHMARKS.md.

    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    CESSION_BENCH_CLAIMS=1000000 uv run pytest benchmarks/test_bench_store.py
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from benchmarks.conftest import AS_OF
from engine import store_run
from engine.store import records
from engine.store.bulk import read_snapshot
from engine.store.database import open_store

BENCH_DATABASE_URL = os.environ.get("CESSION_BENCH_DATABASE_URL")


@pytest.fixture
def empty_store(tmp_path):
    if not BENCH_DATABASE_URL:
        engine = open_store(f"sqlite:///{tmp_path / 'bench.db'}")
        yield engine
        engine.dispose()
        return
    # CESSION_BENCH_SCHEMA: a schema of that name, made anew and left in place afterwards (to look
    # into, or to run the command line on); else one of its own, dropped afterwards
    kept = os.environ.get("CESSION_BENCH_SCHEMA")
    schema = kept or f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(BENCH_DATABASE_URL)
    with admin.begin() as conn:
        if kept:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in BENCH_DATABASE_URL else "?"
    engine = open_store(f"{BENCH_DATABASE_URL}{separator}options={quote(f'-csearch_path={schema}')}")
    yield engine
    engine.dispose()
    if not kept:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.mark.benchmark(group="store")
def test_load(benchmark, portfolio, empty_store):
    claims, events = portfolio
    written = benchmark.pedantic(records.load, args=(empty_store, claims, events), rounds=1, iterations=1)
    rows = claims.height + events.height
    benchmark.extra_info.update(
        claims=claims.height,
        events=events.height,
        backend=empty_store.dialect.name,
        rows_per_s=round(rows / benchmark.stats.stats.median),
    )
    assert written["events"].inserted == events.height


@pytest.mark.benchmark(group="store")
def test_read_and_run(benchmark, portfolio, empty_store):
    claims, events = portfolio
    records.load(empty_store, claims, events)
    queries = {"claims": records.claims_query(), "events": records.events_query()}
    read = benchmark.pedantic(read_snapshot, args=(empty_store, queries), rounds=3, iterations=1)
    rows = claims.height + events.height
    benchmark.extra_info.update(
        claims=claims.height,
        events=events.height,
        backend=empty_store.dialect.name,
        read_rows_per_s=round(rows / benchmark.stats.stats.median),
    )
    assert read["events"].height == events.height
    store_run.run(empty_store, AS_OF, allow_stale_rates=True)  # JIT and first-partition warm-up


@pytest.mark.benchmark(group="store")
def test_full_run(benchmark, portfolio, empty_store):
    claims, events = portfolio
    records.load(empty_store, claims, events)
    store_run.run(empty_store, AS_OF, allow_stale_rates=True)  # warm-up; each timed run then replaces a state
    record = benchmark.pedantic(
        store_run.run, args=(empty_store, AS_OF), kwargs={"allow_stale_rates": True}, rounds=3, iterations=1
    )
    benchmark.extra_info.update(claims=claims.height, events=events.height, backend=empty_store.dialect.name)
    assert record.status == "succeeded" and record.claims == claims.height
