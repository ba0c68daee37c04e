"""``prepare_files``: Parquet files read a batch at a time into the kernel's arrays give exactly
``prepare``'s result, and exactly its errors (those go through the whole-frame path)."""

from dataclasses import fields
from datetime import date
from itertools import pairwise

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.file_inputs as file_inputs
import engine.parquet_io as parquet_io
from engine import EngineInputError, provenance
from engine.file_inputs import prepare_files
from engine.inputs import Prepared, prepare
from synthetic.book import generate_portfolio

AS_OF = date(2026, 10, 31)


@pytest.fixture(scope="module")
def portfolio():
    return generate_portfolio(3_000, seed=8)


def write(tmp_path, claims: pl.DataFrame, events: pl.DataFrame, row_group: int = 700):
    claims.write_parquet(tmp_path / "claims.parquet", row_group_size=row_group)
    events.write_parquet(tmp_path / "events.parquet", row_group_size=row_group)
    return tmp_path / "claims.parquet", tmp_path / "events.parquet"


def assert_same(a: Prepared, b: Prepared) -> None:
    for f in fields(Prepared):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        elif f.name != "rules":
            assert x == y, f.name


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(parquet_io, "FILE_BATCH_ROWS", 1_000)  # batches that cross row groups


def test_clean_sorted_files_read_in_batches_equal_prepare(portfolio, tmp_path, monkeypatch):
    claims, events = portfolio
    paths = write(tmp_path, claims, events)
    whole_path = []
    monkeypatch.setattr(
        file_inputs, "read_engine_columns", lambda *a: whole_path.append(a) or pytest.fail("read whole")
    )
    assert_same(
        prepare_files(*paths, AS_OF, allow_stale_rates=True), prepare(claims, events, AS_OF, allow_stale_rates=True)
    )
    assert not whole_path


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda c, e: (c.reverse(), e), id="claims-unsorted"),
        pytest.param(lambda c, e: (c, e.sort("event_id", descending=True)), id="events-unsorted"),
        pytest.param(lambda c, e: (c.with_columns(pl.col("contractual_rate_bp").cast(pl.Int64)), e), id="wider-int"),
        pytest.param(lambda c, e: (c.head(0), e.head(0)), id="empty"),
    ],
)
def test_files_that_need_the_whole_path_still_equal_prepare(portfolio, tmp_path, change):
    claims, events = change(*portfolio)
    paths = write(tmp_path, claims, events)
    assert_same(
        prepare_files(*paths, AS_OF, allow_stale_rates=True), prepare(claims, events, AS_OF, allow_stale_rates=True)
    )


def test_a_per_portfolio_waterfall_equals_prepare(portfolio, tmp_path):
    claims, events = portfolio
    paths = write(tmp_path, claims, events)
    some = claims.get_column("portfolio_id")[0]
    setting = {"*": "costs,interest,principal", some: "principal,interest,costs"}
    assert_same(
        prepare_files(*paths, AS_OF, allow_stale_rates=True, waterfall=setting),
        prepare(claims, events, AS_OF, allow_stale_rates=True, waterfall=setting),
    )


def _message(call) -> str:
    with pytest.raises(EngineInputError) as e:
        call()
    return str(e.value)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda c, e: (
                c.with_columns(principal=pl.when(pl.col("claim_id") % 997 == 5).then(-1).otherwise("principal")),
                e,
            ),
            id="negative-principals",
        ),
        pytest.param(lambda c, e: (c.filter(pl.col("claim_id") != 17), e), id="event-of-unknown-claim"),
        pytest.param(lambda c, e: (c.drop("due_date"), e), id="missing-column"),
        pytest.param(
            lambda c, e: (
                c,
                e.with_columns(kind=pl.when(pl.col("event_id") == 2_500).then(pl.lit("gift")).otherwise("kind")),
            ),
            id="unknown-kind",
        ),
        pytest.param(lambda c, e: (pl.concat([c, c.tail(3)]), e), id="repeated-claim-id"),
    ],
)
def test_errors_are_prepares_with_every_row_counted(portfolio, tmp_path, change):
    claims, events = change(*portfolio)
    paths = write(tmp_path, claims, events)
    expected = _message(lambda: prepare(claims, events, AS_OF, allow_stale_rates=True))
    assert _message(lambda: prepare_files(*paths, AS_OF, allow_stale_rates=True)) == expected


def _offsets_reference(claim_ids: list[int], events: list[tuple[int, int, int]]) -> list[int] | None:
    """Plain Python: None when the events are out of (claim, day, id) order or name an unknown
    claim, else each claim's first event index and the total."""
    if any(a >= b for a, b in pairwise(events)) or any(c not in claim_ids for c, _, _ in events):
        return None
    return [sum(1 for c, _, _ in events if c < claim) for claim in claim_ids] + [len(events)]


event_triples = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3), st.integers(0, 40)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    claims=st.sets(st.integers(0, 12), max_size=8),
    events=event_triples,
    sort=st.booleans(),
    cuts=st.lists(st.integers(0, 30), max_size=4),
)
def test_counting_events_a_slice_at_a_time_is_the_whole_count(claims, events, sort, cuts):
    from engine.kernels.grouping import close_offsets, count_events

    claim_ids = sorted(claims)
    events = sorted(events) if sort else events
    ids = np.array(claim_ids, dtype=np.int64)
    arrays = [np.array([e[k] for e in events], dtype=np.int64) for k in range(3)]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    low = np.iinfo(np.int64).min
    carry = np.array([0, 0, low, low, low], dtype=np.int64)
    bounds = [0, *sorted(c % (len(events) + 1) for c in cuts), len(events)]
    ok = all(count_events(ids, *(a[lo:hi] for a in arrays), offsets, carry) for lo, hi in pairwise(bounds))
    expected = _offsets_reference(claim_ids, events)
    assert ok == (expected is not None)
    if ok:
        close_offsets(offsets, carry)
        assert offsets.tolist() == expected


def test_inputs_prepared_once_serve_every_day_as_a_fresh_prepare_would(portfolio):
    """A series prepares once (``prepare_inputs``) and takes each day with ``Prepared.at``: nothing
    of one day leaks into the next, and each day's own checks still hold."""
    from engine import StaleRulesError, compute_state, prepare_inputs, state_table
    from engine.kernel_run import run_kernel

    claims, events = portfolio
    inputs = prepare_inputs(claims, events)
    days = [AS_OF, date(2019, 12, 31), date(2024, 2, 29), AS_OF]
    tables = [state_table(inputs.at(day, allow_stale_rates=True)) for day in days]
    for day, table in zip(days, tables, strict=True):
        fresh = compute_state(claims, events, day, allow_stale_rates=True)
        assert table.equals(fresh)
        meta, expected = (provenance(t) for t in (table, fresh))
        assert {k: v for k, v in meta.items() if k != "seconds"} == {
            k: v for k, v in expected.items() if k != "seconds"
        }
    assert_same(inputs.at(AS_OF, allow_stale_rates=True), prepare(claims, events, AS_OF, allow_stale_rates=True))
    with pytest.raises(StaleRulesError):
        inputs.at(AS_OF)  # the generated portfolio uses rate tables valid to 2026-03-05
    with pytest.raises(ValueError, match="not as of a day"):
        run_kernel(inputs)
