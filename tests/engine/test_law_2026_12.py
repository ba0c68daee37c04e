"""The worked examples of the amended engine rules (docs/engine.md §2, §3, §3a; docs/law.md §4.1
and §4.4, amended 2026-12), each through the portfolio engine on both executors and through the reference.

- limitation ends are not moved off weekends and holidays (SN III CZP 21/23 of 22 May 2024);
- a claim with title_date ignores events dated before it; a title acts on a barred claim;
- court and enforcement proceedings are counted: suspended while any is pending;
- each day's interest has its own 3-year run (art. 118 KC, III CZP 42/04): interest_time_barred;
- commercial_late_medical: the commercial rate less 2 pp from 2020.
"""

from __future__ import annotations

from datetime import date

import pytest

from engine import provenance
from tests.builders import claim, event, frames, state_of
from tests.reference.engine_reference import reference_claim_state

D = date


MARCH_1 = D(2026, 3, 1)


def both(compute_state, claims, events=(), as_of=MARCH_1) -> list[dict]:
    """claim_state rows from the engine under test, checked equal to the reference's first."""
    got = state_of(compute_state, claims, list(events), as_of)
    expected = sorted(reference_claim_state(claims, list(events), as_of), key=lambda r: r["claim_id"])
    assert got == expected
    return got


# --- §3: ends not moved (III CZP 21/23) ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("due", "kind", "expected", "why"),
    [
        (D(2019, 5, 10), "periodic", D(2022, 12, 31), "3 years to 31 December 2022, a Saturday"),
        (D(2015, 7, 7), "business", D(2018, 7, 7), "old law, a Saturday before the reform day: barred then"),
        (D(2016, 7, 8), "sales", D(2018, 7, 8), "old law, a Sunday before the reform day"),
        (D(2020, 2, 10), "business", D(2023, 12, 31), "docs/law.md §4.4 #6 without the acknowledgment: a Sunday"),
        (D(2022, 12, 24), "custom", D(2023, 12, 24), "a 1-year custom run (no year-end rule) ending on a Sunday"),
    ],
)
def test_a_run_ending_on_a_weekend_or_holiday_ends_that_day(compute_state, due, kind, expected, why):
    years = 1 if kind == "custom" else None
    c = claim(due=due, limitation_kind=kind, limitation_years=years, interest_basis="none")
    [row] = both(compute_state, [c], as_of=expected)
    assert row["limitation_date"] == expected and row["time_barred"] is False, why
    [after] = both(compute_state, [c], as_of=date.fromordinal(expected.toordinal() + 1))
    assert after["time_barred"] is True, why


def test_the_state_records_the_limitation_rule_set(compute_state):
    state = compute_state(*frames([claim(due=D(2019, 5, 10))]), D(2026, 3, 1), allow_stale_rates=True)
    assert provenance(state)["rules"]["limitation_rule_set"]["rule_set"] == "2026-12"
    assert provenance(state)["engine_version"] == "2"


# --- §3: titles ---------------------------------------------------------------------------------------
def test_events_before_title_date_are_absorbed_by_the_title(compute_state):
    """docs/engine.md §3, docs/law.md §4.4 #10: due 2016-03-15, business, acknowledgment 2019-01-10, payment
    order final 2021-05-01: 6 years from the title, to 31 December 2027 (not 2025-12-31)."""
    c = claim(due=D(2016, 3, 15), limitation_kind="business", title_date=D(2021, 5, 1), interest_basis="none")
    [row] = both(compute_state, [c], [event(1, "acknowledgment", D(2019, 1, 10))], as_of=D(2026, 11, 22))
    assert row["limitation_date"] == D(2027, 12, 31)


def test_a_title_acts_even_on_a_time_barred_claim(compute_state):
    """Sales claim due 2019-01-10, barred after 2021-12-31; a judgment final 2023-03-01 stands:
    6 years from it, to 2029-12-31. An acknowledgment after the end does not revive it."""
    c = claim(due=D(2019, 1, 10), limitation_kind="sales", interest_basis="none")
    [barred] = both(compute_state, [c], [event(1, "acknowledgment", D(2022, 3, 1))], as_of=D(2024, 1, 1))
    assert barred["limitation_date"] == D(2021, 12, 31) and barred["time_barred"]
    [titled] = both(compute_state, [c], [event(1, "title", D(2023, 3, 1))], as_of=D(2024, 1, 1))
    assert titled["limitation_date"] == D(2029, 12, 31) and not titled["time_barred"]


# --- §3: overlapping proceedings ----------------------------------------------------------------------
def test_overlapping_proceedings_are_counted(compute_state):
    """docs/engine.md §3: general, due 2021-12-30; enforcement filed 2024-02-14, a suit filed 2024-02-29,
    the suit ends 2025-02-17: still suspended; the enforcement ends 2026-03-02: 6 years, 2032-12-31."""
    c = claim(due=D(2021, 12, 30), interest_basis="none")
    filed = [
        event(1, "enforcement_filing", D(2024, 2, 14)),
        event(2, "court_filing", D(2024, 2, 29)),
        event(3, "proceedings_end", D(2025, 2, 17)),
    ]
    [pending] = both(compute_state, [c], filed, as_of=D(2025, 6, 1))
    assert pending["limitation_date"] is None and pending["time_barred"] is False
    [ended] = both(compute_state, [c], filed + [event(4, "enforcement_end", D(2026, 3, 2))], as_of=D(2026, 6, 1))
    assert ended["limitation_date"] == D(2032, 12, 31)


