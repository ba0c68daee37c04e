"""Strategies see payment plans: a rule selects claims by ``plan_status`` (none, active, kept, broken,
cancelled), e.g. a broken plan goes to court while an active one is left to be paid."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import get_args

import polars as pl
import pytest
from pydantic import ValidationError

from allocation.decide import decide
from allocation.features import PLAN_STATUS_SCHEMA
from allocation.predicates import PlanStatusName, Predicates
from allocation.store import plan_statuses
from engine.domain import PlanStatus
from tests.allocation.helpers import book, inputs, strategy

PLANS = """
name: plans
segments: segments.yaml
settings: {legal_margin: 0, score_without_history: 1}
pools:
  amicable: {agencies: {A: 1}}
rules:
  - {name: sue-broken-plans, when: {plan_status: [broken]}, action: legal, queue: court}
  - {name: let-plans-run, when: {plan_status: [active, kept]}, action: hold, reason: settlement}
  - {name: the-rest, action: place, pool: amicable}
"""


def test_the_predicate_spells_every_plan_status():
    assert get_args(PlanStatusName) == ("none", *(s.value for s in PlanStatus))
    with pytest.raises(ValidationError):
        Predicates(plan_status=["late"])


def test_a_rule_selects_claims_by_their_plan_status(tmp_path):
    given = inputs([{}, {}, {}, {}])
    plans = pl.DataFrame(
        {"claim_id": [1, 2, 3], "plan_status": ["broken", "active", "cancelled"]}, schema=PLAN_STATUS_SCHEMA
    )
    out = decide(book(replace(given, plans=plans)), strategy(tmp_path, PLANS), given.as_of).decisions
    by_claim = {r["claim_id"]: (r["action"], r["rule"]) for r in out.iter_rows(named=True)}
    assert by_claim == {
        1: ("legal", "sue-broken-plans"),
        2: ("hold", "let-plans-run"),
        3: ("place", "the-rest"),
        4: ("place", "the-rest"),  # never had a plan: "none"
    }


def test_a_claims_plan_status_is_its_active_plans_else_its_latest():
    stored = pl.DataFrame(
        {
            "claim_id": [1, 1, 2, 2, 3],
            "plan_id": [1, 5, 2, 3, 4],
            "signed_on": [date(2026, 1, 1), date(2025, 1, 1), date(2025, 1, 1), date(2026, 1, 1), date(2026, 2, 1)],
            "status": ["active", "broken", "broken", "cancelled", "kept"],
        }
    )
    found = dict(plan_statuses(stored).iter_rows())
    assert found == {1: "active", 2: "cancelled", 3: "kept"}
