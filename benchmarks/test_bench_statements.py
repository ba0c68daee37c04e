"""Bank statements in: reading an MT940 statement of N credits and importing it (matching every
line against the store, writing lines and events) in one go, as `cession statements import` does.

The store: CESSION_BENCH_STATEMENT_DATABASE_URL, a store that already holds the portfolio of
CESSION_BENCH_PORTFOLIO (`cession generate` then `cession load`), else an empty one (PostgreSQL with
CESSION_BENCH_DATABASE_URL, else SQLite) loaded with the benchmark portfolio first. Each round
imports a statement of its own (other bank references). Lines: CESSION_BENCH_STATEMENT_LINES
(default 5 000). Figures: BENCHMARKS.md.

    CESSION_BENCH_PORTFOLIO=/tmp/p10m \\
    CESSION_BENCH_STATEMENT_DATABASE_URL='postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dp10m' \\
    CESSION_BENCH_STATEMENT_LINES=1000000 uv run pytest benchmarks/test_bench_statements.py
"""

from __future__ import annotations

import itertools
import os

import pytest

from benchmarks.statement_files import credits, write_mt940
from benchmarks.test_bench_store import empty_store  # noqa: F401 (a fixture)
from engine.store import records
from engine.store.database import open_store
from payments.importing import import_statement
from payments.statements import read_statement

LINES = int(os.environ.get("CESSION_BENCH_STATEMENT_LINES", "5000"))
STORE_URL = os.environ.get("CESSION_BENCH_STATEMENT_DATABASE_URL")


@pytest.fixture
def statement_store(request, portfolio):
    if STORE_URL:
        engine = open_store(STORE_URL)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("empty_store")
    records.load(engine, *portfolio)
    yield engine


@pytest.mark.benchmark(group="statements")
def test_import_statement(benchmark, statement_store, portfolio, tmp_path):
    claims = portfolio[0].select("claim_id", "seller_ref", "debtor_id")
    rounds = 1 if LINES >= 500_000 else 3
    numbered = itertools.count()

    def a_statement():
        n = next(numbered)
        path = tmp_path / f"statement-{n}.sta"
        write_mt940(credits(claims, LINES, seed=n + 1, refs=f"{os.getpid() % 10_000:04d}R{n}"), path)
        return (path,), {}

    def read_and_import(path):
        return import_statement(statement_store, read_statement(path))

    report = benchmark.pedantic(read_and_import, setup=a_statement, rounds=rounds, iterations=1)
    summary = report.summary()
    benchmark.extra_info.update(
        lines=LINES,
        claims=claims.height,
        backend=statement_store.dialect.name,
        posted=summary["posted"],
        suspense=summary["suspense"],
        refused=summary["refused"],
        lines_per_s=round(LINES / benchmark.stats.stats.median),
    )
    assert summary["posted"] + summary["suspense"] + summary["refused"] == LINES
    # every way of matching met (how many post depends on how much of the store is paid already)
    assert set(summary["by_match"]) == {"virtual_account", "seller_ref", "claim_id", "return"}