def test_an_end_with_no_matching_proceeding_changes_nothing(compute_state):
    c = claim(due=D(2021, 12, 30), interest_basis="none")
    [row] = both(
        compute_state,
        [c],
        [event(1, "enforcement_filing", D(2024, 2, 14)), event(2, "proceedings_end", D(2025, 2, 17))],
        as_of=D(2025, 6, 1),
    )
    assert row["limitation_date"] is None
    [none_pending] = both(compute_state, [c], [event(1, "enforcement_end", D(2024, 2, 14))], as_of=D(2025, 6, 1))
    assert none_pending["limitation_date"] == D(2027, 12, 31)


# --- §3a: interest limited on its own -----------------------------------------------------------------
#: 10 000.00 zł statutory late from 2016-02-01 to 2020-03-01: 1 491 days at 7 %, 2 859.45 zł
EXAMPLE = dict(due=D(2016, 1, 31), principal=1_000_000, interest_basis="statutory_late")
AS_OF = D(2020, 3, 1)


def test_interest_of_2016_is_barred_by_2020(compute_state):
    [row] = both(compute_state, [claim(**EXAMPLE)], as_of=AS_OF)
    assert row["interest_due"] == 285_945 and row["limitation_date"] == D(2024, 12, 31)
    assert row["interest_time_barred"] == 64_247  # 2016-02-01..2016-12-31, 335 days
    assert row["principal_due"] == 1_000_000 and row["time_barred"] is False  # balances unchanged


def test_a_payment_takes_the_oldest_interest_first(compute_state):
    [row] = both(compute_state, [claim(**EXAMPLE)], [event(1, "payment", AS_OF, 50_000)], as_of=AS_OF)
    assert row["interest_due"] == 235_945 and row["interest_time_barred"] == 14_247


def test_an_interest_waiver_takes_the_oldest_interest_first(compute_state):
    [row] = both(compute_state, [claim(**EXAMPLE)], [event(1, "interest_waiver", D(2019, 1, 1), 60_000)], as_of=AS_OF)
    assert row["interest_time_barred"] == 4_247


def test_an_acknowledgment_restarts_the_interest_runs(compute_state):
    [row] = both(compute_state, [claim(**EXAMPLE)], [event(1, "acknowledgment", D(2019, 6, 1))], as_of=AS_OF)
    assert row["limitation_date"] == D(2025, 12, 31) and row["interest_time_barred"] == 0


def test_interest_up_to_the_title_shares_the_claims_end(compute_state):
    """Business, title_date 2016-06-30: days up to it (151 days, 289.59 zł) end with the claim on
    2024-12-31; 2016-07-01..12-31 (184 days, 352.88 zł) ended 2019-12-31."""
    c = claim(**EXAMPLE, limitation_kind="business", title_date=D(2016, 6, 30))
    [row] = both(compute_state, [c], as_of=AS_OF)
    assert row["limitation_date"] == D(2024, 12, 31) and row["interest_time_barred"] == 35_288


def test_all_interest_is_barred_with_the_claim(compute_state):
    """docs/law.md §4.4 #9: consumer loan instalment due 2021-03-15, business: barred after 2024-12-31 and
    its interest with it, whatever each day's own run says."""
    c = claim(due=D(2021, 3, 15), limitation_kind="business")
    [row] = both(compute_state, [c], as_of=D(2025, 1, 1))
    assert row["time_barred"] and row["interest_time_barred"] == row["interest_due"] > 0


def test_interest_at_cutoff_has_the_flag_of_the_day_after_due(compute_state):
    c = claim(
        due=D(2015, 6, 30),
        cutoff=D(2022, 6, 30),
        interest_at_cutoff=12_345,
        interest_basis="none",
        limitation_kind="general",
    )
    [row] = both(compute_state, [c], as_of=D(2023, 1, 1))
    assert row["limitation_date"] == D(2024, 12, 31)
    assert row["interest_time_barred"] == 12_345  # 2015-07-01's run ended 2018-07-01, under the old law


def test_capitalized_interest_is_principal_and_no_longer_barred_interest(compute_state):
    evs = [event(1, "capitalization", D(2019, 12, 31))]
    [row] = both(compute_state, [claim(**EXAMPLE)], evs, as_of=AS_OF)
    assert row["interest_time_barred"] == 0 and row["principal_due"] > 1_000_000


def test_pending_proceedings_keep_interest_from_becoming_barred(compute_state):
    evs = [event(1, "court_filing", D(2016, 9, 1))]
    [row] = both(compute_state, [claim(**EXAMPLE)], evs, as_of=AS_OF)
    assert row["limitation_date"] is None and row["interest_time_barred"] == 0


# --- §2: commercial_late_medical -----------------------------------------------------------------------
def test_commercial_interest_for_public_medical_debtors_is_two_points_lower_from_2020(compute_state):
    """docs/engine.md §2: 10 000.00 zł due 2020-01-31 to 2020-06-30, 151 days: 11.50 % gives 475.75 zł,
    9.50 % for a public medical entity gives 393.01 zł; before 2020 the two are the same."""
    standard = claim(1, due=D(2020, 1, 31), principal=1_000_000, interest_basis="commercial_late")
    medical = claim(2, due=D(2020, 1, 31), principal=1_000_000, interest_basis="commercial_late_medical")
    rows = both(compute_state, [standard, medical], as_of=D(2020, 6, 30))
    assert [r["interest_due"] for r in rows] == [47_575, 39_301]
    before = both(
        compute_state,
        [
            dict(standard, due_date=D(2019, 1, 31), cutoff_date=D(2019, 1, 31)),
            dict(medical, due_date=D(2019, 1, 31), cutoff_date=D(2019, 1, 31)),
        ],
        as_of=D(2019, 12, 31),
    )
    assert before[0]["interest_due"] == before[1]["interest_due"] > 0
