"""The shipped example (allocation/examples/) and the demo book hold what exercises every rule:
debtors with each flag, without a PESEL/NIP or with a wrong one, claims due more than 3 years
ago, and more claims than the agencies' capacity."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from stdnum.pl import nip, pesel

from allocation.agencies import load_agencies
from allocation.decide import decide
from allocation.strategy import load_strategy
from engine.domain import LEGAL_QUEUES, ActionKind, DebtorFlag
from synthetic.book import generate_debtors, generate_portfolio
from tests.allocation.helpers import agencies, book, inputs

EXAMPLES = Path(__file__).resolve().parents[2] / "allocation" / "examples"


def test_the_example_strategy_and_agencies_load_cleanly():
    strategy = load_strategy(EXAMPLES / "strategy.yaml")
    assert strategy.warnings == () and strategy.challenger is not None
    used = {a for s in (strategy, strategy.challenger) for pool in s.pools.values() for a in pool.agencies}
    assert used == {a.agency_id for a in load_agencies(EXAMPLES / "agencies.yaml")}
    assert {r.action for r in strategy.rules} == {
        ActionKind.PLACE,
        ActionKind.LEGAL,
        ActionKind.REMINDER,
        ActionKind.HOLD,
        ActionKind.LEAVE,
    }
    assert {r.queue for r in strategy.rules if r.queue} == set(LEGAL_QUEUES)


def test_the_demo_book_holds_every_case_the_rules_need():
    claims, _ = generate_portfolio(20_000, 42)
    debtors = generate_debtors(claims, 42)
    assert debtors["debtor_id"].is_unique().all() and set(debtors["debtor_id"]) == set(claims["debtor_id"])
    assert debtors.equals(generate_debtors(claims, 42))  # seeded
    flags = set(debtors["flags"].explode().drop_nulls())
    assert flags == {f.value for f in DebtorFlag}
    given = debtors.filter(pl.col("national_id").is_not_null())
    valid = [
        pesel.is_valid(n) if k == "consumer" else nip.is_valid(n)
        for n, k in zip(given["national_id"], given["debtor_kind"], strict=True)
    ]
    assert 0.95 < sum(valid) / len(valid) < 0.99  # ~2 % with a wrong check digit
    assert 0.03 < debtors["national_id"].null_count() / debtors.height < 0.09
    assert debtors["postal_code"].drop_nulls().str.contains(r"^\d\d-\d\d\d$").all()
    old = claims.filter(pl.col("due_date") < date(2023, 11, 30))
    assert old.filter(pl.col("debtor_kind") == "consumer").height > 1_000  # due > 3 years, consumers (time-barred too)


def test_the_example_agencies_take_fewer_claims_than_the_demo_book_offers(tmp_path):
    specs = load_agencies(EXAMPLES / "agencies.yaml")
    frame = agencies(
        *[
            {
                "agency_id": a.agency_id,
                **{
                    k: v
                    for k, v in a.row().items()
                    if k
                    in (
                        "capacity",
                        "capacity_balance",
                        "regions",
                        "debtor_kinds",
                        "balance_min",
                        "balance_max",
                        "term_days",
                        "active",
                    )
                },
            }
            for a in specs
        ]
    )
    rows = [
        {
            "balance": 1_000_00 + i,
            "days_past_due": 2_000,
            "postal_code": f"{i % 100:02d}-000",
            "limitation_date": date(2030, 1, 1),
        }
        for i in range(30_000)
    ]
    allocation = decide(
        book(inputs(rows), agencies_frame=frame), load_strategy(EXAMPLES / "strategy.yaml"), date(2026, 3, 1)
    )
    left = allocation.decisions.filter(pl.col("reason") == "pool full")
    assert left.height > 0
    assert sum(a.capacity for a in specs) < 30_000
