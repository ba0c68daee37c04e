"""Worked examples a lawyer can check, asserted against the reference oracle.

Sources: docs/law.md §3 (interest), §4.4 (limitation) and §8 (holidays), and the examples of
docs/engine.md. docs/engine.md is the binding definition: where the practitioners' sources quoted in
docs/law.md count a day differently, the comment says how and why the result is the same.

Money is in grosz (100 grosz = 1 zł); rates in basis points (1125 = 11.25 %).
"""

from __future__ import annotations

from datetime import date

import pytest

from engine.rules import load_rules
from tests.reference.engine_reference import (
    reference_claim_state,
    reference_interest_pieces,
    reference_limitation_date,
)


def polish_holidays(year: int) -> set[date]:
    """The engine's holiday calendar (still read for payment deadlines, letters and business days;
    no longer by limitation)."""
    return {d for d, _ in load_rules().holidays.holidays(year)}


D = date.fromisoformat


def claim(**overrides) -> dict:
    """A claim with plain defaults: 1 000.00 zł principal, nothing else owed, no interest."""
    row = {
        "claim_id": 1,
        "portfolio_id": "P1",
        "seller_ref": "ACC-0001",
        "debtor_id": 1,
        "debtor_kind": "consumer",
        "principal": 100_000,
        "interest_at_cutoff": 0,
        "costs_at_cutoff": 0,
        "due_date": D("2020-01-01"),
        "cutoff_date": D("2020-01-01"),
        "interest_basis": "none",
        "contractual_rate_bp": None,
        "limitation_kind": "general",
        "limitation_years": None,
        "title_date": None,
        "purchase_date": D("2024-01-01"),
        "purchase_price": 10_000,
    }
    for key, value in overrides.items():
        row[key] = D(value) if isinstance(value, str) and key.endswith("_date") else value
    return row


def event(
    event_id: int, day: str, kind: str, amount: int | None = None, reverses: int | None = None, claim_id: int = 1
) -> dict:
    return {
        "event_id": event_id,
        "claim_id": claim_id,
        "event_date": D(day),
        "kind": kind,
        "amount": amount,
        "reverses": reverses,
        "source": "direct",
    }


def state(c: dict, events: list[dict], as_of: str, **kw) -> dict:
    (row,) = reference_claim_state([c], events, D(as_of), **kw)
    return row


# =============================================================================================
# docs/law.md §3: statutory late interest, 1 000.00 zł, deadline 2025-04-30, paid 2026-03-31
# =============================================================================================

LAW_3_SEGMENTS = [
    # first day,   last day,     days, rate bp, interest grosz
    ("2025-05-01", "2025-05-07", 7, 1125, 216),
    ("2025-05-08", "2025-07-02", 56, 1075, 1649),
    ("2025-07-03", "2025-09-03", 63, 1050, 1812),
    ("2025-09-04", "2025-10-08", 35, 1025, 983),
    ("2025-10-09", "2025-11-05", 28, 1000, 767),
    ("2025-11-06", "2025-12-03", 28, 975, 748),
    ("2025-12-04", "2026-03-04", 91, 950, 2368),
    ("2026-03-05", "2026-03-31", 27, 925, 684),
]


def test_law_3_interest_segments_row_by_row():
    pieces = reference_interest_pieces(100_000, D("2025-05-01"), D("2026-03-31"), "statutory_late")
    expected = [(D(a), D(b), n, bp, i) for a, b, n, bp, i in LAW_3_SEGMENTS]
    assert pieces == expected
    assert sum(p[2] for p in pieces) == 335
    assert sum(p[4] for p in pieces) == 9227  # 92.27 zł, rounded per segment (docs/engine.md)


def test_law_3_total_rounding_would_give_one_grosz_more():
    # docs/law.md §3: 92.28 zł if only the total were rounded; docs/engine.md §2 rounds each piece (92.27 zł).
    exact_times_365_0000 = sum(100_000 * bp * n for _, _, n, bp, _ in LAW_3_SEGMENTS)
    assert (2 * exact_times_365_0000 + 3_650_000) // 7_300_000 == 9228


