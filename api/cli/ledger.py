"""`cession journal` (the double-entry journal of a period, to Parquet, CSV or XLSX; its trial
balance) and `cession reconcile` (the journal against the events and the engine's states; exit 3
on a difference)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.options import DEFAULT_WATERFALL, AllowStale, DatabaseUrl, Json, Waterfall
from api.cli.outputs import output_file
from api.cli.parsing import day
from api.exits import ExitCode

From = Annotated[str, typer.Option("--from", help="First day of the period, YYYY-MM-DD.")]
To = Annotated[str, typer.Option("--to", help="Last day of the period, YYYY-MM-DD (inclusive).")]
Portfolio = Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio (default: all).")]
Chart = Annotated[
    Path | None,
    typer.Option("--chart", help="Chart of accounts, YAML (default: the shipped ledger/charts/default.yaml)."),
]
Claims = Annotated[
    Path | None,
    typer.Option("--claims", help="claims.parquet: a book from files instead of the store (with --events)."),
]
Events = Annotated[
    Path | None,
    typer.Option("--events", help="events.parquet (recorded_on optional: else each event's own day), with --claims."),
]


def _journal(first, last, portfolio, chart, waterfall, allow_stale, database_url, claims, events, quiet, whole=True):
    """The journal of the period; from files, a slice of claims at a time unless ``whole`` (what
    the reconciliation needs: the movements and the book)."""
    from api.ledger import service

    period = (day(first, "--from"), day(last, "--to"))
    if period[1] < period[0]:
        from engine.errors import InputError

        raise InputError(f"--from {period[0]} is after --to {period[1]}")
    with console.status("computing the journal", quiet=quiet):
        store = None
        if not whole and claims is not None and events is not None:
            j = service.compute_files(
                claims=claims,
                events=events,
                first=period[0],
                last=period[1],
                portfolio=portfolio,
                waterfall=waterfall,
                chart=chart,
                allow_stale_rates=allow_stale,
            )
            return service, j
        if claims is None and events is None:
            from api.cli.store import opened

            store = opened(database_url)
        book = service.book_of(store=store, claims=claims, events=events, portfolio=portfolio, waterfall=waterfall)
        return service, service.compute(
            book=book, first=period[0], last=period[1], chart=chart, allow_stale_rates=allow_stale
        )


def journal(
    first: From,
    last: To,
    out: Annotated[Path, typer.Option("--out", help="The journal: FILE.parquet (grosz), .csv or .xlsx (PLN).")],
    portfolio: Portfolio = None,
    trial_balance: Annotated[
        bool, typer.Option("--trial-balance", help="Also print the trial balance per account and portfolio.")
    ] = False,
    chart: Chart = None,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    allow_stale: AllowStale = False,
    claims: Claims = None,
    events: Events = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Write the double-entry journal of a period: one line per posting (tx_id, entry_date, account,
    debit, credit, portfolio_id, claim_id, event_id, kind, memo); every transaction balances, checked
    before anything is written."""
    from ledger.files import format_of

    format_of(out)
    output_file(out, "--out", "journal.parquet")
    service, j = _journal(
        first, last, portfolio, chart, waterfall, allow_stale, database_url, claims, events, as_json, whole=False
    )
    service.write(journal=j, out=out)
    summary = service.summary(journal=j, out=out, with_trial_balance=trial_balance)
    if as_json:
        console.print_json(summary)
        return
    print_journal(summary)


def reconcile(
    first: From,
    last: To,
    portfolio: Portfolio = None,
    chart: Chart = None,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    allow_stale: AllowStale = False,
    claims: Claims = None,
    events: Events = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> int:
    """Reconcile the period's journal with the events (payments less reversals, costs) and the
    engine's states (interest recognised, balances), per portfolio; exit 3 on any difference,
    listing the claims behind it."""
    service, j = _journal(first, last, portfolio, chart, waterfall, allow_stale, database_url, claims, events, as_json)
    r = service.reconciliation(journal=j)
    summary = service.reconciliation_summary(journal=j, reconciled=r)
    if as_json:
        console.print_json(summary)
    else:
        print_reconciliation(summary)
    return ExitCode.OK if r.ok else ExitCode.DIFFERENCE


def _zl(text: str) -> str:
    """'1234.56' -> '1 234,56 zł'."""
    from decimal import Decimal

    return formats.amount(int(Decimal(text) * 100))


def print_journal(s: dict) -> None:
    out = console.out
    formats.facts(
        out,
        [
            f"journal {s['from']}..{s['to']}",
            f"{formats.count(s['lines'])} lines",
            f"{formats.count(s['transactions'])} transactions",
            f"{formats.count(s['claims'])} claims",
            f"balanced: debits = credits = {_zl(s['debit'])}",
        ],
    )
    columns = [
        formats.Column("kind"),
        formats.Column("transactions", justify="right"),
        formats.Column("debits", justify="right"),
    ]
    rows = [[k, formats.count(v["transactions"]), _zl(v["debit"])] for k, v in s["kinds"].items()]
    formats.records(out, "postings by kind", columns, rows)
    if "trial_balance" in s:
        columns = [
            formats.Column("account"),
            formats.Column("name", optional=True),
            formats.Column("portfolio"),
            formats.Column("debit", justify="right"),
            formats.Column("credit", justify="right"),
            formats.Column("balance", justify="right"),
        ]
        rows = [
            [
                r["account"],
                r["name"] or "",
                r["portfolio_id"] or "all",
                _zl(r["debit"]),
                _zl(r["credit"]),
                _zl(r["balance"]),
            ]
            for r in s["trial_balance"]
        ]
        formats.records(out, "trial balance", columns, rows)
    if s["out"]:
        out.print(f"written: {s['out']}")


def print_reconciliation(s: dict) -> None:
    out = console.out
    columns = [
        formats.Column("check"),
        formats.Column("portfolio"),
        formats.Column("journal", justify="right"),
        formats.Column("events / engine", justify="right"),
        formats.Column("difference", justify="right"),
        formats.Column("claims", justify="right"),
    ]
    rows = [
        [
            c["check"],
            c["portfolio_id"] or "",
            _zl(c["journal"]),
            _zl(c["events_or_engine"]),
            _zl(c["difference"]),
            formats.count(c["claims_with_difference"]),
        ]
        for c in s["checks"]
    ]
    formats.records(out, f"reconciliation {s['from']}..{s['to']}", columns, rows)
    off = [c for c in s["checks"] if c["difference"] != "0.00" or c["claims_with_difference"]]
    for c in off:
        listed = ", ".join(str(i) for i in c["claims"])
        more = c["claims_with_difference"] - len(c["claims"])
        out.print(
            f"difference in {c['check']} of {c['portfolio_id']}: {_zl(c['difference'])}; claims {listed}"
            + (f" and {formats.count(more)} more" if more > 0 else "")
        )
    out.print("reconciled: no difference" if s["ok"] else "NOT reconciled: see the differences above")
