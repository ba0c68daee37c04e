"""`cession allocate` end to end: reading the stored state, claims, debtors and payments, deciding
for every claim with a 20-rule strategy over 10 agencies, and writing the placements, in a process
of its own (wall time and peak RSS of that process). The store is PostgreSQL when
CESSION_BENCH_DATABASE_URL is set (a schema of its own), else SQLite. Sizes as in conftest.py;
the issue's targets (10M claims): under 20 s wall, under 6 GB peak. Figures: BENCHMARKS.md.

    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    CESSION_BENCH_CLAIMS=1000000 uv run pytest benchmarks/test_bench_allocation.py -s

The setup (generate, load, debtors, one engine run) is outside the timer; before each timed round
the placements and allocation runs are emptied, so every round places the whole book anew.

A store built once (``python -m benchmarks.allocation_store SCHEMA PORTFOLIO_DIR DIR``, the way to
have 10M) is reused with CESSION_BENCH_ALLOCATION_URL (its URL) and CESSION_BENCH_ALLOCATION_DIR
(the DIR holding its strategy.yaml); the setup is then skipped:

    CESSION_BENCH_ALLOCATION_URL='postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dalloc_b10m' \
    CESSION_BENCH_ALLOCATION_DIR=/tmp/alloc10m uv run pytest benchmarks/test_bench_allocation.py -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.conftest import AS_OF
from benchmarks.test_bench_store import empty_store  # noqa: F401 (fixture)
from engine.store import records
from synthetic.book import generate_debtors

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("CESSION_BENCH_ROUNDS", "3"))
AGENCIES = 10

SEGMENTS = """\
segments:
  - {name: nothing_owed, when: {balance: [null, 0.01]}}
  - {name: window, when: {limitation: [window]}}
  - {name: barred, when: {limitation: [time_barred]}}
  - {name: titled, when: {title: true}}
  - {name: paying, when: {paid_within_days: {days: 90}}}
  - {name: fresh_small, when: {balance: [0, 1000], days_past_due: [null, 730]}}
  - {name: fresh_mid, when: {balance: [1000, 10000], days_past_due: [null, 730]}}
  - {name: fresh_large, when: {balance: [10000, null], days_past_due: [null, 730]}}
  - {name: old_small, when: {balance: [0, 1000]}}
  - {name: old_mid, when: {balance: [1000, 10000]}}
  - {name: old_large, when: {balance: [10000, null]}}
"""
STRATEGY = """\
name: bench-20-rules
segments: segments.yaml
settings: {legal_margin: 0.25, score_without_history: 0.3}
pools:
  north: {agencies: {AG01: 3, AG02: 2, AG03: 1}}
  south: {agencies: {AG04: 2, AG05: 2, AG06: 1}}
  national: {agencies: {AG07: 1, AG08: 1, AG09: 1, AG10: 1}, by: performance}
  voluntary: {agencies: {AG09: 1, AG10: 2}}
rules:
  - {name: r01-nothing-owed, segment: nothing_owed, action: leave}
  - {name: r02-review-huge, when: {balance: [1000000, null]}, action: hold, reason: review}
  - {name: r03-enforce, segment: titled, action: legal, queue: enforcement, daily_limit: 20000}
  - {name: r04-window-epu, segment: window, when: {national_id: true}, action: legal, queue: epu, daily_limit: 20000}
  - {name: r05-window-court, segment: window, action: legal, queue: court, daily_limit: 10000}
  - {name: r06-barred-business-court, segment: barred, when: {debtor_kind: business}, action: legal, queue: court}
  - {name: r07-barred-voluntary, segment: barred, action: place, pool: voluntary}
  - {name: r08-payers, segment: paying, action: reminder}
  - {name: r09-fresh-small-remind, segment: fresh_small, when: {payments: [1, null]}, action: reminder}
  - {name: r10-fresh-small-north, segment: fresh_small, when: {region: ["0", "1", "7", "8"]}, action: place, pool: north}
  - {name: r11-fresh-small-south, segment: fresh_small, action: place, pool: south}
  - {name: r12-fresh-mid-epu, segment: fresh_mid, when: {national_id: true, debtor_kind: business}, action: legal, queue: epu}
  - {name: r13-fresh-mid-north, segment: fresh_mid, when: {region: ["0", "1", "7", "8"]}, action: place, pool: north}
  - {name: r14-fresh-mid-south, segment: fresh_mid, action: place, pool: south}
  - {name: r15-fresh-large-epu, segment: fresh_large, when: {national_id: true}, action: legal, queue: epu}
  - {name: r16-fresh-large-court, segment: fresh_large, action: legal, queue: court}
  - {name: r17-old-small-national, segment: old_small, action: place, pool: national}
  - {name: r18-old-mid-court, segment: old_mid, when: {days_past_due: [null, 1800]}, action: legal, queue: court}
  - {name: r19-old-mid-national, segment: old_mid, action: place, pool: national}
  - {name: r20-old-large-national, segment: [old_large, other], action: place, pool: national}
