"""``state_totals``: claim_state written chunk by chunk (two reused buffers, a writer thread) is
the very table ``compute_state`` returns, and its totals are exact."""

from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest

import engine.state as state_module
from benchmarks.generator import generate_portfolio
from engine import EngineInputError, compute_state, provenance
from engine.state import StateTotals, exact_sum, prepare, state_totals
from tests.builders import claim, frames

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(2_500, seed=5)


@pytest.mark.parametrize("chunk", [1_000, 2_500, 7_000])  # a short last chunk, one exact chunk, one chunk
def test_streamed_file_is_compute_states_table(portfolio, tmp_path, monkeypatch, chunk):
    claims, events = portfolio
    whole = compute_state(claims, events, AS_OF, allow_stale_rates=True)
    monkeypatch.setattr(state_module, "CHUNK", chunk)
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    seen = []
    totals = state_totals(prepared, write_to=tmp_path / "state.parquet", on_progress=lambda done, n: seen.append(done))
    written = pq.read_table(tmp_path / "state.parquet")
    assert pl.from_arrow(written).equals(pl.from_arrow(whole))
    assert pq.ParquetFile(tmp_path / "state.parquet").metadata.num_row_groups == -(-claims.height // chunk)
    assert provenance(written)["as_of"] == AS_OF.isoformat()
    assert provenance(written)["rate_tables_used"] == provenance(whole)["rate_tables_used"]
    assert totals == StateTotals.of_table(whole)
    assert totals.claims == claims.height and seen[-1] == claims.height
    assert totals.money["total_due"] == sum(totals.money[c] for c in ("principal_due", "interest_due", "costs_due"))
    assert list(tmp_path.iterdir()) == [tmp_path / "state.parquet"]  # no staged leftovers


def test_totals_without_a_file_are_the_same(portfolio, monkeypatch):
    claims, events = portfolio
    monkeypatch.setattr(state_module, "CHUNK", 600)
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    assert state_totals(prepared) == StateTotals.of_table(compute_state(claims, events, AS_OF, allow_stale_rates=True))


def test_a_claim_outside_the_calendar_fails_the_run_and_keeps_the_previous_file(tmp_path, monkeypatch):
    monkeypatch.setattr(state_module, "CHUNK", 2)
    rows = [claim(i, due=date(2020, 1, 1)) for i in range(1, 6)]
    rows += [claim(i, due=date(2250, 1, 1), limitation_kind="custom", limitation_years=100) for i in (6, 9)]
    claims, events = frames(rows)
    out = tmp_path / "state.parquet"
    out.write_bytes(b"the previous state")
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    with pytest.raises(EngineInputError, match=r"claims.due_date: a limitation end falls outside the holiday calendar.*2 rows; first claim_id: 6, 9"):
        state_totals(prepared, write_to=out)
    assert out.read_bytes() == b"the previous state"
    assert list(tmp_path.iterdir()) == [out]
    with pytest.raises(EngineInputError, match="2 rows; first claim_id: 6, 9"):
        compute_state(claims, events, AS_OF, allow_stale_rates=True)


def test_exact_sum_goes_past_int64():
    import numpy as np

    values = np.full(8, 2**62 - 1, dtype=np.int64)
    assert exact_sum(values) == 8 * (2**62 - 1)
    assert exact_sum(np.array([-5, 3, 2**40], dtype=np.int64)) == 2**40 - 2
    assert exact_sum(np.array([], dtype=np.int64)) == 0
