"""Worked cases a lawyer can check: given these claims and events, this state (docs/engine.md, docs/law.md)."""

from datetime import date

import pytest

from engine import provenance
from engine.interest import calculate_interest
from engine.limitation import explain_limitation
from tests.builders import claim, event, frames, state_of

D = date


# --- interest (docs/law.md §3) --------------------------------------------------------------------------------
def test_law_md_worked_example_interest_over_eight_rate_periods():
    """1 000.00 zł, deadline 2025-04-30, paid 2026-03-31: 92.27 zł, each period rounded on its own."""
    calc = calculate_interest(100_000, D(2025, 5, 1), D(2026, 3, 31), "statutory_late", allow_stale_rates=True)
    assert [(p.first, p.days, p.rate_bp, p.interest) for p in calc.pieces] == [
        (D(2025, 5, 1), 7, 1125, 216),
        (D(2025, 5, 8), 56, 1075, 1649),
        (D(2025, 7, 3), 63, 1050, 1812),
        (D(2025, 9, 4), 35, 1025, 983),
        (D(2025, 10, 9), 28, 1000, 767),
        (D(2025, 11, 6), 28, 975, 748),
        (D(2025, 12, 4), 91, 950, 2368),
        (D(2026, 3, 5), 27, 925, 684),
    ]
    assert calc.total == 9227 and calc.days == 335  # 92.28 if the total were rounded once


def test_same_example_through_the_portfolio_engine(compute_state):
    [row] = state_of(compute_state, [claim(due=D(2025, 4, 30))], as_of=D(2026, 3, 31))
    assert row["interest_due"] == row["interest_accrued"] == 9227
    assert row["total_due"] == 100_000 + 9227
    assert row["days_past_due"] == 335


def test_interest_runs_from_the_day_after_cutoff_when_the_seller_already_accrued(compute_state):
    with_cutoff = state_of(
        compute_state, [claim(due=D(2025, 4, 30), cutoff=D(2025, 7, 2), interest_at_cutoff=1865)], as_of=D(2026, 3, 31)
    )
    assert with_cutoff[0]["interest_accrued"] == 9227 - 216 - 1649
    assert with_cutoff[0]["interest_due"] == 1865 + 9227 - 216 - 1649


def test_leap_year_is_still_actual_365():
    # 2024-01-01..2024-12-31: 366 days at 11.25 % on 100 000.00 zł = 11 280.82 zł (366/365 of a year)
    calc = calculate_interest(10_000_000, D(2024, 1, 1), D(2024, 12, 31), "statutory_late")
    assert calc.days == 366 and calc.total == 1_128_082


def test_contractual_rate_is_capped_at_maximum_interest_each_day():
    calc = calculate_interest(100_000, D(2023, 9, 1), D(2023, 10, 31), "contractual", contractual_rate_bp=2400)
    # cap 24.50 % until 2023-09-06 (contract 24 % below it), 23.00 % from 09-07, 22.50 % from 10-05
    assert [(p.first, p.rate_bp) for p in calc.pieces] == [
        (D(2023, 9, 1), 2400),
        (D(2023, 9, 7), 2300),
        (D(2023, 10, 5), 2250),
    ]


def test_contractual_rate_below_the_cap_is_one_period():
    calc = calculate_interest(100_000, D(2023, 1, 1), D(2023, 12, 31), "contractual", contractual_rate_bp=1000)
    assert len(calc.pieces) == 1 and calc.total == 10_000


def test_no_cap_before_2006_02_20():
    calc = calculate_interest(100_000, D(2006, 2, 1), D(2006, 2, 28), "contractual", contractual_rate_bp=5000)
    assert [(p.first, p.rate_bp) for p in calc.pieces] == [(D(2006, 2, 1), 5000), (D(2006, 2, 20), 2300)]


def test_commercial_interest_half_year_fixing():
    calc = calculate_interest(100_000, D(2022, 6, 1), D(2022, 7, 31), "commercial_late")
    assert [(p.first, p.rate_bp) for p in calc.pieces] == [(D(2022, 6, 1), 1175), (D(2022, 7, 1), 1600)]


