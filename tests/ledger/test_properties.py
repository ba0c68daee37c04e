"""Properties of the journal over generated books (tests/strategies.py: edge days, every event kind,
reversals, write-offs, waterfalls per portfolio), with events recorded late, on time or ahead:

- every transaction balances (checked inside, before anything could be written);
- periods add up: journal(a..c) = journal(a..b) + journal(b+1..c), per claim and account, to the grosz;
- each period reconciles with the events and the engine's states.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.book import Book
from tests.ledger.ledgers import period, reconciled, totals
from tests.strategies import portfolios, to_frames, waterfalls

LAGS = (0, 0, 0, 1, 9, 40, 400, -5)  # days recorded after the event (negative: recorded ahead of its day)


@st.composite
def books(draw):
    claims, events, as_of = draw(portfolios(max_claims=5, max_events_per_claim=8, max_money=10**8))
    lags = draw(st.lists(st.sampled_from(LAGS), min_size=len(events), max_size=len(events)))
    c, e = to_frames(claims, events)
    e = e.with_columns(
        recorded_on=pl.Series(
            [ev["event_date"] + timedelta(days=lag) for ev, lag in zip(events, lags, strict=True)], dtype=pl.Date
        )
    )
    book = Book(c, e, waterfall=draw(waterfalls()))
    # periods around what happens: from a purchase or an event, lengths from a day to years
    days = sorted({d for d in c.get_column("purchase_date").to_list()} | set(e.get_column("event_date").to_list()))
    a = draw(st.sampled_from(days or [as_of])) - timedelta(days=draw(st.sampled_from((0, 1, 31))))
    a = max(a, date(1995, 1, 1))
    first = draw(st.integers(0, 400))
    second = draw(st.integers(0, 800))
    b = a + timedelta(days=first)
    return book, a, b, b + timedelta(days=1 + second)


def _add_up_balance_and_reconcile(drawn) -> None:
    book, a, b, c = drawn
    whole = period(book, a, c)[1]
    first = period(book, a, b)[1]
    second = period(book, b + timedelta(days=1), c)[1]
    parts = totals(first)
    for key, value in totals(second).items():
        parts[key] = parts.get(key, 0) + value
    assert {k: v for k, v in parts.items() if v} == totals(whole)
    for x, y in ((a, c), (a, b), (b + timedelta(days=1), c)):
        r = reconciled(book, x, y)
        assert r.ok, r.differences


QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]


@settings(max_examples=12, deadline=None, suppress_health_check=QUIET)
@given(books())
def test_periods_add_up_balance_and_reconcile(drawn):
    _add_up_balance_and_reconcile(drawn)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=QUIET)
@given(books())
def test_periods_add_up_balance_and_reconcile_on_many_books(drawn):
    _add_up_balance_and_reconcile(drawn)