def test_law_3_as_a_claim_paid_in_full_on_2026_03_31():
    # Deadline day excluded (accrual starts the day after due_date), payment day included.
    c = claim(due_date="2025-04-30", cutoff_date="2025-04-30", interest_basis="statutory_late")
    row = state(c, [event(1, "2026-03-31", "payment", 109_227)], "2026-03-31")
    assert row["interest_accrued"] == 9227
    assert (row["paid_costs"], row["paid_interest"], row["paid_principal"]) == (0, 9227, 100_000)
    assert (row["principal_due"], row["interest_due"], row["costs_due"], row["total_due"]) == (0, 0, 0, 0)
    assert row["overpaid"] == 0
    assert row["last_payment_date"] == D("2026-03-31")
    assert row["days_past_due"] == 335


def test_law_3_unpaid_claim_keeps_accruing_segment_by_segment():
    c = claim(due_date="2025-04-30", cutoff_date="2025-04-30", interest_basis="statutory_late")
    row = state(c, [], "2026-03-31")
    assert row["interest_due"] == row["interest_accrued"] == 9227
    assert row["total_due"] == 109_227


def test_accrual_starts_after_cutoff_when_cutoff_is_later():
    # The seller's interest_at_cutoff already covers the days up to cut-off (docs/engine.md §2).
    c = claim(
        due_date="2025-04-30", cutoff_date="2025-07-02", interest_basis="statutory_late", interest_at_cutoff=1_865
    )
    row = state(c, [], "2026-03-31")
    assert row["interest_accrued"] == 1812 + 983 + 767 + 748 + 2368 + 684
    assert row["interest_due"] == 1_865 + row["interest_accrued"]


def test_contractual_rate_is_capped_at_maximum_interest_each_day():
    # 30 % a year agreed; maximum interest 2025-12-04 .. 2026-03-04 is 19.00 %, then 18.50 %.
    pieces = reference_interest_pieces(100_000, D("2026-03-01"), D("2026-03-10"), "contractual", 3000)
    assert pieces == [
        (D("2026-03-01"), D("2026-03-04"), 4, 1900, 208),
        (D("2026-03-05"), D("2026-03-10"), 6, 1850, 304),
    ]
    # before 2006-02-20 there was no cap
    assert reference_interest_pieces(100_000, D("2006-02-18"), D("2006-02-21"), "contractual", 3000) == [
        (D("2006-02-18"), D("2006-02-19"), 2, 3000, 164),
        (D("2006-02-20"), D("2006-02-21"), 2, 2300, 126),
    ]


# =============================================================================================
# docs/law.md §4.4: the limitation worked examples, computed by docs/engine.md §3
# =============================================================================================


