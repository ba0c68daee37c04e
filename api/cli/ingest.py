"""`cession ingest FILE --portfolio P ...`: a seller's file into a portfolio, with a progress bar, a
summary and a reject report; `cession ingest report INGEST_ID`: an ingest's reports written again
from the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from typer.core import TyperGroup

from api import formats
from api.cli import console
from api.cli.options import DatabaseUrl, Json
from api.cli.outputs import output_stem
from api.cli.parsing import day_or_none, grosz_or_none
from api.cli.store import opened


class _FileOrCommand(TyperGroup):
    """`cession ingest FILE --portfolio P ...` and `cession ingest report INGEST_ID`: a first
    argument that is not one of the group's commands (nor --help alone) is the file of the
    default command, `file` (a file named like a command: ./report)."""

    default = "file"

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args not in (["--help"], ["-h"]):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


ingest_app = typer.Typer(
    cls=_FileOrCommand,
    no_args_is_help=True,
    help="Ingest a seller's file: `cession ingest FILE --portfolio P [OPTIONS]` (see `cession ingest file --help`); "
    "write an ingest's reports again: `cession ingest report INGEST_ID`.",
)


def ingested(store, file: Path, portfolio: str, *, quiet: bool = False, **options):
    """The ingests service with a progress bar on stderr (reading rows, then storing), and the
    lines of earlier ingests' reports it finished."""
    from api.ingests import service

    with console.steps("hashing", quiet=quiet) as steps:

        def on_progress(stage: str, done: int, total: int | None) -> None:
            steps.stage(stage)
            steps.advance(done, total)

        report = service.ingest(store=store, file=file, portfolio=portfolio, on_progress=on_progress, **options)
    if not quiet:
        for line in report.finished:
            console.err.print(line, highlight=False)
    return report


def print_report(report, reports: dict | None, shown: int = 10) -> None:
    """The summary a purchaser reads: what came in, what did not and why, and where the details are."""

    count, amount = formats.count, formats.amount
    screen = console.out
    if report.status == "already ingested":
        a = report.already
        screen.print(
            f"[bold]{report.file.name}[/] (sha256 {report.sha256[:12]}…) was already ingested into "
            f"portfolio [bold]{a['portfolio']}[/] (version {a['version']}) on {a['at'][:19]} by {a['by']}: "
            "nothing stored again. To ingest it on purpose as a new version: --new-version."
        )
        screen.print(
            f"  then: {count(report.rows_read)} rows read, {count(report.accepted)} accepted, "
            f"{count(report.rejected)} rejected",
            highlight=False,
        )
        return
    table = Table(
        title=f"Ingest of {report.file.name} into {report.portfolio_id}", header_style="bold", show_header=False
    )
    table.add_column("what")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_row("rows read", count(report.rows_read))
    table.add_row("accepted", f"[green]{count(report.accepted)}[/]")
    table.add_row("rejected", f"[{'yellow' if report.rejected else 'green'}]{count(report.rejected)}[/]")
    ok = report.accepted + report.rejected == report.rows_read
    table.add_row("accepted + rejected = rows read", "[green]yes[/]" if ok else "[bold red]NO[/]")
    if report.blank_lines:
        table.add_row("blank lines skipped", count(report.blank_lines))
    if report.padded_rows:
        table.add_row("short rows padded (pad_short_rows)", f"[yellow]{count(report.padded_rows)}[/]")
    table.add_row("principal accepted", amount(report.principal))
    table.add_row("purchase price allocated", amount(report.purchase_price))
    table.add_row("debtors new / already stored", f"{count(report.new_debtors)} / {count(report.known_debtors)}")
    table.add_row("probable duplicate debtors (not merged)", count(report.candidates.height))
    conflicts = report.conflicts.height
    table.add_row(
        "same PESEL/NIP, another name (accepted)", f"[{'yellow' if conflicts else 'green'}]{count(conflicts)}[/]"
    )
    overlaps = report.overlaps.get_column("row").n_unique()
    if overlaps:
        table.add_row("claims another portfolio holds (--allow-duplicates)", f"[yellow]{count(overlaps)}[/]")
    table.add_row("encoding", str(report.encoding or "-"))
    table.add_row("version", str(report.version))
    screen.print(table)
    control = report.control
    if control is not None and control.given:
        verdict = "[green]control totals match[/]" if control.ok else "[bold red]CONTROL TOTALS DO NOT MATCH[/]"
        parts = [f"{verdict}:"]  # each a whole: a line breaks between them, never inside an amount
        if control.count is not None:
            parts += [f"count {count(control.count)}", f"vs {count(control.rows_read)} rows read"]
        if control.principal is not None:
            parts[-1] += ";" if len(parts) > 1 else ""
            parts += [f"principal {amount(control.principal)}", f"vs {amount(control.principal_read)}"]
            if control.unparsed_principal:
                parts.append(f"({count(control.unparsed_principal)} rows without a readable principal)")
        formats.facts(screen, parts, separator=" ")
    by_rule = report.rejects_by_rule()
    if by_rule:
        rules = Table(title="Rejected rows by rule (a row may break several)", header_style="bold")
        rules.add_column("column: rule")
        rules.add_column("rows", justify="right")
        for rule, n in list(by_rule.items())[:15]:
            rules.add_row(rule, count(n))
        screen.print(rules)
        screen.print(f"First {min(shown, report.failures.height)} failures (row, column, rule, value):")
        for r in report.failures.head(shown).iter_rows(named=True):
            screen.print(f"  row {r['row']}: {r['column']}: {r['rule']} [dim]({r['value']!r})[/]", highlight=False)
    if reports:
        screen.print("Reports: " + ", ".join(str(p) for p in reports.values()))
    screen.print(
        f"ingest {report.ingest_id} stored in one transaction ({formats.seconds(report.seconds)})", highlight=False
    )


