"""Placement within a pool: capacities (cases and balance) never exceeded, eligibility (region,
debtor kind, balance band), weights, no re-placement with the agency a claim was recalled from,
and the recall timers."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.decide import decide
from tests.allocation.helpers import AS_OF, agencies, book, decided, strategy

POOL = """
name: pool
segments: segments.yaml
settings: {recall_after_days: 60, no_replacement_days: 90}
pools:
  main: {agencies: {A: 1, B: 1, C: 2}}
rules:
  - {name: place, action: place, pool: main}
"""


def placed_per_agency(allocation, open_placements=()) -> pl.DataFrame:
    kept = pl.DataFrame(list(open_placements), schema={"agency_id": pl.String, "balance": pl.Int64})
    new = allocation.placements.select("agency_id", "balance")
    return pl.concat([kept, new]).group_by("agency_id").agg(cases=pl.len(), volume=pl.col("balance").sum())


def assert_within_capacity(allocation, agency_frame: pl.DataFrame, open_placements=()) -> None:
    used = placed_per_agency(allocation, open_placements).join(agency_frame, on="agency_id")
    for row in used.iter_rows(named=True):
        if row["capacity"] is not None:
            assert row["cases"] <= row["capacity"], row
        if row["capacity_balance"] is not None:
            assert row["volume"] <= row["capacity_balance"], row


@settings(max_examples=40, deadline=None)
@given(
    balances=st.lists(st.integers(0, 5_000_000), min_size=1, max_size=120),
    caps=st.lists(
        st.tuples(st.none() | st.integers(0, 40), st.none() | st.integers(0, 60_000_000)), min_size=3, max_size=3
    ),
    kept=st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 3_000_000)), max_size=10),
)
def test_capacity_in_cases_and_balance_is_never_exceeded(tmp_path_factory, balances, caps, kept):
    tmp = tmp_path_factory.mktemp("pool")
    frame = agencies(
        *[{"agency_id": a, "capacity": c, "capacity_balance": b} for a, (c, b) in zip("ABC", caps, strict=True)]
    )
    rows = [{"balance": b} for b in balances] + [{"balance": b} for _, b in kept]
    first_kept = len(balances) + 1
    open_ = [
        {
            "placement_id": i,
            "claim_id": first_kept + i,
            "agency_id": a,
            "queue": "agency",
            "placed_on": AS_OF,
            "balance": b,
        }
        for i, (a, b) in enumerate(kept)
    ]
    allocation = decide(book(rows, agencies_frame=frame, open_placements=open_), strategy(tmp, POOL), AS_OF)
    # capacity counts what the agencies already hold: new placements only fill what is left of it
    # (a kept placement recalled today, e.g. paid off, frees its room)
    still = [p for p in open_ if p["placement_id"] not in set(allocation.recalls["placement_id"].to_list())]
    room = frame.join(
        pl.DataFrame(still, schema={"agency_id": pl.String, "balance": pl.Int64})
        .group_by("agency_id")
        .agg(cases=pl.len(), volume=pl.col("balance").sum()),
        on="agency_id",
        how="left",
    ).with_columns(pl.col("cases", "volume").fill_null(0))
    new = placed_per_agency(allocation).join(room, on="agency_id")
    for row in new.iter_rows(named=True):
        if row["capacity"] is not None:
            assert row["cases"] <= max(row["capacity"] - row["cases_right"], 0), row
        if row["capacity_balance"] is not None:
            assert row["volume"] <= max(row["capacity_balance"] - row["volume_right"], 0), row
    left = allocation.decisions.filter(pl.col("action") == "leave")
    assert set(left["reason"].to_list()) <= {"pool full"}


def test_more_claims_than_capacity_leaves_the_rest_by_priority(tmp_path):
    frame = agencies(
        {"agency_id": "A", "capacity": 2}, {"agency_id": "B", "capacity": 1}, {"agency_id": "C", "capacity": 0}
    )
    rows = [{"balance": b} for b in (100_000, 900_000, 500_000, 700_000, 300_000)]
    allocation = decided(tmp_path, rows, POOL, agencies_frame=frame)
    placed = allocation.decisions.filter(pl.col("action") == "place")
    assert sorted(placed["claim_id"].to_list()) == [2, 3, 4]  # the three with the largest expected recovery
    assert_within_capacity(allocation, frame)


def test_weights_split_the_pool(tmp_path):
    allocation = decided(
        tmp_path,
        [{} for _ in range(400)],
        POOL,
        agencies_frame=agencies({"agency_id": "A"}, {"agency_id": "B"}, {"agency_id": "C"}),
    )
    counts = dict(allocation.placements.group_by("agency_id").len().iter_rows())
    assert counts == {"A": 100, "B": 100, "C": 200}


def test_an_agency_takes_only_its_regions_kinds_and_balance_band(tmp_path):
    frame = agencies(
        {"agency_id": "A", "regions": ["0", "1"]},
        {"agency_id": "B", "debtor_kinds": ["business"]},
        {"agency_id": "C", "balance_min": 100_000, "balance_max": 200_000},
    )
    rows = [
        {"postal_code": "02-100", "balance": 50_000},  # only A
        {"postal_code": "52-100", "debtor_kind": "business", "balance": 50_000},  # only B
        {"postal_code": "52-100", "balance": 150_000},  # only C
        {"postal_code": None, "balance": 500_000},  # nobody
    ]
    out = decided(tmp_path, rows, POOL, agencies_frame=frame).decisions
    assert out["agency_id"].to_list() == ["A", "B", "C", None]
    assert out["reason"].to_list()[3] == "pool full"


def test_a_deactivated_agency_gets_nothing_and_its_cases_are_recalled(tmp_path):
    frame = agencies({"agency_id": "A", "active": False}, {"agency_id": "B"}, {"agency_id": "C"})
    open_ = [
        {
            "placement_id": 1,
            "claim_id": 1,
            "agency_id": "A",
            "queue": "agency",
            "placed_on": AS_OF - timedelta(days=5),
            "balance": 500_000,
        }
    ]
    allocation = decided(tmp_path, [{}, {}, {}], POOL, agencies_frame=frame, open_placements=open_)
    assert allocation.recalls["recall_reason"].to_list() == ["agency_inactive"]
    assert "A" not in allocation.placements["agency_id"].to_list()
    assert allocation.placements.height == 3  # claim 1 is free again, and placed elsewhere


def test_no_replacement_with_the_same_agency_within_the_period(tmp_path):
    frame = agencies({"agency_id": "A"}, {"agency_id": "B", "capacity": 0}, {"agency_id": "C", "capacity": 0})
    recalled = [{"claim_id": 1, "agency_id": "A", "recalled_on": AS_OF - timedelta(days=30)}]
    out = decided(tmp_path, [{}, {}], POOL, agencies_frame=frame, recalled=recalled).decisions
    assert out["agency_id"].to_list() == [None, "A"]
    assert out["reason"].to_list()[0] == "pool full"


def _placed(days_ago: int, claim_id: int = 1, agency: str = "A", queue: str = "agency") -> dict:
    return {
        "placement_id": claim_id,
        "claim_id": claim_id,
        "agency_id": agency,
        "queue": queue,
        "placed_on": AS_OF - timedelta(days=days_ago),
        "balance": 500_000,
    }


def test_recall_after_n_days_without_payment_not_before(tmp_path):
    """recall_after_days: 60. Claim 1 was placed 60 days ago, nothing paid: recalled; claim 2 59 days
    ago: kept; claim 3 placed 100 days ago but paid 10 days ago: kept; a court case is never recalled so."""
    rows = [{}, {}, {}, {}]
    payments = [{"claim_id": 3, "event_date": AS_OF - timedelta(days=10), "amount": 1_000, "source": "A"}]
    from tests.allocation.helpers import inputs

    open_ = [_placed(60, 1), _placed(59, 2), _placed(100, 3), _placed(400, 4, agency=None, queue="court")]
    allocation = decide(
        book(
            inputs(rows, payments),
            agencies_frame=agencies({"agency_id": "A"}, {"agency_id": "B"}, {"agency_id": "C"}),
            open_placements=open_,
        ),
        strategy(tmp_path, POOL),
        AS_OF,
    )
    assert allocation.recalls.select("claim_id", "recall_reason").to_dicts() == [
        {"claim_id": 1, "recall_reason": "no_payment"}
    ]
    decisions = dict(allocation.decisions.select("claim_id", "action").iter_rows())
    assert decisions == {1: "place", 2: "keep", 3: "keep", 4: "keep"}
    assert allocation.placements.filter(pl.col("claim_id") == 1)["agency_id"].to_list() != ["A"]  # not back to A


def test_recall_at_the_end_of_the_agencys_term(tmp_path):
    frame = agencies({"agency_id": "A", "term_days": 30}, {"agency_id": "B"}, {"agency_id": "C"})
    payments = [{"claim_id": c, "event_date": AS_OF - timedelta(days=1), "amount": 100, "source": "A"} for c in (1, 2)]
    from tests.allocation.helpers import inputs

    allocation = decide(
        book(inputs([{}, {}], payments), agencies_frame=frame, open_placements=[_placed(30, 1), _placed(29, 2)]),
        strategy(tmp_path, POOL),
        AS_OF,
    )
    assert allocation.recalls.select("claim_id", "recall_reason").to_dicts() == [
        {"claim_id": 1, "recall_reason": "end_of_term"}
    ]


def test_a_paid_off_claim_is_recalled(tmp_path):
    allocation = decided(
        tmp_path,
        [{"balance": 0}],
        POOL,
        open_placements=[_placed(5, 1)],
        agencies_frame=agencies({"agency_id": "A"}, {"agency_id": "B"}, {"agency_id": "C"}),
    )
    assert allocation.recalls["recall_reason"].to_list() == ["paid"]


def test_by_performance_follows_the_measured_recovery(tmp_path):
    text = POOL.replace("main: {agencies: {A: 1, B: 1, C: 2}}", "main: {agencies: {A: 1, B: 1, C: 1}, by: performance}")
    frame = agencies({"agency_id": "A"}, {"agency_id": "B"}, {"agency_id": "C"})
    out = decided(
        tmp_path, [{} for _ in range(600)], text, agencies_frame=frame, performance={"A": 0.30, "B": 0.10, "C": 0.20}
    )
    counts = dict(out.placements.group_by("agency_id").len().iter_rows())
    assert counts == {"A": 300, "B": 100, "C": 200}
    assert date(2026, 3, 1) == AS_OF