@pytest.mark.parametrize(
    ("facts", "events", "as_of", "expected"),
    [
        pytest.param(
            # The practitioners count from 2021-03-16, the day after the deadline (docs/law.md §4.4 notes);
            # docs/engine.md §3 starts the run on due_date as the seller states it (2021-03-15).
            # 3 years -> 2024-03-15 -> end of year 2024-12-31 (Tuesday). Same result.
            dict(due_date="2021-03-15", limitation_kind="business"),
            [],
            "2024-06-01",
            D("2024-12-31"),
            id="4.4#1 consumer loan instalment, 3 y to year end",
        ),
        pytest.param(
            # The practitioners count the old 3 years to 2018-08-21 (docs/law.md §4.4 notes); docs/engine.md §3
            # from due_date gives 2018-08-20. Either way not ended before 2018-07-09, same length under
            # the new law -> new-law end from the start: 2018-12-31 (Monday).
            dict(due_date="2015-08-20", limitation_kind="business"),
            [],
            "2018-07-09",
            D("2018-12-31"),
            id="4.4#2 telecom invoice 2015, transitional, year end",
        ),
        pytest.param(
            # old 10 y: 2022-05-10; new 6 y from 2018-07-09 -> 2024-12-31; earlier wins.
            dict(due_date="2012-05-10", limitation_kind="general"),
            [],
            "2020-01-01",
            D("2022-05-10"),
            id="4.4#3 private loan due 2012, old 10 y end is earlier",
        ),
        pytest.param(
            # old 10 y: 2026-05-10; new 6 y from 2018-07-09 -> 2024-12-31; earlier wins.
            dict(due_date="2016-05-10", limitation_kind="general"),
            [],
            "2020-01-01",
            D("2024-12-31"),
            id="4.4#4 private loan due 2016, new 6 y end is earlier",
        ),
        pytest.param(
            # Title (EPU order) final 2016-03-01: old 10 y 2026-03-01; new 6 y from 2018-07-09 ->
            # 2024-07-09 -> year end 2024-12-31 (SN 2025-10-23; docs/engine.md §3 applies the year end to
            # title runs too, so the cautious answer from before that resolution, 2024-07-09, is not used).
            dict(due_date="2015-06-01", title_date="2016-03-01", limitation_kind="general"),
            [],
            "2020-01-01",
            D("2024-12-31"),
            id="4.4#5 EPU order final 2016, no enforcement",
        ),
        pytest.param(
            # Debtor asks for instalments 2023-06-01 (acknowledgment): new 3 y run -> 2026-06-01 ->
            # year end 2026-12-31 (Thursday).
            dict(due_date="2020-02-10", limitation_kind="business"),
            [event(1, "2023-06-01", "acknowledgment")],
            "2025-01-01",
            D("2026-12-31"),
            id="4.4#6 card debt, acknowledgment restarts 3 y",
        ),
        pytest.param(
            # Judgment claim; enforcement filed 2022-05-01, discontinued 2023-09-30: runs anew
            # from 2023-09-30 for 6 y (title) -> 2029-09-30 -> year end 2029-12-31 (Monday).
            dict(due_date="2019-01-15", title_date="2021-06-15", limitation_kind="business"),
            [event(1, "2022-05-01", "enforcement_filing"), event(2, "2023-09-30", "enforcement_end")],
            "2024-01-01",
            D("2029-12-31"),
            id="4.4#7 enforcement discontinued, 6 y anew",
        ),
        pytest.param(
            # B2B sale (art. 554 KC): 2 y -> 2025-06-11 -> year end 2025-12-31 (Wednesday).
            dict(due_date="2023-06-11", limitation_kind="sales", debtor_kind="business"),
            [],
            "2025-01-01",
            D("2025-12-31"),
            id="4.4#8 B2B sale invoice, 2 y to year end",
        ),
        pytest.param(
            # docs/engine.md §3's example: 3 y from 2019-05-10 ends 2022-12-31, a Saturday, and is not
            # moved (art. 115 KC does not apply to limitation, SN III CZP 21/23 of 2024-05-22).
            dict(due_date="2019-05-10", limitation_kind="periodic"),
            [],
            "2023-01-02",
            D("2022-12-31"),
            id="engine.md 3 y from 2019-05-10, Saturday year end not moved",
        ),
    ],
)
def test_limitation_worked_examples(facts, events, as_of, expected):
    c = claim(**facts)
    assert reference_limitation_date(c, events, D(as_of)) == expected
    row = state(c, events, as_of)
    assert row["limitation_date"] == expected
    assert row["time_barred"] is (D(as_of) > expected)


def test_law_4_4_6_without_the_acknowledgment_the_run_ends_on_sunday_31_december():
    # docs/law.md §4.4 #6: the card debt "would end 2023-12-31", a Sunday: not moved (III CZP 21/23).
    c = claim(due_date="2020-02-10", limitation_kind="business")
    assert reference_limitation_date(c, [], D("2023-05-31")) == D("2023-12-31")
    assert state(c, [], "2023-12-31")["time_barred"] is False
    assert state(c, [], "2024-01-01")["time_barred"] is True


