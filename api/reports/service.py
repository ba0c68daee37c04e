"""A portfolio's report as of a day (``report``): its figures from the store (``reports``), as JSON
for machines (``as_json``: amounts as "1234.56") and as one self-contained HTML page for people
(``write_html``). The command line (`cession report`) and the dashboard call these.

The balances are the portfolio's stored claim_state when its current run is as of the day asked;
otherwise the engine computes the state for the report from the stored claims and events (a
valuation: the stored state is left as it is), and the report says which.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import sqlalchemy as sa

from engine.errors import InputError, NotFound
from engine.money import pln

log = logging.getLogger(__name__)

#: the annual discount rate when none is given (percent)
DEFAULT_DISCOUNT_RATE = "12"
#: the figures' keys that hold grosz (written "1234.56" in JSON)
MONEY_KEYS = frozenset(
    {
        "price",
        "face_value",
        "collected",
        "cumulative",
        "expected",
        "erc",
        "total",
        "discounted",
        "total_due",
        "principal_due",
        "interest_due",
        "costs_due",
        "interest_time_barred",
        "balance_placed",
        "commission",
        "net",
    }
)


def discount_rate(*, text: str | None, option: str = "--discount-rate") -> float:
    """A yearly percentage (``12``, ``7,5``) as a fraction (0.12, 0.075)."""
    spelled = DEFAULT_DISCOUNT_RATE if text is None else str(text).strip().removesuffix("%")
    try:
        value = Decimal(spelled.replace(",", "."))
    except InvalidOperation:
        raise InputError(f"{option} {text!r}: not a yearly percentage like 12 or 7.5") from None
    if not value.is_finite() or value < 0 or value > 100:
        raise InputError(f"{option} {text!r}: a yearly percentage from 0 to 100")
    return float(value / 100)


def report(
    *,
    store: sa.Engine,
    portfolio_id: str,
    as_of: date,
    rate: float = 0.12,
    allow_stale_rates: bool = False,
) -> dict:
    """Every figure of the report on ``portfolio_id`` as of ``as_of``, the ERC discounted at ``rate``
    (a fraction a year). ``NotFound`` for an unknown portfolio; an as-of day before the portfolio's
    first purchase is bad input."""
    from reports.balances import grouped
    from reports.portfolio import figures
    from reports.store import portfolio_row, read_book

    started = time.perf_counter()
    with store.connect() as conn:
        portfolio = portfolio_row(conn, portfolio_id)
    if portfolio is None:
        raise NotFound(f"portfolio {portfolio_id!r}: not in the store (cession db status lists the portfolios)")
    stored = portfolio["run_as_of"] == as_of
    book = read_book(store, portfolio_id, as_of, run_id=portfolio["current_run_id"] if stored else None)
    mine = book.purchased.filter(book.purchased["portfolio_id"] == portfolio_id)
    if mine.height == 0:
        with store.connect() as conn:
            first = conn.execute(
                sa.text("SELECT MIN(purchase_date) FROM claims WHERE portfolio_id = :p"), {"p": portfolio_id}
            ).scalar()
        if first is None:
            raise InputError(f"portfolio {portfolio_id!r}: holds no claims")
        raise InputError(f"--as-of {as_of}: before the portfolio's first purchase ({first})")
    if stored:
        groups, source = (
            book.groups,
            {"source": "run", "run_id": portfolio["current_run_id"], "as_of": as_of.isoformat()},
        )
    else:
        state = computed_state(store=store, portfolio_id=portfolio_id, as_of=as_of, allow_stale_rates=allow_stale_rates)
        groups, source = grouped(state, as_of), {"source": "computed", "run_id": None, "as_of": as_of.isoformat()}
    found = figures(book, portfolio=portfolio, as_of=as_of, groups=groups, state_source=source, discount_rate=rate)
    found["seconds"] = round(time.perf_counter() - started, 3)
    log.info("report on %s as of %s in %.2f s", portfolio_id, as_of, found["seconds"])
    return found


#: reports kept for the dashboard, newest last: (store, portfolio, day, rate, its current run, the
#: newest event's id) -> figures; a new run or a new event makes a new key
_KEPT: dict[tuple, dict] = {}
KEPT = 8


def kept_report(
    *, store: sa.Engine, portfolio_id: str, as_of: date, rate: float, allow_stale_rates: bool = False
) -> dict:
    """``report``, kept in this process while nothing it reads has changed (a page shown again,
    another person on the same portfolio): the key holds ``reports.store.freshness``, so a run,
    a new claim, event, placement or recall with an agency makes the next page compute anew."""
    from reports.store import freshness

    key = (store.url.render_as_string(hide_password=True), portfolio_id, as_of, rate, *freshness(store, portfolio_id))
    found = _KEPT.pop(key, None)
    if found is None:
        found = report(
            store=store, portfolio_id=portfolio_id, as_of=as_of, rate=rate, allow_stale_rates=allow_stale_rates
        )
    _KEPT[key] = found
    while len(_KEPT) > KEPT:
        _KEPT.pop(next(iter(_KEPT)))
    return found


def computed_state(*, store: sa.Engine, portfolio_id: str, as_of: date, allow_stale_rates: bool):
    """The portfolio's claim_state as of ``as_of`` computed now from the store (nothing stored)."""
    import polars as pl

    from engine.computation import compute
    from engine.sources import StoreSource
    from reports.balances import STATE_SCHEMA

    [day] = compute(StoreSource.of(store, portfolio_id), as_of, keep=True, allow_stale_rates=allow_stale_rates)
    return pl.from_arrow(day.table).select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())


def as_json(*, figures: dict) -> dict:
    """The figures for machines: amounts in grosz as decimal strings in PLN ("1234.56")."""

    def convert(value, key=None):
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
            return pln(value)
        return value

    return convert(figures)


def html(*, figures: dict) -> str:
    from api.reports.html import page

    return page(figures)


def write_html(*, figures: dict, out: Path) -> Path:
    """The report's page written to ``out``: it appears complete or not at all."""
    text = html(figures=figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)
    return out
