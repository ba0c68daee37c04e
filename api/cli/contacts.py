"""`cession contacts plan|send|results|history|object` and `cession letters templates|preview|reproduce`:
contact with debtors over the store (api/contacts/service.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api import formats
from api.cli import console
from api.cli.options import AllowStale, DatabaseUrl, Json
from api.cli.outputs import output_file, output_folder
from api.cli.parsing import day_or_today
from api.cli.store import opened
from engine.errors import InputError

contacts_app = typer.Typer(
    help="Contacts with debtors: plan, send, delivery results, history, objections.", no_args_is_help=True
)
letters_app = typer.Typer(help="Letters: their templates, a preview, a sent letter reproduced.", no_args_is_help=True)

AsOfDay = Annotated[str | None, typer.Option("--as-of", help="The day of the contacts, YYYY-MM-DD (default: today).")]
RulesFile = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Contact rules YAML (default: env CESSION_CONTACT_RULES, else contacts/data/contact_rules.yaml).",
    ),
]
PurchaserFile = Annotated[
    Path | None,
    typer.Option("--purchaser", help="Who the letters come from, YAML (default: contacts/data/purchaser.yaml)."),
]
Templates = Annotated[
    Path | None, typer.Option("--templates", help="A folder of templates (default: contacts/templates/).")
]


def _when(value) -> str:
    return "-" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


@contacts_app.command("plan")
def plan(
    as_of: AsOfDay = None,
    rules: RulesFile = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write every planned contact to this Parquet or CSV file.")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """What would go out on the day and what is held back, and why (nothing is stored or sent)."""
    output_file(out, "--out", example="plan.parquet")
    if out is not None:
        from ledger.files import format_of

        format_of(out)
    from api.contacts import service

    when = day_or_today(as_of, "--as-of")
    planned = service.plan(store=opened(database_url), as_of=when, rules_path=rules)
    if out is not None:
        from ledger.files import write

        write(planned.plan, out, sheet="plan", money=("total_due",))
    if as_json:
        console.print_json(planned.summary())
        return
    print_plan(when, planned)


def print_plan(when, planned) -> None:
    """A day's plan for people: what goes out by step and channel, what is held by rule and why."""
    summary = planned.summary()
    screen = console.out
    screen.print(
        f"[bold]Contacts of {when}[/] ({'as stored: sent from' if planned.stored else 'a plan: nothing stored'})"
        f" rules {planned.rules_sha256[:12]}{' (STALE: past last_value_still_valid_on)' if planned.stale_rules else ''}",
        highlight=False,
    )
    formats.facts(
        screen,
        [
            f"contacts {formats.count(summary['contacts'])}",
            f"going out {formats.count(summary['queued'])}",
            f"held {formats.count(summary['held'])}",
        ],
    )
    if summary["queued_by"]:
        formats.records(
            screen,
            "Going out",
            [formats.Column("step"), formats.Column("channel"), formats.Column("contacts", "right")],
            [[r["step"], r["channel"], formats.count(r["contacts"])] for r in summary["queued_by"]],
        )
    if summary["held_by"]:
        from contacts.vocabulary import HoldRule

        formats.records(
            screen,
            "Held back",
            [
                formats.Column("step"),
                formats.Column("rule"),
                formats.Column("contacts", "right"),
                formats.Column("why", wraps=True),
            ],
            [
                [r["step"], r["rule"], formats.count(r["contacts"]), HoldRule(r["rule"]).about]
                for r in summary["held_by"]
            ],
        )


