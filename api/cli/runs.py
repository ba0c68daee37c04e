"""`cession run` (claim_state from the store, made the stored state; or a valuation series) and
`cession runs` (the latest runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from api import formats
from api.cli import console
from api.cli.options import (
    DEFAULT_WATERFALL,
    AllowStale,
    AsOfSeries,
    DatabaseUrl,
    Executor,
    Json,
    Partitions,
    Waterfall,
)
from api.cli.outputs import output_folder
from api.cli.parsing import days as parse_days
from api.cli.parsing import executor as executor_name
from api.cli.states import print_series, print_summary
from api.cli.store import opened
from engine.errors import InputError


def run(
    as_of: AsOfSeries = None,
    portfolio: Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio (default: all).")] = None,
    waterfall: Waterfall = DEFAULT_WATERFALL,
    allow_stale: AllowStale = False,
    executor: Executor = None,
    partitions: Partitions = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Several days: a folder for state-DAY.parquet (the store is not changed)."),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Compute claim_state from the store and replace the stored state atomically (recorded as a run).

    Several days (--as-of A,B or FIRST..LAST) make a valuation series: one claim_state per day,
    written to --out as Parquet, while the store keeps its current state."""
    days = parse_days(as_of)
    if len(days) > 1:
        output_folder(out, "--out")
    elif out is not None:
        raise InputError("--out goes with several --as-of days; one day replaces the stored state (see `cession runs`)")
    name = executor_name(executor)
    from api.runs import service

    store = opened(database_url)
    if len(days) > 1:
        with console.steps("computing", quiet=as_json) as steps:
            summaries = service.series(
                store=store,
                days=days,
                portfolio=portfolio,
                out=out,
                waterfall=waterfall,
                allow_stale_rates=allow_stale,
                executor=name,
                partitions=partitions,
                on_stage=steps.stage,
                on_progress=steps.advance,
            )
        print_series(summaries, out, as_json)
        return
    with console.steps("starting", quiet=as_json) as steps:
        record = service.run(
            store=store,
            as_of=days[0],
            portfolio=portfolio,
            waterfall=waterfall,
            allow_stale_rates=allow_stale,
            executor=name,
            partitions=partitions,
            on_stage=steps.stage,
            on_progress=steps.advance,
        )
    if as_json:
        from engine.money import pln

        summary = service.summary(record=record)
        summary["totals"] = {k: pln(v) for k, v in (record.totals or {}).items()}
        console.print_json(summary)
    else:
        print_run(record)


def runs(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20, database_url: DatabaseUrl = None, as_json: Json = False
) -> None:
    """The latest engine runs: when, as of which day, how they ended."""
    from api.runs import service

    records = service.latest(store=opened(database_url), limit=limit)
    if as_json:
        console.print_json([service.summary(record=r) for r in records])
        return
    if not records:
        console.out.print("no engine runs in this store yet (`cession run` makes one)")
        return
    print_runs(console.out, records)


def print_run(record) -> None:
    """A run's state as `cession state` prints a state, then the run's id, status and digest."""
    meta = record.provenance or {}
    summary = {
        "as_of": record.as_of.isoformat(),
        "claims": record.claims,
        "events": record.events,
        "totals": record.totals,
        "time_barred": record.time_barred,
        "suspended": meta.get("suspended", 0),
        "stale_rate_tables": meta.get("stale_rate_tables", {}),
        "waterfall": meta.get("waterfall"),
        "seconds": record.seconds,
        "limitation_rule_set": meta.get("rules", {}).get("limitation_rule_set", {}).get("rule_set"),
    }
    print_summary(summary, None)
    console.out.print(f"run {record.run_id} {record.status}; state sha256 {record.state_sha256[:16]}…", highlight=False)


def print_runs(to: Console, records) -> None:
    """The runs as a table, or one block per run where the terminal is too narrow for one."""
    columns = [
        formats.Column("run", "right"),
        formats.Column("status"),
        formats.Column("as of"),
        formats.Column("portfolio"),
        formats.Column("claims", "right", optional=True),
        formats.Column("barred", "right", optional=True),
        formats.Column("time", "right", optional=True),
        formats.Column("error", wraps=True),
    ]
    rows = [
        [
            str(r.run_id),
            r.status,
            str(r.as_of),
            escape(r.portfolio_id or "all"),
            formats.count(r.claims),
            formats.count(r.time_barred),
            formats.seconds(r.seconds),
            escape(formats.clipped(r.error or "")),
        ]
        for r in records
    ]
    formats.records(to, "Engine runs", columns, rows)
