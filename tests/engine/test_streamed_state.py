"""``state_totals``: claim_state written chunk by chunk (two reused buffers, a writer thread) is
the very table ``compute_state`` returns, and its totals are exact."""

from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest

import engine.parquet_io as parquet_io
import engine.streaming as streaming
from engine import EngineInputError, compute_state, provenance
from engine.inputs import prepare
from engine.streaming import state_totals
from engine.totals import StateTotals, exact_sum
from synthetic.book import generate_portfolio
from tests.builders import claim, frames

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(2_500, seed=5)


@pytest.mark.parametrize("chunk", [1_000, 2_500, 7_000])  # a short last chunk, one exact chunk, one chunk
def test_streamed_file_is_compute_states_table(portfolio, tmp_path, monkeypatch, chunk):
    claims, events = portfolio
    whole = compute_state(claims, events, AS_OF, allow_stale_rates=True)
    monkeypatch.setattr(streaming, "CHUNK", chunk)
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
    monkeypatch.setattr(streaming, "CHUNK", 600)
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    assert state_totals(prepared) == StateTotals.of_table(compute_state(claims, events, AS_OF, allow_stale_rates=True))


def test_a_run_that_fails_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "CHUNK", 2)
    claims, events = frames([claim(i, due=date(2020, 1, 1)) for i in range(1, 8)])
    out = tmp_path / "state.parquet"
    out.write_bytes(b"the previous state")
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    tables = streaming.claim_state_table
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return tables(*args)

    monkeypatch.setattr(streaming, "claim_state_table", failing)
    with pytest.raises(OSError, match="disk full"):
        state_totals(prepared, write_to=out)
    assert out.read_bytes() == b"the previous state"
    assert list(tmp_path.iterdir()) == [out]


def test_limitation_ends_past_the_calendar_tables_are_computed_not_refused():
    """Ends are no longer moved to a working day, so no holiday calendar bounds them: a run past
    the calendar's years is computed by date arithmetic."""
    rows = [claim(6, due=date(2250, 1, 1), limitation_kind="custom", limitation_years=100, interest_basis="none")]
    [row] = compute_state(*frames(rows), AS_OF, allow_stale_rates=True).to_pylist()
    assert row["limitation_date"] == date(2350, 12, 31)


def test_exact_sum_goes_past_int64():
    import numpy as np

    values = np.full(8, 2**62 - 1, dtype=np.int64)
    assert exact_sum(values) == 8 * (2**62 - 1)
    assert exact_sum(np.array([-5, 3, 2**40], dtype=np.int64)) == 2**40 - 2
    assert exact_sum(np.array([], dtype=np.int64)) == 0


# ------------------------------------------------------------------------------------- stream_state
def write(tmp_path, claims: pl.DataFrame, events: pl.DataFrame, row_group: int = 300):
    claims.write_parquet(tmp_path / "claims.parquet", row_group_size=row_group)
    events.write_parquet(tmp_path / "events.parquet", row_group_size=row_group)
    return tmp_path / "claims.parquet", tmp_path / "events.parquet"


def same_meta(a: dict, b: dict) -> bool:
    return {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}


@pytest.fixture
def no_whole_path(monkeypatch):
    """Fails the test if ``stream_state`` falls back to the whole path."""
    monkeypatch.setattr(streaming, "prepare_files", lambda *a, **k: pytest.fail("went to the whole path"))


