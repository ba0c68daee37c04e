"""The journal and its reconciliation for a period (ledger/), from the store or from files: what
`cession journal` and `cession reconcile` call.

The journal is computed, every transaction checked to balance, and only then written (one file,
atomically): from the store whole, from files a slice of claims at a time (``ledger.streamed``);
the reconciliation computes the same journal whole and sets it against the events and the
engine's states."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from ledger import chart as charts
from ledger import files
from ledger.book import Book, from_files, from_store
from ledger.journal import KINDS, as_lines, journal, trial_balance, tx_starts
from ledger.movements import Movements, Period, measure, timeline
from ledger.reconcile import Reconciliation, reconcile

log = logging.getLogger(__name__)


@dataclass
class Journal:
    """A period's journal: its lines (``keyed``: ``journal.KEYED_SCHEMA``'s columns, as
    categoricals or text; ``lines``: as written), its chart and the seconds it took; the
    movements and book it came from when computed whole (a book from files is computed a slice
    at a time, ``ledger.streamed``, and keeps neither)."""

    period: Period
    keyed: pl.DataFrame
    chart: charts.Chart
    seconds: float
    movements: Movements | None = None
    book: Book | None = None
    _lines: pl.DataFrame | None = None

    @property
    def lines(self) -> pl.DataFrame:
        if self._lines is None:
            self._lines = as_lines(self.keyed)
        return self._lines


def book_of(
    *,
    store=None,
    claims: Path | None = None,
    events: Path | None = None,
    portfolio: str | None = None,
    waterfall: str = "costs,interest,principal",
) -> Book:
    """The book from files (``claims`` and ``events``) or else the store."""
    if claims is not None or events is not None:
        if claims is None or events is None:
            from engine.errors import InputError

            raise InputError("--claims and --events go together (a book from files), or neither (the store)")
        book = from_files(claims, events, waterfall)
        if portfolio:
            book = Book(
                book.claims.filter(pl.col("portfolio_id") == portfolio),
                book.events.join(
                    book.claims.filter(pl.col("portfolio_id") == portfolio).select("claim_id"),
                    on="claim_id",
                    how="semi",
                ),
                waterfall=waterfall,
            )
        return book
    return from_store(store, portfolio, waterfall)


def compute(
    *,
    book: Book,
    first: date,
    last: date,
    chart: Path | None = None,
    allow_stale_rates: bool = False,
) -> Journal:
    """The journal of ``first..last`` of ``book`` (every transaction balanced, or UnbalancedJournal)."""
    started = time.perf_counter()
    chosen = charts.load(chart)
    period = Period(first, last)
    movements = measure(book, period, allow_stale_rates=allow_stale_rates)
    lines = journal(movements, chosen)
    seconds = time.perf_counter() - started
    log.info("journal %s..%s: %d lines in %.1f s", first, last, lines.height, seconds)
    keyed = lines.select(
        "entry_date",
        "claim_id",
        "kind",
        "event_id",
        "account",
        "portfolio_id",
        "memo",
        amount=pl.col("debit") - pl.col("credit"),
    )
    return Journal(period, keyed, chosen, seconds, movements, book, lines)


def compute_files(
    *,
    claims: Path,
    events: Path,
    first: date,
    last: date,
    portfolio: str | None = None,
    waterfall: str = "costs,interest,principal",
    chart: Path | None = None,
    allow_stale_rates: bool = False,
) -> Journal:
    """The journal of ``first..last`` of the book in files, a slice of claims at a time
    (``ledger.streamed``); files that do not stream are read whole (``compute``)."""
    from ledger.streamed import NotStreamed, journal_of_files

    started = time.perf_counter()
    chosen = charts.load(chart)
    period = Period(first, last)
    try:
        keyed = journal_of_files(
            claims,
            events,
            period,
            chosen,
            portfolio=portfolio,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
        )
    except NotStreamed as why:
        log.info("journal: the files do not stream (%s), read whole", why)
        book = book_of(claims=claims, events=events, portfolio=portfolio, waterfall=waterfall)
        return compute(book=book, first=first, last=last, chart=chart, allow_stale_rates=allow_stale_rates)
    seconds = time.perf_counter() - started
    log.info("journal %s..%s: %d lines in %.1f s", first, last, keyed.height, seconds)
    return Journal(period, keyed, chosen, seconds)


def write(*, journal: Journal, out: Path) -> None:
    if journal._lines is not None:
        files.write(journal.lines, out)
    else:
        files.write(as_lines(journal.keyed.lazy()), out, height=journal.keyed.height)


def summary(*, journal: Journal, out: Path | None = None, with_trial_balance: bool = False) -> dict:
    """What `cession journal` prints (``--json``: amounts in grosz as strings "1234.56")."""
    from engine.money import pln

    # the lines come in the journal's order: a transaction's lines are consecutive
    keyed = journal.keyed.with_columns(first=tx_starts(["entry_date", "claim_id", "kind", "event_id"]))
    debit, credit = pl.col("amount").clip(lower_bound=0), (-pl.col("amount")).clip(lower_bound=0)
    kinds = keyed.group_by(pl.col("kind").cast(pl.String)).agg(
        transactions=pl.col("first").sum(), debit=debit.sum(), credit=credit.sum()
    )
    per_kind = {r["kind"]: r for r in kinds.iter_rows(named=True)}
    totals = keyed.select(
        transactions=pl.col("first").sum(), claims=pl.col("claim_id").n_unique(), debit=debit.sum(), credit=credit.sum()
    ).row(0, named=True)
    out_summary = {
        "from": journal.period.first.isoformat(),
        "to": journal.period.last.isoformat(),
        "out": str(out) if out is not None else None,
        "chart": journal.chart.name,
        "lines": keyed.height,
        "transactions": totals["transactions"],
        "claims": totals["claims"],
        "debit": pln(int(totals["debit"] or 0)),
        "credit": pln(int(totals["credit"] or 0)),
        "balanced": True,
        "kinds": {
            k: {
                "transactions": per_kind[k]["transactions"],
                "debit": pln(int(per_kind[k]["debit"])),
            }
            for k in KINDS
            if k in per_kind
        },
        "seconds": round(journal.seconds, 3),
    }
    if with_trial_balance:
        per = keyed.group_by("account", "portfolio_id").agg(debit=debit.sum(), credit=credit.sum())
        tb = trial_balance(per.with_columns(pl.col("account", "portfolio_id").cast(pl.String)), journal.chart)
        out_summary["trial_balance"] = [
            {
                "account": r["account"],
                "name": r["name"],
                "portfolio_id": r["portfolio_id"],
                "debit": pln(r["debit"]),
                "credit": pln(r["credit"]),
                "balance": pln(r["balance"]),
            }
            for r in tb.iter_rows(named=True)
        ]
    return out_summary


def reconciliation(*, journal: Journal) -> Reconciliation:
    return reconcile(journal.movements, journal.lines, journal.chart, timeline(journal.book))


def reconciliation_summary(*, journal: Journal, reconciled: Reconciliation) -> dict:
    from engine.money import pln

    return {
        "from": journal.period.first.isoformat(),
        "to": journal.period.last.isoformat(),
        "ok": reconciled.ok,
        "checks": [
            {
                "check": row["check"],
                "portfolio_id": row["portfolio_id"],
                "journal": pln(row["journal"]),
                "events_or_engine": pln(row["other"]),
                "difference": pln(row["difference"]),
                "claims_with_difference": row["claims_off"],
                "claims": row["claims"],
            }
            for row in reconciled.rows
        ],
        "seconds": round(journal.seconds, 3),
    }
