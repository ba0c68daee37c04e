"""A stored book for `cession allocate` at 1M and 10M claims, built once and kept in a schema of
its own: what benchmarks/test_bench_allocation.py's fixture does (claims and events, debtors, one
engine run, 10 agencies and the 20-rule strategy), in slices, so that no step holds the whole 10M
book (a whole `cession load` of 10M takes ~8 GB; here every step stays under ~3 GB).

    uv run python -m benchmarks.allocation_store SCHEMA PORTFOLIO_DIR OUT_DIR
    # e.g. alloc_b10m /work/data/p10m /tmp/alloc10m  (PORTFOLIO_DIR from `cession generate --seed 1`)

It drops and makes SCHEMA in CESSION_BENCH_DATABASE_URL's database, loads 2M claims at a time with
their events, the debtors (``generate_debtors(claims, 1)``), runs the engine as of the benchmarks'
day one portfolio at a time, loads the agencies and writes segments.yaml, strategy.yaml and
agencies.yaml to OUT_DIR. Then time `cession allocate` on it as a process (CESSION_BENCH_ALLOCATION_URL
with benchmarks/test_bench_allocation.py, or by hand: BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import polars as pl
import sqlalchemy as sa

from benchmarks.conftest import AS_OF
from benchmarks.test_bench_allocation import SEGMENTS, STRATEGY, agencies_yaml
from engine.store import records
from engine.store.database import open_store
from synthetic.book import generate_debtors

SLICE = 2_000_000


def build(base: str, schema: str, folder: Path, out: Path) -> str:
    """The store's URL (``base`` with its search_path set to ``schema``)."""
    from api.agencies import service as agencies_service
    from api.runs import service as runs_service

    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    url = f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    store = open_store(url)
    started = time.perf_counter()

    def said(what: str) -> None:
        print(f"{time.perf_counter() - started:8.1f} s  {what}", flush=True)

    claims, events = pl.scan_parquet(folder / "claims.parquet"), pl.scan_parquet(folder / "events.parquet")
    top = claims.select(pl.col("claim_id").max()).collect().item()
    for low in range(0, top + 1, SLICE):
        within = pl.col("claim_id").is_between(low, low + SLICE - 1)
        records.load(store, claims.filter(within).collect(), events.filter(within).collect())
        said(f"loaded claims {low}..{low + SLICE - 1}")
    records.load_debtors(store, generate_debtors(claims.select("debtor_id", "debtor_kind").collect(), 1))
    said("loaded the debtors")
    for portfolio in claims.select(pl.col("portfolio_id").unique().sort()).collect()["portfolio_id"]:
        runs_service.run(store=store, as_of=AS_OF, portfolio=portfolio, allow_stale_rates=True)
        said(f"ran {portfolio}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "segments.yaml").write_text(SEGMENTS)
    (out / "strategy.yaml").write_text(STRATEGY)
    (out / "agencies.yaml").write_text(agencies_yaml(claims.select(pl.len()).collect().item()))
    agencies_service.load(store=store, path=out / "agencies.yaml")
    with store.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    said(f"done: {url}")
    return url


if __name__ == "__main__":
    base = os.environ.get("CESSION_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    build(base, sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
