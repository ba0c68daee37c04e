"""Helpers for scenario tests written as ledgers: a book from plain rows, the journal of a period,
and its lines as readable tuples (kind, account role, debit, credit, event_id, entry day)."""

from __future__ import annotations

from datetime import date

import polars as pl

from ledger import chart as charts
from ledger.book import PLACEMENT_TYPES, Book
from ledger.journal import journal, trial_balance
from ledger.movements import Period, measure, timeline
from ledger.reconcile import reconcile
from tests.builders import claim, frames

CHART = charts.load()
ROLE_OF = {CHART.number(r): r.value for r in charts.Role}


def book(claims: list[dict], events: list[dict], recorded: dict[int, date] | None = None, placements=()) -> Book:
    """A book of ``claims`` and ``events`` (tests.builders rows); ``recorded``: event_id -> the day
    it was recorded (default: its own day)."""
    c, e = frames(claims, events)
    recorded = recorded or {}
    e = e.with_columns(
        recorded_on=pl.Series([recorded.get(i) for i in e.get_column("event_id").to_list()], dtype=pl.Date)
    )
    p = pl.DataFrame(list(placements), schema=PLACEMENT_TYPES)
    return Book(c, e, p)


def period(b: Book, first: date, last: date):
    """(movements, lines) of ``first..last``."""
    m = measure(b, Period(first, last), allow_stale_rates=True)
    return m, journal(m, CHART)


def lines_of(b: Book, first: date, last: date) -> list[tuple]:
    """The journal of ``first..last`` as (kind, role, debit, credit, event_id, entry_date), in order."""
    _, lines = period(b, first, last)
    return [
        (r["kind"], ROLE_OF[r["account"]], r["debit"], r["credit"], r["event_id"], r["entry_date"])
        for r in lines.iter_rows(named=True)
    ]


def reconciled(b: Book, first: date, last: date):
    m, lines = period(b, first, last)
    return reconcile(m, lines, CHART, timeline(b))


def totals(lines: pl.DataFrame) -> dict[tuple[int, str], int]:
    """(claim_id, account) -> debits less credits."""
    per = lines.group_by("claim_id", "account").agg(v=(pl.col("debit") - pl.col("credit")).sum())
    return {(r["claim_id"], r["account"]): r["v"] for r in per.iter_rows(named=True) if r["v"]}


def none_claim(claim_id: int = 1, **fields) -> dict:
    """A claim earning no interest (amounts read plainly): 1 000.00 zł principal, 50.00 zł interest
    and 20.00 zł costs at cut-off 2026-01-01, bought 2026-01-15 for 300.00 zł."""
    values = dict(
        due=date(2025, 6, 30),
        cutoff=date(2026, 1, 1),
        purchase_date=date(2026, 1, 15),
        principal=100_000,
        interest_at_cutoff=5_000,
        costs_at_cutoff=2_000,
        purchase_price=30_000,
        interest_basis="none",
    )
    values.update(fields)
    return claim(claim_id, **values)


__all__ = ["book", "lines_of", "none_claim", "period", "reconciled", "totals", "trial_balance", "CHART"]
