"""Collections and the chain-ladder ERC on books whose behaviour is known exactly."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from reports import erc
from reports.collections import (
    CLAIM_SCHEMA,
    PAYMENT_SCHEMA,
    REVERSAL_SCHEMA,
    last_complete_month,
    month_end,
    month_number,
    monthly,
    net_payments,
    vintages,
)


def _claims(rows: list[tuple[int, str, date, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "claim_id": cid,
                "portfolio_id": port,
                "purchase_date": bought,
                "purchase_price": price,
                "principal": 10 * price,
                "interest_at_cutoff": 0,
                "costs_at_cutoff": 0,
            }
            for cid, port, bought, price in rows
        ],
        schema=CLAIM_SCHEMA,
    )


def _payments(rows: list[tuple[int, int, date, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"event_id": e, "claim_id": c, "event_date": d, "amount": a} for e, c, d, a in rows], schema=PAYMENT_SCHEMA
    )


def _geometric_book(ratio: float, first: float, starts: list[date], through: date, price: int = 1_000_000):
    """One claim per portfolio, each paying ``first * ratio**k`` grosz in its month k (on the 15th)."""
    claims = _claims([(i + 1, f"P{i}", start, price) for i, start in enumerate(starts)])
    rows, event_id = [], 1
    for i, start in enumerate(starts):
        k = 0
        while True:
            m = month_number(start) + k
            day = date(m // 12, m % 12 + 1, 15)
            if day > through:
                break
            rows.append((event_id, i + 1, day, round(first * ratio**k)))
            event_id += 1
            k += 1
    return claims, _payments(rows)


def _project(claims, payments, as_of, horizon=erc.HORIZON):
    vint = vintages(claims, as_of)
    collections = monthly(claims, payments)
    cumulative = erc.triangle(vint, collections)
    dev = erc.development(vint, cumulative, erc.development_length(vint, month_number(as_of), horizon))
    return vint, dev, erc.project(vint, cumulative, dev, month_number(as_of), np.zeros(vint.height), horizon)


def test_a_reversal_cancels_its_payment_from_the_day_it_is_dated():
    payments = _payments([(1, 1, date(2025, 1, 10), 500), (2, 1, date(2025, 1, 20), 700)])
    reversals = pl.DataFrame([{"reverses": 2, "event_date": date(2025, 2, 3)}], schema=REVERSAL_SCHEMA)
    assert net_payments(payments, reversals, date(2025, 1, 31))["amount"].sum() == 1200
    assert net_payments(payments, reversals, date(2025, 2, 3))["amount"].sum() == 500
    assert net_payments(payments, reversals, date(2025, 1, 15))["amount"].sum() == 500  # the later payment not yet made


def test_months_count_from_each_claims_purchase_and_earlier_payments_are_month_0():
    claims = _claims([(1, "P", date(2024, 6, 28), 100), (2, "P", date(2024, 9, 3), 100)])
    payments = _payments(
        [
            (1, 1, date(2024, 6, 1), 10),
            (2, 1, date(2024, 7, 1), 20),
            (3, 2, date(2024, 9, 30), 40),
            (4, 2, date(2024, 10, 1), 80),
        ]
    )
    got = monthly(claims, payments).sort("purchase_month", "month")
    assert got.select("month", "collected").rows() == [(0, 10), (1, 20), (0, 40), (1, 80)]  # two vintages
    assert vintages(claims, date(2024, 12, 31))["last_complete"].to_list() == [6, 3]


def test_the_as_of_month_is_complete_only_on_its_last_day():
    assert last_complete_month(date(2026, 2, 28)) == month_number(date(2026, 2, 1))
    assert last_complete_month(date(2026, 2, 27)) == month_number(date(2026, 1, 1))
    assert month_end(month_number(date(2024, 2, 10))) == date(2024, 2, 29)


def test_chain_ladder_continues_a_known_geometric_curve_to_the_grosz():
    """Every portfolio collects 0.9 of the month before: the factors are the same for all, and the
    youngest one's projected months are the curve itself where the older ones observed them."""
    starts = [date(2020, 1, 10), date(2021, 1, 10), date(2022, 1, 10), date(2024, 1, 10)]
    as_of = date(2024, 12, 31)
    claims, payments = _geometric_book(0.9, 1_000_000, starts, as_of)
    vint, dev, projection = _project(claims, payments, as_of, horizon=24)
    youngest = vint["portfolio_id"].to_list().index("P3")
    assert projection.method[youngest] == "chain-ladder"
    first_month = month_number(date(2024, 1, 1))
    expected = {int(m): x for m, x in zip(projection.months, projection.expected[youngest], strict=True)}
    for m in range(month_number(date(2025, 1, 1)), month_number(date(2026, 12, 1)) + 1):
        truth = 1_000_000 * 0.9 ** (m - first_month)
        assert expected[m] == pytest.approx(truth, rel=2e-3), m  # the observed months' rounding only
    assert dev.observed[:59].all()  # every month the oldest portfolio saw


