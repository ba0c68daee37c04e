"""Schedules: equal instalments to the grosz (the remainder on the last), monthly days that keep
the end of the month, custom ones as given; and a property: the instalments of any plan sum to the
agreed total, to the grosz."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.plans.schedule import (
    PlanError,
    custom_schedule,
    equal_schedule,
    monthly_days,
    split_equally,
)

D = date


def test_equal_instalments_leave_the_remainder_on_the_last():
    assert split_equally(100_000, 3) == [33_333, 33_333, 33_334]
    assert split_equally(100, 7) == [14, 14, 14, 14, 14, 14, 16]
    with pytest.raises(PlanError, match="cannot be split into 7 instalments"):
        split_equally(6, 7)


@pytest.mark.parametrize(
    ("first", "days"),
    [
        (D(2026, 1, 31), [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 31), D(2026, 4, 30)]),
        (D(2027, 12, 31), [D(2027, 12, 31), D(2028, 1, 31), D(2028, 2, 29), D(2028, 3, 31)]),
        (D(2026, 1, 30), [D(2026, 1, 30), D(2026, 2, 28), D(2026, 3, 30), D(2026, 4, 30)]),
        (D(2026, 11, 15), [D(2026, 11, 15), D(2026, 12, 15), D(2027, 1, 15), D(2027, 2, 15)]),
    ],
)
def test_monthly_days_keep_the_end_of_the_month(first, days):
    assert monthly_days(first, 4) == days


def test_a_down_payment_comes_first_on_the_day_signed():
    schedule = equal_schedule(
        total=120_000, count=2, first_due=D(2026, 2, 1), signed_on=D(2026, 1, 10), down_payment=20_001
    )
    assert [(i.number, i.due_on, i.amount) for i in schedule] == [
        (0, D(2026, 1, 10), 20_001),
        (1, D(2026, 2, 1), 49_999),
        (2, D(2026, 3, 1), 50_000),
    ]


def test_custom_instalments_are_checked():
    signed = D(2026, 1, 10)
    assert [
        i.amount for i in custom_schedule(instalments=[(D(2026, 2, 1), 5), (D(2026, 3, 1), 7)], signed_on=signed)
    ] == [5, 7]
    with pytest.raises(PlanError, match="total: the instalments sum to 12 grosz, not the total 13"):
        custom_schedule(instalments=[(D(2026, 2, 1), 5), (D(2026, 3, 1), 7)], signed_on=signed, total=13)
    with pytest.raises(PlanError, match="instalment 1: due 2026-01-09 is before the plan is signed"):
        custom_schedule(instalments=[(D(2026, 1, 9), 5)], signed_on=signed)
    with pytest.raises(PlanError, match="instalment 1: the amount must be more than 0.00"):
        custom_schedule(instalments=[(D(2026, 2, 1), 0)], signed_on=signed)
    with pytest.raises(PlanError, match="instalment 1: due 2026-01-10, not after the one before it"):
        custom_schedule(instalments=[(signed, 5)], signed_on=signed, down_payment=3)
    with pytest.raises(PlanError, match="down_payment"):
        equal_schedule(total=100, count=1, first_due=D(2026, 2, 1), signed_on=signed, down_payment=100)


@given(
    total=st.integers(min_value=1, max_value=10**13),
    count=st.integers(min_value=1, max_value=360),
    down_share=st.integers(min_value=0, max_value=99),
    first=st.dates(min_value=D(2000, 1, 1), max_value=D(2090, 12, 31)),
    signed_before=st.integers(min_value=0, max_value=60),
)
def test_the_instalments_of_any_equal_plan_sum_to_the_agreed_total(total, count, down_share, first, signed_before):
    down = total * down_share // 100
    signed = first - timedelta(days=signed_before + 1)
    try:
        schedule = equal_schedule(total=total, count=count, first_due=first, signed_on=signed, down_payment=down)
    except PlanError:
        assert (total - down) < count  # only a rest too small for that many instalments of 0.01
        return
    assert sum(i.amount for i in schedule) == total
    amounts = [i.amount for i in schedule if i.number > 0]
    assert len(amounts) == count and max(amounts) - min(amounts) < count
    assert all(a > 0 for a in amounts) and amounts[-1] == max(amounts)
    days = [i.due_on for i in schedule]
    assert days == sorted(set(days))


@given(
    amounts=st.lists(st.integers(min_value=1, max_value=10**11), min_size=1, max_size=60),
    down=st.integers(min_value=0, max_value=10**9),
)
def test_the_instalments_of_any_custom_plan_sum_to_the_agreed_total(amounts, down):
    signed = D(2026, 1, 10)
    pairs = [(signed + timedelta(days=30 * (k + 1)), a) for k, a in enumerate(amounts)]
    schedule = custom_schedule(instalments=pairs, signed_on=signed, down_payment=down, total=sum(amounts) + down)
    assert sum(i.amount for i in schedule) == sum(amounts) + down
