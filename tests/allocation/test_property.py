"""Every claim gets exactly one decision, whatever the book and the open placements: one row per
claim, an action of the registry, a placement for exactly the claims whose action places them,
and never a placement beside a kept one."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.decide import decide
from engine.domain import ActionKind, DebtorFlag
from tests.allocation.helpers import AS_OF, PESEL, agencies, book, inputs, strategy

SEGMENTS = """
segments:
  - name: window
    when: {limitation: [window]}
  - name: barred
    when: {limitation: [time_barred]}
  - name: small
    when: {balance: [0, 1000]}
"""
STRATEGY = """
name: everything
segments: segments.yaml
settings: {legal_margin: 0, score_without_history: 0.6, recall_after_days: 30}
pools:
  main: {agencies: {A: 2, B: 1}}
rules:
  - {name: hold-complaints, when: {region: ["99"]}, action: hold, reason: complaint}
  - {name: window-epu, segment: window, action: legal, queue: epu, daily_limit: 3}
  - {name: barred-voluntary, segment: barred, action: place, pool: main}
  - {name: payers, when: {paid_within_days: {days: 30}}, action: reminder}
  - {name: small, segment: small, action: place, pool: main}
  - {name: titled, when: {title: true}, action: legal, queue: enforcement}
"""

claim_rows = st.fixed_dictionaries(
    {
        "balance": st.integers(0, 5_000_000),
        "days_past_due": st.integers(0, 6_000),
        "limitation_date": st.none() | st.dates(date(2024, 1, 1), date(2032, 1, 1)),
        "due_date": st.dates(date(2015, 1, 1), date(2026, 2, 1)),
        "debtor_kind": st.sampled_from(["consumer", "business"]),
        "national_id": st.sampled_from([None, PESEL, "1234563218", "123"]),
        "postal_code": st.sampled_from([None, "00-001", "52-100", "99-999"]),
        "flags": st.lists(st.sampled_from([f.value for f in DebtorFlag]), max_size=2, unique=True),
        "title_date": st.none() | st.dates(date(2020, 1, 1), date(2026, 6, 1)),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(claim_rows, min_size=1, max_size=40),
    paid=st.lists(st.tuples(st.integers(0, 39), st.integers(1, 120)), max_size=20),
    opened=st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["A", "B", None]), st.integers(0, 200)), max_size=15),
    caps=st.tuples(st.none() | st.integers(0, 5), st.none() | st.integers(0, 5_000_000)),
)
def test_every_claim_gets_exactly_one_decision(tmp_path_factory, rows, paid, opened, caps):
    chosen = strategy(tmp_path_factory.mktemp("p"), STRATEGY, SEGMENTS)
    n = len(rows)
    payments = [
        {"claim_id": c % n + 1, "event_date": AS_OF - timedelta(days=d), "amount": 100, "source": "A"} for c, d in paid
    ]
    open_ = {}
    for c, agency, days in opened:
        claim_id = c % n + 1
        open_.setdefault(
            claim_id,
            {
                "placement_id": len(open_) + 1,
                "claim_id": claim_id,
                "agency_id": agency,
                "queue": "agency" if agency else "court",
                "placed_on": AS_OF - timedelta(days=days),
                "balance": 1_000,
            },
        )
    frame = agencies({"agency_id": "A", "capacity": caps[0], "capacity_balance": caps[1]}, {"agency_id": "B"})
    allocation = decide(
        book(inputs(rows, payments), agencies_frame=frame, open_placements=list(open_.values())), chosen, AS_OF
    )
    d = allocation.decisions
    assert d["claim_id"].to_list() == list(range(1, n + 1))  # one row per claim, no more, no less
    assert set(d["action"]) <= {a.value for a in ActionKind}
    assert d["rule"].null_count() == 0 and d["action"].null_count() == 0
    placing = d.filter(pl.col("action").is_in([a.value for a in ActionKind if a.places]))
    assert sorted(allocation.placements["claim_id"].to_list()) == sorted(placing["claim_id"].to_list())
    assert allocation.placements["claim_id"].is_unique().all()
    # a claim keeps its open placement or gets a new one once that placement is recalled, never both
    recalled = set(allocation.recalls["claim_id"].to_list())
    still_open = set(open_) - recalled
    assert not still_open & set(allocation.placements["claim_id"].to_list())
    assert set(d.filter(pl.col("action") == "keep")["claim_id"]) == still_open - set(
        d.filter(pl.col("action") == "hold")["claim_id"]
    )
    # holds win; time-barred consumer claims are never in a legal queue
    flagged = [i + 1 for i, r in enumerate(rows) if r["flags"]]
    assert set(d.filter(pl.col("claim_id").is_in(flagged))["action"]) <= {"hold"}
    barred = [
        i + 1
        for i, r in enumerate(rows)
        if r["debtor_kind"] == "consumer" and r["limitation_date"] and r["limitation_date"] < AS_OF
    ]
    new_legal = d.filter(pl.col("claim_id").is_in(barred) & (pl.col("action") == "legal"))
    assert new_legal.height == 0
    assert d.filter(pl.col("action") == "legal")["queue"].is_in(["epu", "court", "enforcement"]).all()