def test_the_tail_carries_a_decaying_curve_past_the_oldest_portfolio():
    starts = [date(2021, 1, 10), date(2022, 1, 10), date(2023, 1, 10)]
    as_of = date(2024, 12, 31)
    claims, payments = _geometric_book(0.95, 1_000_000, starts, as_of)
    vint, dev, projection = _project(claims, payments, as_of, horizon=84)
    oldest = vint["portfolio_id"].to_list().index("P0")
    assert dev.tail.model in ("exponential", "inverse power")
    assert dev.tail.b < 0
    truth = sum(1_000_000 * 0.95**k for k in range(48, 48 + 84))
    # the geometric curve's f-1 is nearly exponential: the tail's 84 months within a few per cent
    assert projection.expected[oldest].sum() == pytest.approx(truth, rel=0.05)


def test_a_single_portfolio_book_still_gets_an_erc_from_its_own_curve():
    claims, payments = _geometric_book(0.97, 500_000, [date(2022, 3, 5)], date(2025, 6, 30))
    vint, dev, projection = _project(claims, payments, date(2025, 6, 30))
    assert projection.method[0] == "chain-ladder"
    assert dev.tail.model != "none"
    assert projection.expected.sum() > 0
    assert (projection.expected >= 0).all()


def test_a_young_vintage_is_projected_from_the_books_collections_per_zloty_of_price():
    starts = [date(2021, 1, 10), date(2022, 1, 10), date(2023, 1, 10)]
    as_of = date(2024, 12, 31)
    claims, payments = _geometric_book(0.9, 100_000, starts, as_of, price=1_000_000)
    young = _claims([(99, "NEW", date(2024, 11, 20), 2_000_000)])  # twice the price, two months old, nothing paid
    vint, dev, projection = _project(pl.concat([claims, young]), payments, as_of, horizon=12)
    row = vint["portfolio_id"].to_list().index("NEW")
    assert projection.method[row] == "price"
    # its months 2..13 are the book's per-price increments times its price: here 2 x the others' months
    per_price = dev.per_price
    assert projection.expected[row][projection.months > month_number(as_of)].sum() == pytest.approx(
        2_000_000 * (per_price[13] - per_price[1]), rel=1e-9
    )
    assert projection.expected[row].sum() == pytest.approx(2 * sum(100_000 * 0.9**k for k in range(2, 14)), rel=0.01)


def test_discounting_at_zero_is_the_sum_and_a_higher_rate_is_worth_less():
    months = np.arange(month_number(date(2025, 1, 1)), month_number(date(2025, 12, 1)) + 1)
    flows = np.full(len(months), 1000.0)
    as_of = date(2024, 12, 31)
    assert erc.discounted(months, flows, as_of, 0.0) == pytest.approx(12_000)
    at_10 = erc.discounted(months, flows, as_of, 0.10)
    assert erc.discounted(months, flows, as_of, 0.20) < at_10 < 12_000
    # the last month's end is a year away: worth 1000 / 1.1
    assert erc.discounted(months[-1:], flows[-1:], as_of, 0.10) == pytest.approx(1000 / 1.1)


def test_grosz_rounds_half_up():
    assert erc.grosz(2.5) == 3 and erc.grosz(2.49) == 2
    assert erc.grosz(np.array([0.5, 1.5])).tolist() == [1, 2]
