"""`cession report`: a portfolio's analytics and ERC as of a day, as a self-contained HTML page
(``--out``), as JSON (``--json``), or as a summary on the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.options import AllowStale, AsOf, DatabaseUrl, Json
from api.cli.outputs import output_file
from api.cli.parsing import day_or_today
from api.cli.store import opened


def report(
    portfolio: Annotated[str, typer.Option("--portfolio", help="The portfolio's id (cession db status lists them).")],
    as_of: AsOf = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the report here as one self-contained HTML page (charts inline, offline)."),
    ] = None,
    discount_rate: Annotated[
        str | None,
        typer.Option(
            "--discount-rate", help="Yearly percentage the ERC is discounted at for the portfolio's value (default 12)."
        ),
    ] = None,
    allow_stale: AllowStale = False,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A portfolio's report: collection curves, multiple, recovery rate, balances by bucket and
    limitation status, agencies, and its expected remaining collections (ERC, 84 months) with the
    discounted value (docs/reports.md). The balances are the stored run's when it is as of the
    day; otherwise the engine computes them for the report (the store is not changed)."""
    from api.reports import service

    day = day_or_today(as_of, "--as-of")
    rate = service.discount_rate(text=discount_rate)
    output_file(out, "--out", "report.html")
    store = opened(database_url)
    with console.status(f"reading the book and computing the report on {portfolio}", quiet=as_json):
        figures = service.report(
            store=store, portfolio_id=portfolio, as_of=day, rate=rate, allow_stale_rates=allow_stale
        )
        if out is not None:
            service.write_html(figures=figures, out=out)
    if as_json:
        console.print_json(service.as_json(figures=figures) | ({"out": str(out)} if out is not None else {}))
        return
    print_summary(figures, out)


def print_summary(figures: dict, out: Path | None) -> None:
    p, c, e = figures["portfolio"], figures["collections"], figures["erc"]
    facts = [
        f"portfolio {p['portfolio_id']}",
        f"as of {figures['as_of']}",
        f"claims {formats.count(p['claims'])}",
        f"price {formats.amount(p['price'])}",
        f"collected {formats.amount(c['collected'])}",
        f"multiple {formats.ratio(c['multiple'])}",
        f"recovery rate {formats.percent(c['recovery_rate'])}",
        f"ERC {e['horizon_months']} months {formats.amount(e['total'])}",
        f"value at {formats.decimal(100 * e['discount_rate'], 2)}% {formats.amount(e['discounted'])}",
        f"expected multiple {formats.ratio(e['expected_multiple'])}",
        f"total due {formats.amount(figures['balances']['total_due'])}",
        f"time-barred {formats.amount(figures['limitation']['time_barred']['total_due'])}",
    ]
    formats.facts(console.out, facts)
    source = figures["state"]
    console.out.print(
        f"balances: {'stored run ' + str(source['run_id']) if source['source'] == 'run' else 'computed for this report'}"
        f"; {formats.seconds(figures['seconds'])}",
        highlight=False,
    )
    if out is not None:
        console.out.print(f"report -> {out}", highlight=False)
