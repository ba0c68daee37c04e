"""Ingest speed: a messy seller CSV (Windows-1250, ';', decimal commas, Polish headers, 2 % bad
rows; synthetic/seller_export.py) read and validated, and ingested whole into the store (debtors
deduplicated, claims and debtors written, one transaction).

A small file by default; the real sizes by hand (figures: BENCHMARKS.md):

    CESSION_BENCH_INGEST_ROWS=1000000 uv run pytest benchmarks/test_bench_ingest.py
    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    CESSION_BENCH_INGEST_ROWS=1000000 uv run pytest benchmarks/test_bench_ingest.py

Peak memory of a whole `cession ingest` is measured apart, with /usr/bin/time -v (BENCHMARKS.md).
"""

from __future__ import annotations

import os
from datetime import date

import pytest

from benchmarks.test_bench_store import empty_store  # noqa: F401  (fixture: SQLite, or PostgreSQL by env)
from ingest import ingest_file
from ingest.pipeline import _read
from ingest.profiles import load_profile
from ingest.rows import Terms
from ingest.sources import scan
from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv

INGEST_ROWS = int(os.environ.get("CESSION_BENCH_INGEST_ROWS", "20000"))
TODAY = date(2026, 12, 1)


@pytest.fixture(scope="session")
def seller_csv(tmp_path_factory):
    frame, expected = seller_file(INGEST_ROWS, seed=11)
    path = write_seller_csv(frame, tmp_path_factory.mktemp("seller") / f"seller-{INGEST_ROWS}.csv")
    del frame
    return path, expected


@pytest.mark.benchmark(group="ingest")
def test_read_and_validate(benchmark, seller_csv, tmp_path):
    path, expected = seller_csv
    profile = load_profile(PROFILE)
    terms = Terms(PURCHASE_DATE, True, TODAY)

    def read():
        return _read(scan(path), profile, terms, None, lambda *_: None, tmp_path)

    read_back = benchmark.pedantic(read, rounds=3 if INGEST_ROWS <= 1_000_000 else 1, iterations=1)
    benchmark.extra_info.update(rows=INGEST_ROWS, rows_per_s=round(INGEST_ROWS / benchmark.stats.stats.median))
    assert set(read_back.failures["row"]) == set(expected["row"])


@pytest.mark.benchmark(group="ingest")
def test_ingest_into_the_store(benchmark, seller_csv, empty_store):  # noqa: F811
    path, expected = seller_csv
    report = benchmark.pedantic(
        ingest_file,
        args=(empty_store, path, "BENCH"),
        kwargs={"profile": PROFILE, "price": 10**10, "purchase_date": PURCHASE_DATE, "today": TODAY},
        rounds=1,
        iterations=1,
    )
    benchmark.extra_info.update(
        rows=INGEST_ROWS, backend=empty_store.dialect.name, rows_per_s=round(INGEST_ROWS / benchmark.stats.stats.median)
    )
    assert report.accepted + report.rejected == INGEST_ROWS and report.rejected == expected["row"].n_unique()
