"""Holds no rule overrides: flagged debtors are held; a time-barred consumer claim never goes to
a legal queue (art. 117 § 2¹ KC), only to voluntary collection."""

from __future__ import annotations

from datetime import date

import pytest

from engine.domain import HOLDING_FLAGS
from tests.allocation.helpers import AS_OF, decided, strategy

SUE_EVERYTHING = """
name: sue
segments: segments.yaml
settings: {legal_margin: 0, score_without_history: 1}
pools:
  voluntary: {agencies: {A: 1}}
rules:
  - {name: sue-all, action: legal, queue: court}
  - {name: voluntary, action: place, pool: voluntary}
"""


@pytest.mark.parametrize("flag", [f.value for f in HOLDING_FLAGS])
def test_a_flagged_debtor_is_held_whatever_the_rule(tmp_path, flag):
    out = decided(tmp_path, [{"flags": [flag]}, {}], SUE_EVERYTHING).decisions
    held, other = out.row(0, named=True), out.row(1, named=True)
    assert (held["action"], held["reason"], held["queue"], held["agency_id"]) == ("hold", flag, None, None)
    assert other["action"] == "legal"


def test_a_rule_aimed_at_flagged_debtors_loads_with_a_warning_and_the_hold_wins(tmp_path):
    text = SUE_EVERYTHING.replace(
        "- {name: sue-all, action: legal, queue: court}",
        "- {name: sue-the-dead, when: {flags: [deceased]}, action: legal, queue: court}",
    )
    chosen = strategy(tmp_path, text)
    assert any("deceased" in w and "the hold wins" in w for w in chosen.warnings)
    out = decided(tmp_path, [{"flags": ["deceased"]}], text).decisions.row(0, named=True)
    assert out["action"] == "hold" and out["reason"] == "deceased"


def test_a_time_barred_consumer_claim_is_never_sued_only_placed(tmp_path):
    rows = [
        {"limitation_date": date(2025, 12, 31), "debtor_kind": "consumer"},
        {"limitation_date": date(2025, 12, 31), "debtor_kind": "business", "national_id": "1234563218"},
        {"limitation_date": date(2028, 12, 31), "debtor_kind": "consumer"},
    ]
    out = decided(tmp_path, rows, SUE_EVERYTHING).decisions
    assert out["action"].to_list() == ["place", "legal", "legal"]
    assert out["rule"].to_list() == ["voluntary", "sue-all", "sue-all"]


def test_a_legal_rule_explicitly_for_time_barred_claims_warns(tmp_path):
    text = SUE_EVERYTHING.replace(
        "{name: sue-all, action: legal, queue: court}",
        "{name: sue-barred, when: {limitation: [time_barred]}, action: legal, queue: court}",
    )
    assert any("117" in w for w in strategy(tmp_path, text).warnings)


def test_an_open_placement_is_recalled_when_a_hold_appears(tmp_path):
    open_ = [
        {
            "placement_id": 7,
            "claim_id": 1,
            "agency_id": "A",
            "queue": "agency",
            "placed_on": date(2026, 2, 1),
            "balance": 500_000,
        }
    ]
    allocation = decided(tmp_path, [{"flags": ["bankrupt"]}, {}], SUE_EVERYTHING, open_placements=open_)
    assert allocation.recalls.to_dicts() == [
        {"placement_id": 7, "claim_id": 1, "agency_id": "A", "queue": "agency", "recall_reason": "hold:bankrupt"}
    ]
    assert allocation.decisions.row(0, named=True)["action"] == "hold"
    assert AS_OF not in allocation.placements.filter(allocation.placements["claim_id"] == 1)["placed_on"].to_list()