def test_law_4_4_7_no_limitation_date_while_enforcement_is_pending():
    c = claim(due_date="2019-01-15", title_date="2021-06-15", limitation_kind="business")
    events = [event(1, "2022-05-01", "enforcement_filing"), event(2, "2023-09-30", "enforcement_end")]
    # Before the filing: title run from 2021-06-15, 6 y -> 2027-12-31 (Friday).
    assert reference_limitation_date(c, events, D("2022-04-30")) == D("2027-12-31")
    row = state(c, events, "2023-01-01")
    assert row["limitation_date"] is None
    assert row["time_barred"] is False


def test_law_4_4_3_is_time_barred_the_day_after():
    c = claim(due_date="2012-05-10", limitation_kind="general")
    assert state(c, [], "2022-05-10")["time_barred"] is False
    assert state(c, [], "2022-05-11")["time_barred"] is True


def test_acknowledgment_after_the_end_does_not_revive_a_time_barred_claim():
    c = claim(due_date="2019-05-10", limitation_kind="periodic")
    late = [event(1, "2023-01-01", "acknowledgment")]
    assert reference_limitation_date(c, late, D("2024-01-01")) == D("2022-12-31")
    on_last_day = [event(1, "2022-12-31", "acknowledgment")]  # still in time: runs anew
    assert reference_limitation_date(c, on_last_day, D("2024-01-01")) == D("2025-12-31")


def test_old_law_run_that_ended_before_the_reform_stays_ended():
    # 3-year periodic claim due 2015-03-02: old end 2018-03-02 (Friday), before 2018-07-09.
    c = claim(due_date="2015-03-02", limitation_kind="periodic")
    assert reference_limitation_date(c, [], D("2018-07-09")) == D("2018-03-02")


# =============================================================================================
# docs/law.md §8: public holidays of Poland
# =============================================================================================


def test_holidays_2018_include_the_one_off_12_november():
    assert polish_holidays(2018) == {
        D(d)
        for d in [
            "2018-01-01",
            "2018-01-06",
            "2018-04-01",
            "2018-04-02",
            "2018-05-01",
            "2018-05-03",
            "2018-05-20",
            "2018-05-31",
            "2018-08-15",
            "2018-11-01",
            "2018-11-11",
            "2018-11-12",
            "2018-12-25",
            "2018-12-26",
        ]
    }


def test_holidays_2024_have_no_christmas_eve():
    assert polish_holidays(2024) == {
        D(d)
        for d in [
            "2024-01-01",
            "2024-01-06",
            "2024-03-31",
            "2024-04-01",
            "2024-05-01",
            "2024-05-03",
            "2024-05-19",
            "2024-05-30",
            "2024-08-15",
            "2024-11-01",
            "2024-11-11",
            "2024-12-25",
            "2024-12-26",
        ]
    }


def test_holidays_2025_have_christmas_eve():
    assert polish_holidays(2025) == {
        D(d)
        for d in [
            "2025-01-01",
            "2025-01-06",
            "2025-04-20",
            "2025-04-21",
            "2025-05-01",
            "2025-05-03",
            "2025-06-08",
            "2025-06-19",
            "2025-08-15",
            "2025-11-01",
            "2025-11-11",
            "2025-12-24",
            "2025-12-25",
            "2025-12-26",
        ]
    }


def test_epiphany_only_from_2011_and_12_november_only_in_2018():
    assert D("2010-01-06") not in polish_holidays(2010)
    assert D("2011-01-06") in polish_holidays(2011)
    assert D("2019-11-12") not in polish_holidays(2019)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, "2000-04-23"),
        (2008, "2008-03-23"),
        (2011, "2011-04-24"),
        (2019, "2019-04-21"),
        (2038, "2038-04-25"),
    ],
)
def test_easter_sunday_and_monday_are_holidays(year, easter):
    assert {D(easter), date.fromordinal(D(easter).toordinal() + 1)} <= polish_holidays(year)


