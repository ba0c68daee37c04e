"""`cession statements import FILE` and `cession statements list`: bank statements in; `cession
suspense list|assign|refund`: the credits nobody's yet (api/statements/service.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.options import DatabaseUrl, Json
from api.cli.store import opened

statements_app = typer.Typer(help="Bank statements in: MT940, camt.053, banks' CSV exports.", no_args_is_help=True)
suspense_app = typer.Typer(
    help="The suspense queue: credits no claim was found for, until a person decides.", no_args_is_help=True
)

Split = Annotated[
    str | None,
    typer.Option(
        "--split",
        envvar="CESSION_SPLIT_RULE",
        help="How a debtor's payment is split over the debtor's open claims: oldest_due_first (the default), "
        "largest_balance_first or proportional.",
    ),
]
Note = Annotated[str | None, typer.Option("--note", help="Why: kept with the decision in the audit log.")]
OUTCOME_STYLE = {"posted": "green", "suspense": "yellow", "refused": "red"}


@statements_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The statement: MT940 (.sta, .mt940), camt.053 XML, or a bank's CSV.")],
    bank_account: Annotated[
        str | None,
        typer.Option(
            "--bank-account",
            help="The fund's account the statement is for (NRB or PL IBAN): checked against the file; "
            "required for a CSV export that does not name it.",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="A bank's CSV export: a shipped profile (mbank, ing) or a YAML file."),
    ] = None,
    split: Split = None,
    lines: Annotated[int, typer.Option("--lines", min=0, help="Lines of the statement to show (0: none).")] = 30,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Import a bank statement: each credit matched to claims and posted as a payment, or kept in
    suspense, each return reversed, every other line refused with its reason. The same statement
    again posts nothing new."""
    from api.statements import service

    store = opened(database_url)
    with console.status("importing the statement", quiet=as_json):
        report = service.import_file(store=store, file=file, bank_account=bank_account, profile=profile, split=split)
    if as_json:
        console.print_json(report.summary() | {"lines": _json_lines(report)})
        return
    _print_report(report, lines)


def _json_lines(report) -> list[dict]:
    claims = {}
    for r in report.parts.iter_rows(named=True):
        claims.setdefault(r["position"], []).append(
            {"claim_id": r["claim_id"], "event_id": r["event_id"], "kind": r["kind"], "amount": _pln(r["amount"])}
        )
    out = []
    for r in report.outcomes.iter_rows(named=True):
        out.append(
            {
                "line": r["position"],
                "bank_ref": r["bank_ref"],
                "booking_date": r["booking_date"].isoformat() if r["booking_date"] else None,
                "amount": _pln(r["amount"]),
                "direction": r["direction"],
                "outcome": r["outcome"],
                "already_imported": r["already"],
                "line_id": r["line_id"],
                "status": r["status"],
                "matched_by": r["matched_by"],
                "debtor_id": r["debtor_id"],
                "candidate_claim_id": r["candidate_claim_id"],
                "reason": r["reason"],
                "events": claims.get(r["position"], []),
            }
        )
    return out


def _pln(grosz: int | None) -> str | None:
    return None if grosz is None else f"{grosz // 100}.{grosz % 100:02d}"


def _print_report(report, shown: int) -> None:
    from rich.table import Table

    screen, count, amount = console.out, formats.count, formats.amount
    s = report.statement
    table = Table(title=f"Statement {s.file.name} ({s.format}, account {s.bank_account})", show_header=False)
    table.add_column("what")
    table.add_column("lines", justify="right", no_wrap=True)
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_row("lines read", count(report.lines_read), "")
    for outcome in ("posted", "suspense", "refused"):
        style = OUTCOME_STYLE[outcome]
        table.add_row(f"[{style}]{outcome}[/]", count(report.count(outcome)), amount(report.amount(outcome)))
    ok = report.count("posted") + report.count("suspense") + report.count("refused") == report.lines_read
    table.add_row("posted + suspense + refused = lines read", "[green]yes[/]" if ok else "[bold red]NO[/]", "")
    table.add_row("already imported (nothing new)", count(report.already), "")
    table.add_row("events written", count(report.parts.height), "")
    candidates = report.outcomes.filter(report.outcomes["candidate_claim_id"].is_not_null()).height
    table.add_row("candidates for a person (cession suspense list)", count(candidates), "")
    for how, n in report.by_match().items():
        table.add_row(f"  matched by {how}", count(n), "")
    table.add_row("split rule", report.split_rule.value, "")
    screen.print(table)
    if shown == 0 or report.outcomes.height == 0:
        return
    claims: dict[int, list[str]] = {}
    for r in report.parts.iter_rows(named=True):
        sign = "-" if r["kind"] == "reversal" else ""
        claims.setdefault(r["position"], []).append(f"{r['claim_id']}: {sign}{amount(r['amount'], currency=False)}")
    columns = [
        formats.Column("line", "right"),
        formats.Column("booked"),
        formats.Column("amount", "right"),
        formats.Column("outcome"),
        formats.Column("claims / reason", wraps=True),
        formats.Column("matched by", optional=True),
        formats.Column("bank ref", optional=True),
    ]
    rows = []
    for r in report.outcomes.head(shown).iter_rows(named=True):
        sign = "-" if r["direction"] == "debit" else ""
        outcome = r["outcome"] + (" (before)" if r["already"] else "")
        rows.append(
            [
                str(r["position"]),
                r["booking_date"].isoformat() if r["booking_date"] else "-",
                sign + amount(r["amount"]) if r["amount"] is not None else "-",
                f"[{OUTCOME_STYLE[r['outcome']]}]{outcome}[/]",
                "; ".join(claims.get(r["position"], [])) or (r["reason"] or ""),
                r["matched_by"] or "",
                r["bank_ref"] or "",
            ]
        )
    formats.records(screen, "Lines", columns, rows)
    if report.outcomes.height > shown:
        screen.print(f"(the first {count(shown)} of {count(report.outcomes.height)} lines; --json gives them all)")