"""


def agencies_yaml(claims: int) -> str:
    """10 agencies whose capacity together takes about a third of the book."""
    each = max(claims // 30, 1)
    lines = ["agencies:"]
    for i in range(1, AGENCIES + 1):
        lines.append(
            f"  - {{agency_id: AG{i:02d}, name: Agency {i}, capacity: {each}, "
            f"capacity_balance: {each * 15_000}.00, commission_bp: {1_000 + 100 * i}, term_days: 180}}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def allocation_store(request, tmp_path):
    built = os.environ.get("CESSION_BENCH_ALLOCATION_URL")
    if built:  # a store built once (benchmarks/allocation_store.py)
        from engine.store.database import open_store

        store = open_store(built)
        yield store, Path(os.environ["CESSION_BENCH_ALLOCATION_DIR"]) / "strategy.yaml"
        store.dispose()
        return
    yield _built_here(request.getfixturevalue("empty_store"), request.getfixturevalue("portfolio"), tmp_path)


def _built_here(empty_store, portfolio, tmp_path):  # noqa: F811
    from api.agencies import service as agencies_service
    from api.runs import service as runs_service

    claims, events = portfolio
    records.load(empty_store, claims, events)
    records.load_debtors(empty_store, generate_debtors(claims, 1))
    runs_service.run(store=empty_store, as_of=AS_OF, allow_stale_rates=True)
    (tmp_path / "segments.yaml").write_text(SEGMENTS)
    (tmp_path / "strategy.yaml").write_text(STRATEGY)
    (tmp_path / "agencies.yaml").write_text(agencies_yaml(claims.height))
    agencies_service.load(store=empty_store, path=tmp_path / "agencies.yaml")
    return empty_store, tmp_path / "strategy.yaml"


def _emptied(store: sa.Engine) -> None:
    with store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM placements")
        conn.exec_driver_sql("DELETE FROM allocation_runs")


def _allocate_process(url: str, strategy: Path) -> tuple[float, int, dict]:
    """`cession allocate` in a process of its own: (wall seconds, peak RSS bytes, its --json)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "allocate",
            "--as-of",
            AS_OF.isoformat(),
            "--strategy",
            str(strategy),
            "--database-url",
            url,
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)  # its own rusage: the peak RSS of that process alone
    wall = time.perf_counter() - started
    out, err = process.stdout.read(), process.stderr.read()  # a few kB: the pipes never filled
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, err
    return wall, usage.ru_maxrss * 1024, json.loads(out)


@pytest.mark.benchmark(group="allocation")
def test_allocate(benchmark, allocation_store):
    store, strategy = allocation_store
    url = store.url.render_as_string(hide_password=False)
    walls, peaks, results = [], [], []

    def one_round():
        wall, peak, result = _allocate_process(url, strategy)
        walls.append(wall)
        peaks.append(peak)
        results.append(result)

    benchmark.pedantic(one_round, setup=lambda: _emptied(store), rounds=ROUNDS, iterations=1)
    result = results[-1]
    benchmark.extra_info.update(
        claims=result["claims"],
        placed=result["placed"],
        backend=store.dialect.name,
        agencies=AGENCIES,
        rules=20,
        wall_s=sorted(walls),
        peak_rss_mb=round(max(peaks) / 2**20),
        in_process_s=result["seconds"],
    )
    print(
        f"\ncession allocate: {result['claims']} claims, {result['placed']} placed on {store.dialect.name}; "
        f"wall {sorted(walls)} s (median {sorted(walls)[len(walls) // 2]:.2f}), peak RSS {max(peaks) / 2**20:.0f} MB, "
        f"in-process {result['seconds']} s"
    )
    assert result["placed"] > 0 and {r["action"] for r in result["by_action"]} >= {"place", "legal", "hold"}
