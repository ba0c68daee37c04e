"""`cession journal` for one month of a book, end to end in a process of its own (wall time and peak
RSS of that process): reading claims.parquet and events.parquet, the engine as of the day before
the month and as of its last day, the movements, every transaction's lines checked to balance, and
the Parquet file written. Sizes as in conftest.py (CESSION_BENCH_CLAIMS, or CESSION_BENCH_PORTFOLIO
for a `cession generate` folder); the issue's target (10M claims): under 30 s, under 6 GB peak.
Figures: BENCHMARKS.md.

    CESSION_BENCH_CLAIMS=1000000 uv run pytest benchmarks/test_bench_ledger.py -s
    CESSION_BENCH_PORTFOLIO=/tmp/p10m uv run pytest benchmarks/test_bench_ledger.py -s

One event in twenty is given a recorded day 1-60 days after its own (a late bank statement), so
the month holds backdated payments and the re-measurements they cause. Setup (the files) is
outside the timer; each round is a fresh process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("CESSION_BENCH_ROUNDS", "3"))
MONTH = ("2026-10-01", "2026-10-31")


@pytest.fixture(scope="module")
def book_files(portfolio, tmp_path_factory) -> tuple[Path, Path]:
    claims, events = portfolio
    folder = tmp_path_factory.mktemp("ledger-book")
    lag = (pl.col("event_id").hash(7) % 20 == 0).cast(pl.Int64) * (1 + pl.col("event_id").hash(11) % 60)
    events = events.with_columns(recorded_on=pl.col("event_date") + pl.duration(days=lag))
    claims.write_parquet(folder / "claims.parquet")
    events.write_parquet(folder / "events.parquet")
    return folder / "claims.parquet", folder / "events.parquet"


def _journal(claims: Path, events: Path, out: Path) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS in GB, the --json summary) of one `cession journal` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "journal",
            "--from",
            MONTH[0],
            "--to",
            MONTH[1],
            "--claims",
            str(claims),
            "--events",
            str(events),
            "--out",
            str(out),
            "--allow-stale-rates",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024**2, json.loads(done.stdout)


@pytest.mark.benchmark(group="ledger")
def test_journal_of_one_month(book_files, tmp_path, benchmark):
    claims, events = book_files
    out = tmp_path / "journal.parquet"
    _journal(claims, events, out)  # warm: numba's cache, the file system's

    rounds: list[tuple[float, float, dict]] = []

    def one_round():
        rounds.append(_journal(claims, events, out))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    walls = sorted(r[0] for r in rounds)
    summary = rounds[-1][2]
    print(
        f"\njournal {MONTH[0]}..{MONTH[1]}: walls {', '.join(f'{w:.2f}' for w in walls)} s, "
        f"median {walls[len(walls) // 2]:.2f} s; peak RSS {max(r[1] for r in rounds):.2f} GB (children, max); "
        f"{summary['lines']} lines, {summary['transactions']} transactions, in process {summary['seconds']} s"
    )
    assert summary["balanced"] and pl.read_parquet(out).height == summary["lines"]