# --- payments, waterfall, events ------------------------------------------------------------------------
def test_payment_goes_costs_then_interest_then_principal_and_overpayment_is_owed_back(compute_state):
    c = claim(due=D(2025, 1, 1), interest_basis="none", principal=10_000, interest_at_cutoff=2_000, costs_at_cutoff=500)
    [row] = state_of(
        compute_state, [c], [event(1, "payment", D(2025, 6, 1), 11_000), event(2, "payment", D(2025, 7, 1), 2_000)]
    )
    assert (row["paid_costs"], row["paid_interest"], row["paid_principal"], row["overpaid"]) == (
        500,
        2_000,
        10_000,
        500,
    )
    assert row["total_due"] == 0 and row["last_payment_date"] == D(2025, 7, 1)


def test_waterfall_is_a_setting_per_portfolio(compute_state):
    c1 = claim(
        1, due=D(2025, 1, 1), interest_basis="none", principal=10_000, interest_at_cutoff=2_000, portfolio_id="A"
    )
    c2 = claim(
        2, due=D(2025, 1, 1), interest_basis="none", principal=10_000, interest_at_cutoff=2_000, portfolio_id="B"
    )
    evs = [event(1, "payment", D(2025, 6, 1), 3_000, claim_id=1), event(2, "payment", D(2025, 6, 1), 3_000, claim_id=2)]
    rows = state_of(compute_state, [c1, c2], evs, waterfall={"A": "principal,interest,costs"})
    assert (rows[0]["paid_principal"], rows[0]["paid_interest"]) == (3_000, 0)
    assert (rows[1]["paid_principal"], rows[1]["paid_interest"]) == (1_000, 2_000)


def test_a_reversed_payment_never_happened_even_when_the_reversal_is_backdated_later(compute_state):
    c = claim(due=D(2025, 4, 30))
    paid = [event(5, "payment", D(2025, 7, 2), 50_000)]
    reversed_ = paid + [event(6, "reversal", D(2025, 12, 1), reverses=5)]
    assert state_of(compute_state, [c], reversed_, as_of=D(2026, 3, 31)) == state_of(
        compute_state, [c], [], as_of=D(2026, 3, 31)
    )
    # before the reversal's day, the payment counts
    before = state_of(compute_state, [c], reversed_, as_of=D(2025, 11, 30))[0]
    assert before["paid_interest"] > 0 and before["last_payment_date"] == D(2025, 7, 2)


def test_payment_splits_accrual_and_interest_then_runs_on_the_lower_principal(compute_state):
    [row] = state_of(
        compute_state, [claim(due=D(2025, 4, 30))], [event(1, "payment", D(2025, 7, 2), 51_865)], as_of=D(2026, 3, 31)
    )
    # to 2025-07-02: 2.16 + 16.49 = 18.65 zł interest; the payment takes it and 500.00 zł of principal
    assert (row["paid_interest"], row["paid_principal"], row["principal_due"]) == (1_865, 50_000, 50_000)


def test_capitalization_waiver_cost_and_write_off(compute_state):
    c = claim(due=D(2025, 1, 1), interest_basis="none", principal=10_000, interest_at_cutoff=3_000)
    evs = [
        event(1, "interest_waiver", D(2025, 2, 1), 1_000),
        event(2, "capitalization", D(2025, 3, 1)),
        event(3, "cost", D(2025, 4, 1), 700),
    ]
    [row] = state_of(compute_state, [c], evs)
    assert (row["principal_due"], row["interest_due"], row["costs_due"]) == (12_000, 0, 700)
    [gone] = state_of(compute_state, [c], evs + [event(4, "write_off", D(2025, 5, 1))])
    assert (gone["principal_due"], gone["interest_due"], gone["costs_due"], gone["total_due"]) == (0, 0, 0, 0)