@contacts_app.command("send")
def send(
    as_of: AsOfDay = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="The moment of sending, ISO with offset (default: now); only contacts whose window holds it go.",
        ),
    ] = None,
    letters: Annotated[
        Path | None,
        typer.Option("--letters", help="The print house's folder: a batch folder of PDFs and a manifest per send."),
    ] = None,
    smtp_host: Annotated[
        str | None, typer.Option("--smtp-host", envvar="CESSION_SMTP_HOST", help="SMTP server for e-mail.")
    ] = None,
    smtp_port: Annotated[int, typer.Option("--smtp-port", envvar="CESSION_SMTP_PORT", help="Its port.")] = 25,
    starttls: Annotated[
        bool, typer.Option("--starttls", help="STARTTLS before sending (login from CESSION_SMTP_USER/PASSWORD).")
    ] = False,
    mail_from: Annotated[
        str | None, typer.Option("--mail-from", envvar="CESSION_MAIL_FROM", help="The e-mails' sender.")
    ] = None,
    sms_out: Annotated[
        Path | None, typer.Option("--sms-out", help="The SMS provider's folder (the file driver: a CSV per batch).")
    ] = None,
    calls_out: Annotated[Path | None, typer.Option("--calls-out", help="A folder for the staff's call lists.")] = None,
    rules: RulesFile = None,
    purchaser: PurchaserFile = None,
    templates: Templates = None,
    allow_stale_rates: AllowStale = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            envvar="CESSION_LETTER_WORKERS",
            help="Processes rendering letters (default: the cores).",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Store the day's plan (once) and send its queued contacts whose window is open now."""
    for path, option in ((letters, "--letters"), (sms_out, "--sms-out"), (calls_out, "--calls-out")):
        output_folder(path, option)
    from datetime import datetime

    from api.contacts import service

    when = day_or_today(as_of, "--as-of")
    moment = None
    if at is not None:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise InputError(f"--at: {at!r} is not a moment (e.g. 2026-12-07T10:00:00+01:00)") from None
    outlets = service.Outlets(
        letters=letters,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        mail_from=mail_from,
        smtp_starttls=starttls,
        sms=sms_out,
        calls=calls_out,
    )
    done = service.send(
        store=opened(database_url),
        as_of=when,
        outlets=outlets,
        at=moment,
        rules_path=rules,
        purchaser_path=purchaser,
        template_folder=templates,
        allow_stale_rates=allow_stale_rates,
        workers=workers,
    )
    if as_json:
        console.print_json(done)
        return
    screen = console.out
    screen.print(f"[bold]Contacts of {when}[/] sent at {done['at']}", highlight=False)
    facts = [f"planned now {formats.count(done['planned'])}"]
    facts += [f"sent {channel} {formats.count(n)}" for channel, n in done["sent"].items()]
    facts += [f"failed {formats.count(done['failed'])}", f"expired {formats.count(done['expired'])}"]
    facts += [f"waiting for a {c} outlet {formats.count(n)}" for c, n in done["waiting_for_a_driver"].items()]
    formats.facts(screen, facts)
    for batch in done["batches"]:
        screen.print(f"batch {escape(batch)}", highlight=False)
    for failure in done["failures"]:
        screen.print(
            f"failed: contact {failure['contact_id']} ({failure['channel']}): {escape(failure['detail'])}",
            highlight=False,
        )


