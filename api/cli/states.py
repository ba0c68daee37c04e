"""`cession state`: claim_state from Parquet files, and the summary tables of a state that
`cession run` and `cession demo` print too."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import formats
from api.cli import console
from api.cli.options import (
    DEFAULT_WATERFALL,
    AllowStale,
    AsOfSeries,
    ClaimsFile,
    EventsFile,
    Executor,
    Json,
    Partitions,
    Waterfall,
)
from api.cli.outputs import output_file, output_folder
from api.cli.parsing import days as parse_days
from api.cli.parsing import executor as executor_name


def state(
    claims: ClaimsFile,
    events: EventsFile,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write claim_state here (Parquet); several days: a folder.")
    ] = None,
    as_of: AsOfSeries = None,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    allow_stale: AllowStale = False,
    executor: Executor = None,
    partitions: Partitions = None,
    as_json: Json = False,
) -> None:
    """Compute claim_state for every claim as of a day (or several), Parquet to Parquet, with a summary."""
    days = parse_days(as_of)
    if len(days) == 1:
        output_file(out, "--out", example="state.parquet")
    else:
        output_folder(out, "--out")
    name = executor_name(executor)
    from api.states import service

    with console.steps("computing", quiet=as_json) as steps:
        summaries = service.compute(
            claims=claims,
            events=events,
            days=days,
            out=out,
            waterfall=waterfall,
            allow_stale_rates=allow_stale,
            executor=name,
            partitions=partitions,
            on_stage=steps.stage,
            on_progress=steps.advance,
        )
    print_series(summaries, out, as_json)


SUMMARY_LABELS = {
    "principal_due": "principal due",
    "interest_due": "interest due",
    "interest_time_barred": "  of it time-barred (own 3-year runs)",
    "costs_due": "costs due",
    "total_due": "total due",
    "interest_accrued": "interest accrued after cut-off",
    "paid_costs": "paid to costs",
    "paid_interest": "paid to interest",
    "paid_principal": "paid to principal",
    "overpaid": "overpaid (owed back)",
}


def print_summary(summary: dict, out: Path | None) -> None:
    """One day's state: its money in a table, then its counts, rule set and time."""
    screen = console.out
    table = Table(title=f"Portfolio state as of {summary['as_of']}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("zł", justify="right", no_wrap=True)
    for key, label in SUMMARY_LABELS.items():
        table.add_row(
            label, formats.amount(summary["totals"][key]), end_section=key in ("total_due", "interest_accrued")
        )
    screen.print(table)
    claims = summary["claims"]
    barred = summary["time_barred"]
    share = f" ({formats.share(barred, claims)})" if claims else ""
    formats.facts(
        screen,
        [
            f"claims {formats.count(claims)}",
            f"events {formats.count(summary['events'])}",
            f"time-barred {formats.count(barred)}{share}",
            f"suspended (proceedings pending) {formats.count(summary['suspended'])}",
            f"waterfall {summary['waterfall']}",
            f"limitation rule set {summary.get('limitation_rule_set') or 'before 2026-12'}",
        ],
    )
    if summary["stale_rate_tables"]:
        screen.print(console.stale_note(summary["stale_rate_tables"], date.fromisoformat(summary["as_of"])))
    where = f" -> {out}" if out else ""
    screen.print(f"computed in {formats.seconds(summary['seconds'])}{where}", highlight=False)


def print_series(summaries: list[dict], out: Path | None, as_json: bool) -> None:
    """One row per day (a single day prints the full summary); one block per day where the
    terminal is too narrow for the table."""
    from engine.money import pln

    if as_json:
        for s in summaries:
            s["totals"] = {k: pln(v) for k, v in s["totals"].items()}
        if len(summaries) == 1:
            console.print_json(dict(summaries[0], out=str(out) if out else None))
        else:
            console.print_json({"out": str(out) if out else None, "states": summaries})
        return
    screen = console.out
    if len(summaries) == 1:
        print_summary(summaries[0], out)
        s = summaries[0]
        if s.get("executor") != "local" or (s.get("partitions") or 1) > 1:
            screen.print(f"executor {s['executor']}, {s['partitions']} partitions")
        return
    first = summaries[0]
    title = f"Portfolio states, {len(summaries)} days ({first['executor']}, {first['partitions']} partitions)"
    columns = [formats.Column("as of"), formats.Column("claims", "right", optional=True)]
    columns += [formats.Column(name, "right") for name in ("total due", "interest due", "paid")]
    columns += [formats.Column(name, "right", optional=True) for name in ("time-barred", "suspended", "time")]
    rows = []
    for s in summaries:
        t = s["totals"]
        paid = t["paid_costs"] + t["paid_interest"] + t["paid_principal"]
        rows.append(
            [
                s["as_of"],
                formats.count(s["claims"]),
                formats.amount(t["total_due"]),
                formats.amount(t["interest_due"]),
                formats.amount(paid),
                formats.count(s["time_barred"]),
                formats.count(s["suspended"]),
                formats.seconds(s["seconds"]),
            ]
        )
    formats.records(screen, title, columns, rows)
    stale = {name: day for s in summaries for name, day in s["stale_rate_tables"].items()}
    if stale:
        screen.print(console.stale_note(stale, date.fromisoformat(summaries[-1]["as_of"])))
    if out is not None:
        screen.print(f"-> {out}/state-<as of>.parquet")