def test_result_records_stale_rates_and_rules(compute_state):
    state = compute_state(*frames([claim(due=D(2025, 4, 30))]), D(2026, 11, 22), allow_stale_rates=True)
    meta = provenance(state)
    assert meta["allow_stale_rates"] is True
    assert meta["stale_rate_tables"] == {"statutory_late": "2026-03-05"}
    assert set(meta["rules"]) >= {"statutory_late", "holidays", "limitation_periods", "limitation_rule_set"}


# --- limitation (docs/law.md §4.4 and docs/engine.md §3) ----------------------------------------------
AS_OF = D(2026, 11, 22)


@pytest.mark.parametrize(
    ("case", "due", "kind", "title", "events", "expected"),
    [
        ("1 consumer loan, business 3 y, year end", D(2021, 3, 15), "business", None, [], D(2024, 12, 31)),
        ("2 telecom, 3 y not barred on the reform day", D(2015, 8, 20), "business", None, [], D(2018, 12, 31)),
        ("3 private loan: old 10 y end comes first", D(2012, 5, 10), "general", None, [], D(2022, 5, 10)),
        ("4 private loan: new 6 y from the reform day", D(2016, 5, 10), "general", None, [], D(2024, 12, 31)),
        ("5 EPU order final 2016-03-01", D(2015, 1, 1), "general", D(2016, 3, 1), [], D(2024, 12, 31)),
        (
            "6 instalment request interrupts",
            D(2020, 2, 10),
            "business",
            None,
            [("acknowledgment", D(2023, 6, 1))],
            D(2026, 12, 31),
        ),
        ("8 B2B sale, 2 y, year end", D(2023, 6, 11), "sales", None, [], D(2025, 12, 31)),
        ("engine.md §3: 2022-12-31 is a Saturday, not moved", D(2019, 5, 10), "business", None, [], D(2022, 12, 31)),
        (
            "10 acknowledgment before the title absorbed",
            D(2016, 3, 15),
            "business",
            D(2021, 5, 1),
            [("acknowledgment", D(2019, 1, 10))],
            D(2027, 12, 31),
        ),
        ("12 3 y from 2019-05-10, Saturday", D(2019, 5, 10), "periodic", None, [], D(2022, 12, 31)),
    ],
)
def test_limitation_worked_examples(case, due, kind, title, events, expected):
    assert explain_limitation(due, kind, as_of=AS_OF, title=title, events=events).limitation_date == expected, case


def test_example_7_enforcement_suspends_then_a_new_title_run():
    steps = [("enforcement_filing", D(2022, 5, 1)), ("enforcement_end", D(2023, 9, 30))]
    during = explain_limitation(D(2015, 1, 1), "general", title=D(2021, 1, 15), events=steps, as_of=D(2023, 1, 1))
    assert during.limitation_date is None and not during.time_barred
    after = explain_limitation(D(2015, 1, 1), "general", title=D(2021, 1, 15), events=steps, as_of=AS_OF)
    assert after.limitation_date == D(2029, 12, 31)


def test_an_acknowledgment_after_the_end_does_not_revive():
    result = explain_limitation(D(2019, 1, 10), "sales", events=[("acknowledgment", D(2022, 1, 3))], as_of=AS_OF)
    assert result.limitation_date == D(2021, 12, 31) and result.time_barred
    assert "not revived" in result.steps[-1].effect


def test_portfolio_limitation_columns(compute_state):
    c = claim(due=D(2021, 3, 15), limitation_kind="business")
    assert state_of(compute_state, [c], as_of=D(2024, 12, 31))[0]["time_barred"] is False
    row = state_of(compute_state, [c], as_of=D(2025, 1, 1))[0]
    assert row["limitation_date"] == D(2024, 12, 31) and row["time_barred"] is True
    filed = state_of(compute_state, [c], [event(1, "court_filing", D(2024, 6, 1))], as_of=D(2025, 1, 1))[0]
    assert filed["limitation_date"] is None and filed["time_barred"] is False