@contacts_app.command("results")
def results(
    file: Annotated[
        Path,
        typer.Argument(
            help="Delivery results, CSV or Parquet: contact_id, result (delivered, bounced, returned), day[, detail]."
        ),
    ],
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write the rejected rows with their reasons to this CSV.")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Delivery results as contact events; a returned letter marks its address doubtful."""
    output_file(rejects, "--rejects", example="rejects.csv")
    from api.contacts import service

    done = service.results(store=opened(database_url), path=file, rejects=rejects)
    if as_json:
        console.print_json(done)
        return
    formats.facts(
        console.out,
        [
            f"rows {formats.count(done['rows'])}",
            f"stored {formats.count(done['stored'])}",
            f"already stored {formats.count(done['already_stored'])}",
            f"rejected {formats.count(done['rejected'])}",
            f"addresses marked doubtful {formats.count(done['doubtful_addresses'])}",
        ],
    )
    for r in done["rejects"]:
        console.out.print(f"row {r['row']}: {escape(r['reason'])}", highlight=False)


def print_history(screen, found: dict) -> None:
    """A claim's or a debtor's contacts as a table (also `cession explain`'s)."""
    contacts = found["contacts"]
    if not contacts:
        screen.print("No contacts.", highlight=False)
    else:
        formats.records(
            screen,
            "Contacts",
            [
                formats.Column("id", "right"),
                formats.Column("day"),
                formats.Column("claim", "right"),
                formats.Column("step"),
                formats.Column("channel"),
                formats.Column("status"),
                formats.Column("rule / results", wraps=True),
            ],
            [
                [
                    str(c["contact_id"]),
                    _when(c["day"]),
                    str(c["claim_id"]),
                    c["step"],
                    c["channel"] or "-",
                    c["status"],
                    (c["rule"] + (f": {c['detail']}" if c["detail"] else ""))
                    if c["rule"]
                    else ", ".join(f"{r['result']} {_when(r['day'])}" for r in c["results"]) or "-",
                ]
                for c in contacts
            ],
        )
    if found["objections"]:
        screen.print(
            "objected to: " + ", ".join(f"{o['channel']} (since {_when(o['since'])})" for o in found["objections"]),
            highlight=False,
        )
    for d in found["doubtful_addresses"]:
        screen.print(
            f"doubtful address since {_when(d['since'])}: {escape(' / '.join(d['address'].split(chr(10))))}",
            highlight=False,
        )


def jsonable(found: dict) -> dict:
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value.isoformat() if hasattr(value, "isoformat") else value

    return clean(found)


@contacts_app.command("history")
def history(
    claim: Annotated[int | None, typer.Option("--claim", help="A claim's contacts.")] = None,
    debtor: Annotated[int | None, typer.Option("--debtor", help="A debtor's contacts (every claim).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The contacts of a claim or a debtor, newest first, with their delivery results and holds."""
    from api.contacts import service

    found = service.history(store=opened(database_url), claim_id=claim, debtor_id=debtor)
    if as_json:
        console.print_json(jsonable(found))
        return
    print_history(console.out, found)


@contacts_app.command("object")
def object_to(
    debtor: Annotated[int, typer.Argument(help="The debtor.")],
    channel: Annotated[str, typer.Option("--channel", help="letter, email, sms or phone.")],
    since: Annotated[str | None, typer.Option("--since", help="From this day, YYYY-MM-DD (default: today).")] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="How the objection came (a letter of ..., a call).")
    ] = None,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="The debtor withdrew the objection.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """A debtor objected to a channel: no contact on it from then on (or, --withdraw, again allowed)."""
    from api.contacts import service

    changed = service.object_to(
        store=opened(database_url),
        debtor_id=debtor,
        channel=channel,
        since=day_or_today(since, "--since"),
        note=note,
        withdraw=withdraw,
    )
    what = "withdrawn" if withdraw else "stored"
    console.out.print(
        f"debtor {debtor}: objection to {channel} {what if changed else 'unchanged (nothing to do)'}", highlight=False
    )


@letters_app.command("templates")
def templates_list(templates: Templates = None, database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """The templates (their sha256 now) and every version the store keeps."""
    from api.contacts import service

    found = service.templates(store=opened(database_url), template_folder=templates)
    if as_json:
        console.print_json(jsonable(found))
        return
    formats.records(
        console.out,
        "Templates",
        [formats.Column("template"), formats.Column("channel"), formats.Column("file"), formats.Column("sha256")],
        [[t["template"], t["channel"], t["name"], t["sha256"][:16]] for t in found["current"]],
    )
    if found["stored"]:
        formats.records(
            console.out,
            "Versions sent",
            [
                formats.Column("file"),
                formats.Column("version", "right"),
                formats.Column("sha256"),
                formats.Column("first used"),
            ],
            [[s["name"], str(s["version"]), s["template_hash"][:16], _when(s["loaded_at"])] for s in found["stored"]],
        )


@letters_app.command("preview")
def preview(
    claim: Annotated[int, typer.Argument(help="The claim.")],
    template: Annotated[str, typer.Option("--template", help="notice, reminder or demand.")],
    out: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    as_of: AsOfDay = None,
    purchaser: PurchaserFile = None,
    templates: Templates = None,
    allow_stale_rates: AllowStale = False,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A letter about a claim as it would be sent on the day, to a PDF (nothing is stored or sent)."""
    output_file(out, "--out", example="letter.pdf")
    from api.contacts import service

    done = service.preview(
        store=opened(database_url),
        claim_id=claim,
        template=template,
        as_of=day_or_today(as_of, "--as-of"),
        out=out,
        purchaser_path=purchaser,
        template_folder=templates,
        allow_stale_rates=allow_stale_rates,
    )
    if as_json:
        console.print_json(done)
        return
    amounts = done["data"]["amounts"]
    console.out.print(
        f"{out}: {done['pages']} page(s), total {formats.amount(amounts['total'])} as of {amounts['as_of']}",
        highlight=False,
    )


@letters_app.command("reproduce")
def reproduce(
    letter: Annotated[int, typer.Argument(help="The letter's id (its contact id).")],
    out: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A sent letter rendered again from its stored data and template: the same bytes, or an error."""
    output_file(out, "--out", example="letter.pdf")
    from api.contacts import service

    done = service.reproduce(store=opened(database_url), letter_id=letter, out=out)
    if as_json:
        console.print_json(done)
        return
    console.out.print(
        f"{out}: letter {letter}, {done['pages']} page(s), sha256 {done['sha256']} (as sent)", highlight=False
    )