@ingest_app.command("file")
def ingest_command(
    file: Annotated[
        Path,
        typer.Argument(help="The seller's file: CSV (UTF-8/Windows-1250/ISO-8859-2), XLSX or Parquet.", metavar="FILE"),
    ],
    portfolio: Annotated[str, typer.Option("--portfolio", help="The portfolio (purchase) the claims go into.")],
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help="Seller profile: a shipped name or a YAML file (default: docs/data-contract.md's column names).",
        ),
    ] = None,
    price: Annotated[
        str | None,
        typer.Option("--price", help="The portfolio's price in PLN, allocated to claims pro rata to face value."),
    ] = None,
    purchase_date: Annotated[
        str | None, typer.Option("--purchase-date", help="YYYY-MM-DD, when the file has no purchase_date column.")
    ] = None,
    new_version: Annotated[
        bool,
        typer.Option(
            "--new-version",
            help="Ingest as the portfolio's next version (<portfolio>@v<n>), even a file already ingested.",
        ),
    ] = False,
    allow_duplicates: Annotated[
        bool,
        typer.Option(
            "--allow-duplicates",
            help="Store rows whose claim (the seller's seller_ref) another portfolio of the same seller holds; they are listed in STEM.overlaps.csv. Without it such a file is refused.",
        ),
    ] = False,
    control_count: Annotated[
        int | None, typer.Option("--control-count", help="The seller's number of claims (overrides the profile's).")
    ] = None,
    control_principal: Annotated[
        str | None,
        typer.Option("--control-principal", help="The seller's sum of principal in PLN (overrides the profile's)."),
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            help="Stem of the reports: STEM.rejects.csv/.parquet, STEM.candidates.csv, STEM.name_conflicts.csv, STEM.overlaps.csv (default: ./<file name>); written with the commit.",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Ingest a seller's file: every row validated, debtors deduplicated, stored in one transaction
    with its reports; rejected rows go to the reject report with row, column, rule and value. The
    same file twice into a portfolio is recognised and stores nothing (into another portfolio name it
    is refused); the same claims in another file, or rows whose claims another portfolio of the
    seller holds, are refused (exit 2) unless --allow-duplicates."""
    output_stem(reports or Path(file.name), "--reports")
    started = time.perf_counter()
    report = ingested(
        opened(database_url),
        file,
        portfolio,
        quiet=as_json,
        profile=profile,
        price=grosz_or_none(price, "--price"),
        purchase_date=day_or_none(purchase_date, "--purchase-date"),
        new_version=new_version,
        control_count=control_count,
        control_principal=grosz_or_none(control_principal, "--control-principal"),
        reports=reports,
        allow_duplicates=allow_duplicates,
    )
    if as_json:
        console.print_json(
            report.summary()
            | {
                "reports": {k: str(v) for k, v in report.reports.items()},
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    else:
        print_report(report, report.reports)


@ingest_app.command("report")
def report_command(
    ingest_id: Annotated[
        int,
        typer.Argument(
            help="The ingest's number (its summary's last line: 'ingest N stored ...'; --json: ingest_id).",
            metavar="INGEST_ID",
        ),
    ],
    reports: Annotated[
        Path | None,
        typer.Option(
            "--reports", help="Stem of the reports (default: where the ingest wrote them, else ./<file name>)."
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """An ingest's reports (rejects, debtor candidates, name conflicts, overlaps) written again from
    the store, identical to the first ones: for a report file lost or never put in place."""
    from api.ingests import service

    if reports is not None:
        output_stem(reports, "--reports")
    record, written, finished = service.rewrite_reports(
        store=opened(database_url), ingest_id=ingest_id, reports=reports
    )
    summary = {
        "ingest_id": record.ingest_id,
        "file": record.file_name,
        "portfolio": record.portfolio_id,
        "ingested_at": record.ingested_at.isoformat(),
        "rows_read": record.rows_read,
        "accepted": record.accepted,
        "rejected": record.rejected,
        "accounted": record.accepted + record.rejected == record.rows_read,
        "reports": {k: str(v) for k, v in written.items()},
        "finished": finished,
    }
    if as_json:
        console.print_json(summary)
        return
    for line in finished:
        console.err.print(line, highlight=False)
    console.out.print(
        f"ingest {record.ingest_id}: {record.file_name} into {record.portfolio_id} on {record.ingested_at:%Y-%m-%d %H:%M} "
        f"by {record.actor}: {formats.count(record.rows_read)} rows read, {formats.count(record.accepted)} accepted, "
        f"{formats.count(record.rejected)} rejected",
        highlight=False,
    )
    console.out.print("Reports written again: " + ", ".join(str(p) for p in written.values()), highlight=False)