@statements_app.command("list")
def list_imports(
    limit: Annotated[int, typer.Option("--limit", min=1, help="The latest this many imports.")] = 20,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The statements imported, newest first: what became of their lines."""
    from api.statements import service

    found = service.imports(store=opened(database_url), limit=limit)
    if as_json:
        console.print_json(found.to_dicts())
        return
    count = formats.count
    columns = [formats.Column("import", "right"), formats.Column("file", wraps=True)]
    columns += [formats.Column(c, "right") for c in ("lines", "posted", "suspense", "refused")]
    columns += [formats.Column(c, optional=True) for c in ("at", "before", "account", "by")]
    rows = [
        [
            str(r["import_id"]),
            Path(r["file_name"]).name,
            count(r["lines_read"]),
            count(r["posted"]),
            count(r["suspense"]),
            count(r["refused"]),
            r["imported_at"][:16],
            count(r["already"]),
            r["bank_account"],
            r["actor"],
        ]
        for r in found.iter_rows(named=True)
    ]
    formats.records(console.out, "Statement imports", columns, rows)


@suspense_app.command("list")
def suspense_list(
    status: Annotated[
        str, typer.Option("--status", help="open (the default), assigned, refunded, returned or all.")
    ] = "open",
    bank_account: Annotated[str | None, typer.Option("--bank-account", help="Only this account's lines.")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The credits in suspense, oldest first, each with why and the candidate claim a person may confirm."""
    from api.statements import service

    found = service.suspense_lines(store=opened(database_url), status=status, bank_account=bank_account)
    if as_json:
        rows = found.with_columns(found["booking_date"].cast(str)).to_dicts()
        for row in rows:
            row["amount"] = _pln(row["amount"])
        console.print_json(rows)
        return
    amount = formats.amount
    columns = [
        formats.Column("line", "right"),
        formats.Column("booked"),
        formats.Column("amount", "right"),
        formats.Column("payer", wraps=True),
        formats.Column("title", wraps=True),
        formats.Column("candidate", "right"),
        formats.Column("status"),
        formats.Column("why", wraps=True, optional=True),
    ]
    rows = [
        [
            str(r["line_id"]),
            r["booking_date"].isoformat(),
            amount(r["amount"]),
            r["counterparty_name"] or "-",
            r["title"] or "",
            str(r["candidate_claim_id"]) if r["candidate_claim_id"] is not None else "",
            r["status"],
            r["reason"] or "",
        ]
        for r in found.iter_rows(named=True)
    ]
    formats.records(console.out, f"Suspense ({status})", columns, rows)
    total = int(found["amount"].sum()) if found.height else 0
    console.out.print(f"{formats.count(found.height)} lines, {amount(total)}", highlight=False)


@suspense_app.command("assign")
def suspense_assign(
    line: Annotated[int, typer.Argument(help="The suspense line (its id in `cession suspense list`).")],
    claim: Annotated[int | None, typer.Option("--claim", help="Post it all to this claim.")] = None,
    debtor: Annotated[
        int | None, typer.Option("--debtor", help="Post it to this debtor, split over the open claims.")
    ] = None,
    split: Split = None,
    note: Note = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Take a credit out of suspense: post it to a claim (or a debtor's claims) as a person decided."""
    from api.statements import service

    events = service.assign(
        store=opened(database_url), line_id=line, claim_id=claim, debtor_id=debtor, split=split, note=note
    )
    if as_json:
        console.print_json(
            {
                "line_id": line,
                "status": "assigned",
                "events": [e | {"amount": _pln(e["amount"])} for e in events.to_dicts()],
            }
        )
        return
    for e in events.iter_rows(named=True):
        console.out.print(
            f"line {line}: payment {formats.amount(e['amount'])} to claim {e['claim_id']} (event {e['event_id']})",
            highlight=False,
        )


@suspense_app.command("refund")
def suspense_refund(
    line: Annotated[int, typer.Argument(help="The suspense line (its id in `cession suspense list`).")],
    note: Note = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Take a credit out of suspense: the money goes back to its payer (recorded, audited)."""
    from api.statements import service

    done = service.refund(store=opened(database_url), line_id=line, note=note)
    if as_json:
        console.print_json({"line_id": line, "status": done["status"], "amount": _pln(done["amount"])})
        return
    console.out.print(
        f"line {line}: {formats.amount(done['amount'])} to be refunded to "
        f"{done['counterparty_name'] or '-'} ({done['counterparty_account'] or 'no account given'})",
        highlight=False,
    )
