"""`cession run` on an executor: each worker reads its claim_id range from the store (one exported
snapshot on PostgreSQL); the run stores the same state, bit for bit, as a run in this process, and
a partition that fails leaves the stored state as it was."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from engine import compute, compute_state
from engine.executors import LocalExecutor, PartitionsFailed, RayExecutor
from engine.sources import StoreSource
from engine.store import records, runs
from engine.store.runs import read_state
from engine.store_run import run
from synthetic.book import generate_portfolio

AS_OF = date(2026, 2, 28)


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(2_000, 11)


@pytest.fixture(scope="module")
def ray_executor():
    executor = RayExecutor(num_cpus=2)  # joins the session's Ray if the engine tests started it
    yield executor
    executor.close()


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def executor(request):
    return LocalExecutor() if request.param == "local" else request.getfixturevalue("ray_executor")


def test_a_partitioned_run_stores_what_a_run_in_one_piece_stores(store, portfolio, executor):
    records.load(store, *portfolio)
    whole = run(store, AS_OF)
    parted = run(store, AS_OF, executor=executor, partitions=3)
    assert parted.status == "succeeded" and parted.state_sha256 == whole.state_sha256
    assert (parted.claims, parted.events, parted.totals) == (whole.claims, whole.events, whole.totals)
    assert parted.provenance["partitions"] == 3 and parted.provenance["executor"] == executor.name
    assert read_state(store).equals(pl.from_arrow(compute_state(*portfolio, AS_OF)))

    days = [date(2025, 12, 31), AS_OF]
    series = compute(StoreSource.of(store), days, executor=executor, partitions=4, keep=True, portfolios=True)
    assert [s.day for s in series] == days
    for s in series:
        assert s.table.equals(compute_state(*portfolio, s.day)) and s.portfolio_id.len() == 2_000
    assert runs.runs_list(store, 1)[0].run_id == parted.run_id  # a series is not a run: the state stays


def test_a_failed_partition_leaves_the_stored_state(store, portfolio, monkeypatch):
    records.load(store, *portfolio)
    first = run(store, AS_OF)
    read = StoreSource.read

    def failing(self, part):
        if part.index == 1:
            raise OSError("connection reset")
        return read(self, part)

    before = read_state(store)
    monkeypatch.setattr(StoreSource, "read", failing)
    with pytest.raises(PartitionsFailed, match=r"partition 1 \(claim_id"):
        run(store, date(2026, 1, 31), executor=LocalExecutor(), partitions=3)
    failed = runs.runs_list(store, 1)[0]
    assert failed.status == "failed" and "partition 1 (claim_id" in failed.error
    assert read_state(store).equals(before) and runs.runs_list(store, 2)[1].run_id == first.run_id


@pytest.mark.slow
@pytest.mark.ray
def test_cli_run_on_ray_and_a_valuation_series(tmp_path, portfolio):
    import json
    import subprocess
    import sys
    from pathlib import Path

    claims, events = tmp_path / "claims.parquet", tmp_path / "events.parquet"
    portfolio[0].write_parquet(claims)
    portfolio[1].write_parquet(events)
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "CESSION_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}

    def cession(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args, "--json"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
            env=env,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    cession("load", "--claims", str(claims), "--events", str(events))
    local = cession("run", "--as-of", "2026-02-28")
    on_ray = cession("run", "--as-of", "2026-02-28", "--executor", "ray", "--partitions", "3")
    assert on_ray["status"] == "succeeded" and on_ray["state_sha256"] == local["state_sha256"]
    series = cession("run", "--as-of", "2025-11-30..2026-01-31", "--executor", "ray", "--out", str(tmp_path / "val"))
    assert [s["as_of"] for s in series["states"]] == ["2025-11-30", "2025-12-31", "2026-01-31"]
    assert sorted(p.name for p in (tmp_path / "val").iterdir()) == [
        "state-2025-11-30.parquet",
        "state-2025-12-31.parquet",
        "state-2026-01-31.parquet",
    ]
    assert cession("runs")[0]["run_id"] == on_ray["run_id"]  # the series left the stored state alone
