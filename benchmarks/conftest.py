"""Seeded portfolios for the benchmarks. CI runs a small size; the real sizes run by hand:

CESSION_BENCH_CLAIMS=1000000 uv run pytest benchmarks/test_bench_engine.py
CESSION_BENCH_PORTFOLIO=/tmp/p10m uv run pytest benchmarks/test_bench_engine.py  # from `cession generate`
"""

import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from synthetic.book import generate_portfolio

BENCH_CLAIMS = int(os.environ.get("CESSION_BENCH_CLAIMS", "20000"))
AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="session")
def portfolio() -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = os.environ.get("CESSION_BENCH_PORTFOLIO")
    if folder:
        return pl.read_parquet(Path(folder) / "claims.parquet"), pl.read_parquet(Path(folder) / "events.parquet")
    return generate_portfolio(BENCH_CLAIMS, seed=1)
