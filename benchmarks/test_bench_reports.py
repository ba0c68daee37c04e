"""`cession report` end to end on one portfolio holding the whole generated book (every claim moved
into one portfolio, so it has the book's vintages): reading the book's claims and collections, the
portfolio's stored claim_state and placements, the curves, the chain-ladder ERC, and writing the
HTML page and the JSON, in a process of its own (wall time and peak RSS of that process). The store
is PostgreSQL when CESSION_BENCH_DATABASE_URL is set (a schema of its own), else SQLite. Sizes as
in conftest.py; the issue's target: a 10M-claim portfolio's report in under 60 s. Figures:
BENCHMARKS.md.

    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    CESSION_BENCH_CLAIMS=1000000 uv run pytest benchmarks/test_bench_reports.py -s

The setup (generate, load, one engine run as of the report's day) is outside the timer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from benchmarks.conftest import AS_OF
from benchmarks.test_bench_store import empty_store  # noqa: F401 (fixture)
from engine.store import records

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("CESSION_BENCH_ROUNDS", "3"))
PORTFOLIO = "BOOK-ALL"


@pytest.fixture
def report_store(empty_store, portfolio):  # noqa: F811
    from api.runs import service as runs_service

    claims, events = portfolio
    records.load(empty_store, claims.with_columns(portfolio_id=pl.lit(PORTFOLIO)), events)
    runs_service.run(store=empty_store, as_of=AS_OF, allow_stale_rates=True)
    return empty_store


def _report_process(url: str, out: Path) -> tuple[float, dict]:
    """`cession report` in a process of its own: (wall seconds, its --json)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "report",
            "--portfolio",
            PORTFOLIO,
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(out),
            "--database-url",
            url,
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out_text, err = process.communicate()  # the JSON may outgrow a pipe's buffer: read while it runs
    wall = time.perf_counter() - started
    assert process.returncode == 0, err
    return wall, json.loads(out_text)


def _peak_rss_of_children() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


@pytest.mark.benchmark(group="reports")
def test_report(benchmark, report_store, tmp_path):
    url = report_store.url.render_as_string(hide_password=False)
    walls, results = [], []

    def one_round():
        wall, result = _report_process(url, tmp_path / "report.html")
        walls.append(wall)
        results.append(result)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    result = results[-1]
    peak = _peak_rss_of_children()  # the largest child so far: the report processes (the setup runs in-process)
    benchmark.extra_info.update(
        claims=result["portfolio"]["claims"],
        backend=report_store.dialect.name,
        wall_s=sorted(walls),
        peak_rss_mb=round(peak / 2**20),
        in_process_s=result["seconds"],
    )
    median = sorted(walls)[len(walls) // 2]
    print(
        f"\ncession report: {result['portfolio']['claims']} claims on {report_store.dialect.name}; "
        f"wall {[round(w, 2) for w in sorted(walls)]} s (median {median:.2f}), peak RSS {peak / 2**20:.0f} MB, "
        f"in-process {result['seconds']} s, ERC {result['erc']['total']}"
    )
    assert result["portfolio"]["claims"] > 0 and float(result["erc"]["total"]) > 0
    assert (tmp_path / "report.html").stat().st_size > 10_000
