"""Partitions and executors: the same claim_state bit for bit however the claims are cut and
wherever they are computed; a failed partition commits nothing and is named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from itertools import pairwise
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from api.cli.parsing import days as parse_as_of
from api.cli.parsing import month_ends
from engine import EngineInputError, StaleRulesError, compute_state, provenance
from engine.computation import collect_days
from engine.executors import LocalExecutor, PartitionsFailed, PartitionState, compute_state_on, plan, states
from engine.parquet_io import Staged
from engine.sources import ParquetSource
from engine.totals import StateTotals, state_digest
from tests.builders import claim, event, frames
from tests.engine.conftest import AS_OF

ROOT = Path(__file__).parents[2]


def test_plan_covers_every_id_in_order_with_equal_shares():
    ids = np.arange(10, 110)
    parts = plan(ids, 7)
    assert parts[0].lo is None and parts[-1].hi is None
    assert all(a.hi == b.lo for a, b in pairwise(parts))
    assert sum(p.claims for p in parts) == 100 and max(p.claims for p in parts) - min(p.claims for p in parts) <= 1
    assert [p.claims for p in plan(np.array([5, 6]), 4)] == [0, 1, 0, 1]  # more partitions than claims: some empty
    assert [p.claims for p in plan(np.array([], dtype=np.int64), 3)] == [0]


@pytest.mark.parametrize("partitions", [1, 2, 7, 64])
def test_claim_state_is_identical_bit_for_bit_for_any_partitions(executor, generated, generated_state, partitions):
    got = compute_state_on(executor, *generated, AS_OF, partitions=partitions)
    assert got.equals(generated_state)
    assert state_digest(got) == state_digest(generated_state)
    meta = json.loads(got.schema.metadata[b"cession"])
    assert (meta["claims"], meta["events"], meta["partitions"]) == (3_000, generated[1].height, partitions)


def test_workers_read_their_own_parquet_ranges_and_a_series_fans_out(executor, generated, generated_files):
    days = [date(2025, 12, 31), AS_OF, date(2026, 3, 31)]
    source = ParquetSource(str(generated_files[0]), str(generated_files[1]))
    got = list(states(source, days, executor=executor, partitions=5, allow_stale_rates=True))
    assert [day for day, _ in got] == days
    for day, table in got:
        assert table.equals(compute_state(*generated, day, allow_stale_rates=True))


def test_data_errors_are_the_engines_whatever_the_partitions(executor):
    c, e = frames(
        [claim(1, due=date(2024, 1, 1)), claim(9, due=date(2024, 1, 1))],
        [event(5, "cost", date(2024, 2, 1), 100, claim_id=1), event(5, "cost", date(2024, 2, 1), 100, claim_id=9)],
    )
    with pytest.raises(EngineInputError, match="event_id: must be unique"):  # the two 5s sit in two partitions
        compute_state_on(executor, c, e, AS_OF, partitions=2)
    stray = pl.DataFrame([event(6, "cost", date(2024, 2, 1), 1, claim_id=100)], schema=e.schema)
    with pytest.raises(EngineInputError, match="unknown claim|not in claims|claim_id"):
        compute_state_on(executor, c, stray, AS_OF, partitions=2)
    with pytest.raises(StaleRulesError):
        compute_state_on(executor, c, e.head(1), date(2026, 11, 30), partitions=2)
    negative = c.with_columns(pl.lit(-1).alias("principal"))  # one bad claim in each partition: counted together
    with pytest.raises(EngineInputError, match=r"claims.principal: must be >= 0 .*\(2 rows; first claim_id: 1, 9\)"):
        compute_state_on(executor, negative, e.head(0), AS_OF, partitions=2)


class FailingSource(ParquetSource):
    """Partition 1 cannot be read (on Ray: in the worker, every attempt)."""

    def read(self, part):
        if part.index == 1:
            raise OSError("disk gone")
        return super().read(part)


def test_a_failed_partition_is_named_and_nothing_is_handed_back(executor, generated_files):
    source = FailingSource(str(generated_files[0]), str(generated_files[1]))
    with pytest.raises(PartitionsFailed, match=r"partition 1 \(claim_id .*OSError: disk gone") as caught:
        list(states(source, [AS_OF], executor=executor, partitions=3))
    assert caught.value.partitions == [1]


def parts_of(state, day: date, n: int) -> list[PartitionState]:
    """``state`` cut into ``n`` claim_id partitions, as an executor hands them back."""
    ids = state.column("claim_id").to_numpy()
    parts = plan(ids, n)
    bounds = [0, *np.cumsum([p.claims for p in parts]).tolist()]
    meta = provenance(state)

    def own(i: int, part) -> pa.Table:  # the partition's provenance: its claims (all events in the first)
        mine = dict(meta, claims=part.claims, events=meta["events"] if i == 0 else 0)
        return state.slice(bounds[i], part.claims).replace_schema_metadata({"cession": json.dumps(mine)})

    return [PartitionState(day, p, n, own(i, p)) for i, p in enumerate(parts)]


def test_outputs_are_committed_only_when_every_day_succeeded(tmp_path, generated_state):
    out = tmp_path / "series"
    out.mkdir()
    (out / "state-2026-01-31.parquet").write_bytes(b"previous")

    def results():
        yield from parts_of(generated_state, date(2026, 1, 31), 3)
        yield parts_of(generated_state, AS_OF, 3)[0]  # the next day's first partition is written, then:
        raise PartitionsFailed([])

    with pytest.raises(PartitionsFailed):
        collect_days(results(), [date(2026, 1, 31), AS_OF], out=out, executor=LocalExecutor().name)
    assert (out / "state-2026-01-31.parquet").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]  # no staging left behind


def test_partitions_are_written_as_they_come_into_one_file_equal_to_the_whole(tmp_path, generated_state):
    [day] = collect_days(
        iter(parts_of(generated_state, AS_OF, 4)), [AS_OF], out=tmp_path / "one.parquet", executor=LocalExecutor().name
    )
    written = pq.read_table(tmp_path / "one.parquet")
    assert written.equals(generated_state) and state_digest(written) == state_digest(generated_state)
    meta = json.loads(written.schema.metadata[b"cession"])
    assert (meta["claims"], meta["partitions"], meta["as_of"]) == (3_000, 4, AS_OF.isoformat())
    assert day.totals == StateTotals.of_table(generated_state) and day.provenance["partitions"] == 4
    assert pq.ParquetFile(tmp_path / "one.parquet").metadata.num_row_groups == 4  # one a partition
    assert not Staged(tmp_path / "one.parquet", folder=False).dir.exists()


def test_as_of_lists_and_month_end_ranges():
    assert parse_as_of("2026-02-28") == [date(2026, 2, 28)]
    assert parse_as_of("2026-01-31, 2026-02-28") == [date(2026, 1, 31), date(2026, 2, 28)]
    year = parse_as_of("2026-01-31..2026-12-31")
    assert len(year) == 12 and year[1] == date(2026, 2, 28) and year[-1] == date(2026, 12, 31)
    assert parse_as_of("2025-12-31,2026-01-01..2026-03-30") == [
        date(2025, 12, 31),
        date(2026, 1, 31),
        date(2026, 2, 28),
    ]
    assert month_ends(date(2024, 2, 1), date(2024, 2, 29)) == [date(2024, 2, 29)]


def cession(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.slow
@pytest.mark.ray
def test_cli_state_on_ray_writes_what_the_local_executor_writes(generated_files, tmp_path):
    common = [
        "state",
        "--claims",
        str(generated_files[0]),
        "--events",
        str(generated_files[1]),
        "--as-of",
        "2026-01-31..2026-02-28",
        "--json",
    ]
    local = cession(*common, "--out", str(tmp_path / "local"))
    ray = cession(*common, "--out", str(tmp_path / "ray"), "--executor", "ray", "--partitions", "3")
    assert local.returncode == 0 and ray.returncode == 0, ray.stderr
    summaries = [json.loads(r.stdout)["states"] for r in (local, ray)]
    assert [s["totals"] for s in summaries[0]] == [s["totals"] for s in summaries[1]]
    assert summaries[1][0]["executor"] == "ray" and summaries[1][0]["partitions"] == 3
    for name in ("state-2026-01-31.parquet", "state-2026-02-28.parquet"):
        assert pq.read_table(tmp_path / "ray" / name).equals(pq.read_table(tmp_path / "local" / name))
