"""Legal queues: EPU only for claims due within 3 years before filing (art. 505²⁹ᵃ KPC) and
debtors with a valid PESEL/NIP, else court; costs from the dated fee tables; limitation-window
claims first, by limitation date."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.fees import legal_costs
from tests.allocation.helpers import AS_OF, decided

EPU_ALL = """
name: epu
segments: segments.yaml
settings: {legal_margin: 0, limitation_window_days: 180, score_without_history: 1}
rules:
  - {name: epu, action: legal, queue: epu}
"""


@pytest.mark.parametrize(
    ("due", "national_id", "queue"),
    [
        (date(2023, 3, 1), "44051401359", "epu"),  # due exactly 3 years before the filing day
        (date(2023, 2, 28), "44051401359", "court"),  # a day more
        (date(2025, 6, 1), None, "court"),  # no PESEL
        (date(2025, 6, 1), "44051401358", "court"),  # a PESEL whose check digit is wrong
        (date(2025, 6, 1), "44051401359", "epu"),
    ],
)
def test_epu_takes_claims_due_within_three_years_of_debtors_with_a_valid_pesel(tmp_path, due, national_id, queue):
    out = decided(tmp_path, [{"due_date": due, "national_id": national_id}], EPU_ALL).decisions.row(0, named=True)
    assert (out["action"], out["queue"]) == ("legal", queue)


def test_a_business_needs_a_valid_nip(tmp_path):
    rows = [
        {"debtor_kind": "business", "national_id": "1234563218", "due_date": date(2025, 1, 1)},
        {"debtor_kind": "business", "national_id": "44051401359", "due_date": date(2025, 1, 1)},
    ]
    assert decided(tmp_path, rows, EPU_ALL).decisions["queue"].to_list() == ["epu", "court"]


# (principal zł, court fee zł, EPU fee zł, ordinary lawyer zł, EPU lawyer zł): UKSC art. 13 and 19, the 2015 regulation
FEES = [
    (100, 30, 30, 90, 60),
    (500, 30, 30, 90, 60),
    (500.01, 100, 30, 270, 180),
    (7_500, 400, 100, 1_800, 1_200),
    (20_000, 1_000, 250, 3_600, 2_400),
    (30_000, 1_500, 375, 3_600, 2_400),  # 5 %
    (10_000_000, 100_000, 25_000, 25_000, 7_200),  # capped (2025-09-23: 100 000 zł)
]


@pytest.mark.parametrize(("wps", "court", "epu", "ordinary", "simplified"), FEES)
def test_fees_as_the_tables_say(wps, court, epu, ordinary, simplified):
    costs = legal_costs(date(2026, 3, 1))
    grosz = np.array([round(wps * 100)])
    assert costs.court_fee(grosz)[0] == court * 100
    assert costs.epu_fee(grosz)[0] == epu * 100
    assert costs.lawyer_fee(grosz, np.array([False]))[0] == ordinary * 100
    assert costs.lawyer_fee(grosz, np.array([True]))[0] == simplified * 100
    assert costs.duty == 1700


def test_a_claim_not_worth_suing_goes_to_the_next_rule(tmp_path):
    text = """
    name: margin
    segments: segments.yaml
    settings: {legal_margin: 0.5, score_without_history: 0.5}
    rules:
      - {name: court, action: legal, queue: court}
      - {name: remind, action: reminder}
    """
    # a 100 zł claim costs 30 + 90 + 17 zł in court: at any score it is not worth it
    rows = [{"balance": 10_000, "principal": 10_000}, {"balance": 100_000_00, "principal": 100_000_00}]
    out = decided(tmp_path, rows, text)  # no history: the score is settings.score_without_history
    assert out.decisions["rule"].to_list() == ["remind", "court"]


def test_limitation_window_claims_come_first_by_limitation_date(tmp_path):
    text = EPU_ALL.replace("queue: epu}", "queue: court, daily_limit: 3}")
    rows = [
        {"limitation_date": date(2030, 1, 1), "balance": 9_000_000},  # open, the largest
        {"limitation_date": date(2026, 8, 1)},  # in the 180-day window, later
        {"limitation_date": date(2026, 4, 1)},  # in the window, first
        {"limitation_date": date(2031, 1, 1), "balance": 2_000_000},
        {"limitation_date": date(2026, 6, 1)},
    ]
    out = decided(tmp_path, rows, text).decisions.sort("priority", nulls_last=True)
    assert out["claim_id"].to_list()[:3] == [3, 5, 2]
    assert out.filter(out["action"] == "leave")["reason"].to_list() == ["queue full", "queue full"]
    assert sorted(out.filter(out["action"] == "leave")["claim_id"].to_list()) == [1, 4]


def test_the_filing_day_of_enforcement_needs_a_title(tmp_path):
    text = EPU_ALL.replace("queue: epu}", "queue: enforcement}")
    rows = [{"title_date": date(2024, 1, 1)}, {"title_date": None}, {"title_date": date(2026, 5, 1)}]
    out = decided(tmp_path, rows, text).decisions
    assert out["action"].to_list() == ["legal", "leave", "leave"]
    assert date(2026, 5, 1) > AS_OF


@settings(max_examples=200, deadline=None)
@given(
    wps=st.lists(
        st.one_of(st.integers(0, 10**12), st.sampled_from([0, 1, 500_000, 500_001, 75_000_000, 2_000_000_000])),
        min_size=1,
        max_size=60,
    ),
    epu=st.lists(st.booleans(), min_size=60, max_size=60),
    day=st.sampled_from([date(2020, 1, 1), date(2024, 6, 30), AS_OF]),
)
def test_the_compiled_costs_are_the_array_reference(wps, epu, day):
    """LegalCosts.costs (one compiled pass) against costs_reference (numpy, array at a time), at
    every band's edges and across the tables' versions."""
    costs = legal_costs(day)
    values = np.array(wps, dtype=np.int64)
    in_epu = np.array(epu[: len(wps)], dtype=bool)
    by_epu, in_court = costs.costs(pl.Series(values), pl.Series(in_epu))
    expected_epu, expected_court = costs.costs_reference(values, in_epu)
    assert by_epu.to_list() == expected_epu.tolist()
    assert in_court.to_list() == expected_court.tolist()