def test_a_limitation_end_on_christmas_eve_2025_is_not_moved():
    # A 1-year custom run (no year-end rule) ending on 24 December 2025, Wigilia, a holiday since
    # 2025, before Christmas and a weekend: it ends that day all the same (III CZP 21/23).
    c2025 = claim(due_date="2024-12-24", limitation_kind="custom", limitation_years=1)
    assert reference_limitation_date(c2025, [], D("2025-01-01")) == D("2025-12-24")


# =============================================================================================
# Payment allocation (docs/law.md §6; docs/engine.md §2)
# =============================================================================================


def test_payment_waterfall_costs_then_interest_then_principal():
    # 1 000.00 zł principal, 50.00 zł interest and 20.00 zł costs; the debtor pays 100.00 zł.
    c = claim(principal=100_000, interest_at_cutoff=5_000, costs_at_cutoff=2_000)
    row = state(c, [event(1, "2024-02-01", "payment", 10_000)], "2024-03-01")
    assert (row["paid_costs"], row["paid_interest"], row["paid_principal"]) == (2_000, 5_000, 3_000)
    assert (row["costs_due"], row["interest_due"], row["principal_due"]) == (0, 0, 97_000)
    assert row["total_due"] == 97_000
    assert row["overpaid"] == 0


def test_payment_waterfall_set_per_portfolio():
    c = claim(principal=100_000, interest_at_cutoff=5_000, costs_at_cutoff=2_000)
    pay = [event(1, "2024-02-01", "payment", 102_000)]
    row = state(c, pay, "2024-03-01", waterfall={"P1": ("principal", "interest", "costs")})
    assert (row["paid_principal"], row["paid_interest"], row["paid_costs"]) == (100_000, 2_000, 0)
    assert (row["principal_due"], row["interest_due"], row["costs_due"]) == (0, 3_000, 2_000)
    # a portfolio missing from the mapping keeps costs -> interest -> principal
    row = state(c, pay, "2024-03-01", waterfall={"P2": ("principal", "interest", "costs")})
    assert (row["paid_costs"], row["paid_interest"], row["paid_principal"]) == (2_000, 5_000, 95_000)


def test_overpayment_is_owed_back_and_never_netted_against_later_costs():
    c = claim(principal=100_000, interest_at_cutoff=5_000, costs_at_cutoff=2_000)
    events = [event(1, "2024-02-01", "payment", 110_000), event(2, "2024-02-15", "cost", 3_000)]
    row = state(c, events, "2024-03-01")
    assert row["overpaid"] == 3_000
    assert row["costs_due"] == 3_000
    assert row["total_due"] == 3_000


def test_interest_accrues_until_the_payment_day_then_on_the_rest():
    # statutory late interest 2025-05-01..2025-05-07 on 1 000.00 zł = 2.16 zł; the payment of
    # 502.16 zł on 2025-05-07 clears the interest and 500.00 zł of principal; from 2025-05-08 the
    # interest runs on 500.00 zł: 10.75 % x 10 days = 1.47 zł (147.26 grosz -> 147).
    c = claim(due_date="2025-04-30", cutoff_date="2025-04-30", interest_basis="statutory_late")
    row = state(c, [event(1, "2025-05-07", "payment", 50_216)], "2025-05-17")
    assert row["paid_interest"] == 216
    assert row["principal_due"] == 50_000
    assert row["interest_due"] == 147
    assert row["interest_accrued"] == 216 + 147


def test_reversed_payment_never_happened():
    c = claim(principal=100_000)
    events = [event(5, "2024-02-01", "payment", 10_000), event(3, "2024-02-20", "reversal", reverses=5)]
    assert state(c, events, "2024-02-10")["paid_principal"] == 10_000  # reversal not yet known
    row = state(c, events, "2024-03-01")
    assert row["paid_principal"] == 0
    assert row["principal_due"] == 100_000
    assert row["last_payment_date"] is None