@pytest.mark.parametrize("rows", [250, 1_000, 9_000])  # slices of claims and of events never align; one slice
def test_sorted_files_stream_slice_by_slice_to_compute_states_table(
    portfolio, tmp_path, monkeypatch, no_whole_path, rows
):
    claims, events = portfolio
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", rows)
    whole = compute_state(claims, events, AS_OF, allow_stale_rates=True)
    seen = []
    totals, meta = streaming.stream_state(
        *write(tmp_path, claims, events),
        AS_OF,
        write_to=tmp_path / "state.parquet",
        allow_stale_rates=True,
        on_progress=lambda done, n: seen.append(done),
    )
    written = pq.read_table(tmp_path / "state.parquet")
    assert written.equals(whole)
    assert same_meta(provenance(written), provenance(whole)) and same_meta(meta, provenance(whole))
    assert totals == StateTotals.of_table(whole) and seen[-1] == claims.height
    assert pq.ParquetFile(tmp_path / "state.parquet").metadata.num_row_groups == -(-claims.height // rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.parquet", "events.parquet", "state.parquet"]


def test_claims_without_events_stream_too(portfolio, tmp_path, monkeypatch, no_whole_path):
    claims, events = portfolio
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", 700)
    totals, _ = streaming.stream_state(*write(tmp_path, claims, events.head(0)), AS_OF, allow_stale_rates=True)
    assert totals == StateTotals.of_table(compute_state(claims, events.head(0), AS_OF, allow_stale_rates=True))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c, e: (c.reverse(), e), id="claims-unsorted"),
        pytest.param(lambda c, e: (c, e.sort("event_id", descending=True)), id="events-unsorted"),
        pytest.param(lambda c, e: (c, e.with_columns(pl.col("event_id") * 7 % 10_007)), id="event-ids-not-increasing"),
        pytest.param(lambda c, e: (c.head(2_000), e), id="events-after-the-last-claim"),
        pytest.param(
            lambda c, e: (c.filter(pl.col("claim_id") != c["claim_id"][900]), e), id="events-of-a-missing-claim"
        ),
    ],
)
def test_files_that_do_not_stream_give_what_the_whole_path_gives(portfolio, tmp_path, monkeypatch, change):
    claims, events = change(*portfolio)
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", 500)
    paths = write(tmp_path, claims, events)

    def outcome(run):
        try:
            return run()
        except EngineInputError as error:
            return str(error)

    streamed = outcome(lambda: streaming.stream_state(*paths, AS_OF, allow_stale_rates=True)[0])
    expected = outcome(lambda: StateTotals.of_table(compute_state(claims, events, AS_OF, allow_stale_rates=True)))
    assert streamed == expected


def test_a_bad_row_in_two_slices_is_the_whole_inputs_error_and_the_previous_file_stays(
    portfolio, tmp_path, monkeypatch
):
    claims, events = portfolio
    bad = claims.with_columns(
        pl.when(pl.col("claim_id").is_in([claims["claim_id"][10], claims["claim_id"][2_000]]))
        .then(-5)
        .otherwise(pl.col("principal"))
        .alias("principal")
    )
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", 1_000)
    out = tmp_path / "state.parquet"
    out.write_bytes(b"the previous state")
    with pytest.raises(EngineInputError) as streamed:
        streaming.stream_state(*write(tmp_path, bad, events), AS_OF, write_to=out, allow_stale_rates=True)
    with pytest.raises(EngineInputError) as whole:
        compute_state(bad, events, AS_OF, allow_stale_rates=True)
    assert str(streamed.value) == str(whole.value) and "2 rows" in str(whole.value)
    assert out.read_bytes() == b"the previous state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claims.parquet", "events.parquet", "state.parquet"]


def test_a_per_portfolio_waterfall_streams_and_stale_rates_give_the_whole_inputs_error(
    portfolio, tmp_path, monkeypatch
):
    from engine import StaleRulesError

    claims, events = portfolio
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", 600)
    paths = write(tmp_path, claims, events)
    first = claims["portfolio_id"][0]
    setting = {first: "principal,interest,costs", "*": "interest,costs,principal"}
    totals, _ = streaming.stream_state(*paths, AS_OF, waterfall=setting, allow_stale_rates=True)
    assert totals == StateTotals.of_table(
        compute_state(claims, events, AS_OF, waterfall=setting, allow_stale_rates=True)
    )
    with pytest.raises(StaleRulesError) as streamed:
        streaming.stream_state(*paths, AS_OF)
    with pytest.raises(StaleRulesError) as whole:
        compute_state(claims, events, AS_OF)
    assert str(streamed.value) == str(whole.value)
