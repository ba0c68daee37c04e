"""`cession plans create|show|list|cancel|update`, `cession settlements create|show|list|cancel` and
`cession promises create|show|list|cancel|rates`: instalment agreements, settlements at a discount and
promises to pay (api/plans/service.py; docs/plans.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from api import formats
from api.cli import console
from api.cli.options import DatabaseUrl, Json
from api.cli.parsing import day, day_or_none, day_or_today, grosz, grosz_or_none
from api.cli.store import opened
from engine.errors import InputError

plans_app = typer.Typer(
    help="Payment plans (ugody ratalne): instalments, an optional down payment and conditional write-off.",
    no_args_is_help=True,
)
settlements_app = typer.Typer(
    help="Settlements: a claim closed for a lower amount if paid by a day (the rest written off).",
    no_args_is_help=True,
)
promises_app = typer.Typer(
    help="Promises to pay: an amount by a day, kept or broken by the payments; kept-promise rates.",
    no_args_is_help=True,
)

Claim = Annotated[int, typer.Option("--claim", help="The claim (claim_id).")]
ClaimFilter = Annotated[int | None, typer.Option("--claim", help="Only this claim's.")]
Portfolio = Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio's.")]
Limit = Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")]
Agency = Annotated[str | None, typer.Option("--agency", help="The agency that negotiated it (agency_id).")]
Note = Annotated[str | None, typer.Option("--note", help="A note kept with it.")]
On = Annotated[str | None, typer.Option("--on", help="Day of the cancellation (default: today).")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (kept with it).")]


def _said(as_json: bool, data, text: str) -> None:
    if as_json:
        console.print_json(data)
    else:
        console.out.print(text, highlight=False)


def _money(text: str | None) -> str:
    from engine.money import to_grosz

    return "-" if text is None else formats.amount(to_grosz(text))


def _custom(texts: list[str] | None) -> list[tuple]:
    """``--instalment DAY:AMOUNT`` (repeatable) as (day, grosz) pairs."""
    out = []
    for text in texts or []:
        when, sep, amount = text.partition(":")
        if not sep:
            raise InputError(f"--instalment {text!r}: DAY:AMOUNT, e.g. 2026-01-31:250.00")
        out.append((day(when, "--instalment"), grosz(amount, "--instalment")))
    return out


# --- plans -----------------------------------------------------------------------------------------


@plans_app.command("create")
def plans_create(
    claim: Claim,
    signed_on: Annotated[
        str | None,
        typer.Option("--signed-on", help="Day the debtor signed (default: today): the acknowledgment's day."),
    ] = None,
    total: Annotated[
        str | None, typer.Option("--total", help="The agreed total, zł, down payment included (e.g. 1200.00).")
    ] = None,
    instalments: Annotated[
        int | None, typer.Option("--instalments", min=1, help="Equal monthly instalments: how many.")
    ] = None,
    first_due: Annotated[
        str | None, typer.Option("--first-due", help="Equal instalments: the first one's day (then monthly).")
    ] = None,
    instalment: Annotated[
        list[str] | None,
        typer.Option("--instalment", help="A custom instalment DAY:AMOUNT (repeatable, days ascending)."),
    ] = None,
    down_payment: Annotated[str | None, typer.Option("--down-payment", help="A down payment, zł.")] = None,
    down_payment_on: Annotated[
        str | None, typer.Option("--down-payment-on", help="Its day (default: the day signed).")
    ] = None,
    write_off_rest: Annotated[
        bool,
        typer.Option(
            "--write-off-rest",
            help="Write off the rest of the claim once every instalment is paid on time (conditional write-off).",
        ),
    ] = False,
    grace_days: Annotated[
        int,
        typer.Option(
            "--grace-days",
            min=0,
            envvar="CESSION_PLAN_GRACE_DAYS",
            help="Paid within this many days after its day: on time.",
        ),
    ] = 5,
    break_after_days: Annotated[
        int,
        typer.Option(
            "--break-after-days",
            min=0,
            envvar="CESSION_PLAN_BREAK_AFTER_DAYS",
            help="Unpaid this many days after its day: the plan is broken.",
        ),
    ] = 30,
    agency: Agency = None,
    note: Note = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Make a signed payment plan: equal monthly instalments (--total, --instalments, --first-due) or
    custom ones (--instalment DAY:AMOUNT ...), an optional down payment; records the debtor's
    acknowledgment (art. 123 § 1 pkt 2 KC) on the day signed."""
    from datetime import date

    from api.plans import service

    plan = service.create_plan(
        store=opened(database_url),
        claim_id=claim,
        signed_on=day_or_today(signed_on, "--signed-on"),
        today=date.today(),
        total=grosz_or_none(total, "--total"),
        count=instalments,
        first_due=day_or_none(first_due, "--first-due"),
        custom=_custom(instalment),
        down_payment=grosz_or_none(down_payment, "--down-payment") or 0,
        down_payment_on=day_or_none(down_payment_on, "--down-payment-on"),
        write_off_rest=write_off_rest,
        grace_days=grace_days,
        break_after_days=break_after_days,
        agency_id=agency,
        note=note,
    )
    if as_json:
        console.print_json(plan)
        return
    console.out.print(
        f"plan {plan['plan_id']} made for claim {plan['claim_id']}; acknowledgment recorded on {plan['signed_on']} "
        f"(event {plan['acknowledgment_event_id']}): the next `cession run` moves its limitation date",
        highlight=False,
    )
    _print_plan(plan)


@plans_app.command("show")
def plans_show(
    plan_id: Annotated[int, typer.Argument(help="The plan.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Instalments and days late as of this day (default: today)."),
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A plan: its terms, status and every instalment with the day it was paid and its status."""
    from api.plans import service

    plan = service.show_plan(store=opened(database_url), plan_id=plan_id, as_of=day_or_none(as_of, "--as-of"))
    if as_json:
        console.print_json(plan)
    else:
        _print_plan(plan)


def _print_plan(plan: dict) -> None:
    facts = [
        f"plan {plan['plan_id']}",
        f"claim {plan['claim_id']}",
        f"{plan['status']} since {plan['status_on']}",
        f"total {_money(plan['total'])}",
        f"paid {_money(plan['paid'])}",
        f"signed {plan['signed_on']}",
        f"grace {plan['grace_days']} d, broken after {plan['break_after_days']} d",
    ]
    if plan["write_off_rest"]:
        facts.append("rest written off if kept on time")
    if plan["write_off_event_id"] is not None:
        facts.append(f"write-off event {plan['write_off_event_id']}")
    if plan["replaced_by"] is not None:
        facts.append(f"replaced by plan {plan['replaced_by']} (final)")
    formats.facts(console.out, facts)
    columns = [
        formats.Column("no.", "right"),
        formats.Column("due"),
        formats.Column("amount", "right"),
        formats.Column("paid on"),
        formats.Column("status"),
    ]
    rows = [
        [
            "down" if i["number"] == 0 else str(i["number"]),
            i["due_on"],
            _money(i["amount"]),
            i["paid_on"] or "-",
            i["status"],
        ]
        for i in plan["schedule"]
    ]
    formats.records(console.out, f"Instalments as of {plan['instalments_as_of']}", columns, rows)


@plans_app.command("list")
def plans_list(
    claim: ClaimFilter = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only these: active, kept, broken or cancelled.")
    ] = None,
    portfolio: Portfolio = None,
    limit: Limit = 100,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Days late as of this day (default: today).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The payment plans, newest first, as the last daily update left them."""
    from api.plans import service

    found = service.list_plans(
        store=opened(database_url),
        claim_id=claim,
        status=status,
        portfolio=portfolio,
        limit=limit,
        as_of=day_or_none(as_of, "--as-of"),
    )
    if as_json:
        console.print_json(found)
        return
    if not found:
        console.out.print("no payment plans (`cession plans create` makes one)")
        return
    columns = [
        formats.Column("plan", "right"),
        formats.Column("claim", "right"),
        formats.Column("status"),
        formats.Column("since"),
        formats.Column("total", "right"),
        formats.Column("paid", "right"),
        formats.Column("paid inst.", "right", optional=True),
        formats.Column("next due", optional=True),
        formats.Column("late", "right", optional=True),
    ]
    rows = [
        [
            str(p["plan_id"]),
            str(p["claim_id"]),
            p["status"] if p["replaced_by"] is None else f"{p['status']}, replaced by {p['replaced_by']}",
            p["status_on"],
            _money(p["total"]),
            _money(p["paid"]),
            f"{p['instalments_paid']}/{p['instalments'] + (1 if p['down_payment'] != '0.00' else 0)}",
            p["next_due_on"] or "-",
            f"{p['days_late']} d" if p["days_late"] else "",
        ]
        for p in found
    ]
    formats.records(console.out, "Payment plans", columns, rows)


@plans_app.command("cancel")
def plans_cancel(
    plan_id: Annotated[int, typer.Argument(help="The plan.")],
    on: On = None,
    reason: Reason = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Cancel an active plan (its acknowledgment stays: the debtor did acknowledge the debt)."""
    from api.plans import service

    plan = service.cancel_plan(store=opened(database_url), plan_id=plan_id, on=day_or_today(on, "--on"), reason=reason)
    _said(as_json, plan, f"plan {plan_id} cancelled on {plan['status_on']}")


@plans_app.command("update")
def plans_update(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day of the update (default: today).")] = None,
    portfolio: Portfolio = None,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Recompute every open plan, settlement and promise from all its payments "
            "(default: only those whose claims' payments changed since the last update, or that turn by the day).",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The daily update (also part of `cession run`): plans, settlements and promises as of the day,
    from the claims' payments; write-offs of kept plans and paid settlements posted as events."""
    from api.plans import service

    summary = service.update(
        store=opened(database_url), as_of=day_or_today(as_of, "--as-of"), portfolio=portfolio, full=full
    )
    if as_json:
        console.print_json(summary)
        return
    print_update(summary)


def print_update(summary: dict) -> None:
    def counted(found: dict) -> str:
        return ", ".join(f"{formats.count(n)} {s}" for s, n in found.items()) or "none"

    formats.facts(
        console.out,
        [
            f"as of {summary['as_of']}",
            f"plans: {counted(summary['plans'])}",
            f"settlements: {counted(summary['settlements'])}",
            f"promises: {counted(summary['promises'])}",
            f"{formats.count(summary['write_offs'])} write-offs posted",
            f"{formats.count(sum(summary['changed'].values()))} rows changed",
            formats.seconds(summary["seconds"]),
        ],
    )


# --- settlements -----------------------------------------------------------------------------------


@settlements_app.command("create")
def settlements_create(
    claim: Claim,
    amount: Annotated[str, typer.Option("--amount", help="The amount that closes the claim, zł.")],
    pay_by: Annotated[str, typer.Option("--pay-by", help="The last day to pay it.")],
    offered_on: Annotated[
        str | None, typer.Option("--offered-on", help="Day of the offer (default: today); payments count from it.")
    ] = None,
    agency: Agency = None,
    note: Note = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Offer to close a claim for a lower amount if paid by a day (paid: the rest written off)."""
    from datetime import date

    from api.plans import service

    found = service.create_settlement(
        store=opened(database_url),
        claim_id=claim,
        amount=grosz(amount, "--amount"),
        pay_by=day(pay_by, "--pay-by"),
        offered_on=day_or_today(offered_on, "--offered-on"),
        today=date.today(),
        agency_id=agency,
        note=note,
    )
    _said(
        as_json,
        found,
        f"settlement {found['settlement_id']}: claim {found['claim_id']} closed for {_money(found['amount'])} "
        f"if paid by {found['pay_by']}",
    )


@settlements_app.command("show")
def settlements_show(
    settlement_id: Annotated[int, typer.Argument(help="The settlement.")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A settlement offer and what became of it."""
    from api.plans import service

    found = service.show_settlement(store=opened(database_url), settlement_id=settlement_id)
    if as_json:
        console.print_json(found)
    else:
        _print_settlements([found], f"Settlement {settlement_id}")


@settlements_app.command("list")
def settlements_list(
    claim: ClaimFilter = None,
    status: Annotated[str | None, typer.Option("--status", help="Only these: open, paid, lapsed or cancelled.")] = None,
    portfolio: Portfolio = None,
    limit: Limit = 100,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The settlement offers, newest first, as the last daily update left them."""
    from api.plans import service

    found = service.list_settlements(
        store=opened(database_url), claim_id=claim, status=status, portfolio=portfolio, limit=limit
    )
    _shown(as_json, found, "no settlements (`cession settlements create` makes one)", "Settlements", _print_settlements)


def _print_settlements(found: list[dict], title: str) -> None:
    written_off = formats.Column("write-off", "right", optional=True)
    _print_offers(
        found,
        title,
        "settlement",
        [(written_off, lambda s: "" if s["write_off_event_id"] is None else f"event {s['write_off_event_id']}")],
    )


def _print_offers(found: list[dict], title: str, noun: str, extra: list) -> None:
    """Settlements or promises: an amount by a day, what was paid, and ``extra`` (column, value of a row)."""
    columns = [
        formats.Column(noun, "right"),
        formats.Column("claim", "right"),
        formats.Column("status"),
        formats.Column("since"),
        formats.Column("amount", "right"),
        formats.Column("pay by"),
        formats.Column("paid", "right"),
        *(column for column, _ in extra),
    ]
    rows = [
        [
            str(r[f"{noun}_id"]),
            str(r["claim_id"]),
            r["status"],
            r["status_on"],
            _money(r["amount"]),
            r["pay_by"],
            _money(r["paid"]),
            *(value(r) for _, value in extra),
        ]
        for r in found
    ]
    formats.records(console.out, title, columns, rows)


def _shown(as_json: bool, found: list[dict], empty: str, title: str, printer) -> None:
    if as_json:
        console.print_json(found)
    elif not found:
        console.out.print(empty)
    else:
        printer(found, title)


@settlements_app.command("cancel")
def settlements_cancel(
    settlement_id: Annotated[int, typer.Argument(help="The settlement.")],
    on: On = None,
    reason: Reason = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Withdraw an open settlement offer."""
    from api.plans import service

    found = service.cancel_settlement(
        store=opened(database_url), settlement_id=settlement_id, on=day_or_today(on, "--on"), reason=reason
    )
    _said(as_json, found, f"settlement {settlement_id} cancelled on {found['status_on']}")


# --- promises --------------------------------------------------------------------------------------


@promises_app.command("create")
def promises_create(
    claim: Claim,
    amount: Annotated[str, typer.Option("--amount", help="The amount promised, zł.")],
    pay_by: Annotated[str, typer.Option("--pay-by", help="The day it is promised by.")],
    made_on: Annotated[
        str | None, typer.Option("--made-on", help="Day the promise was made (default: today); payments count from it.")
    ] = None,
    agency: Annotated[
        str | None,
        typer.Option("--agency", help="The agency whose collector took it (default: the claim's agency that day)."),
    ] = None,
    collector: Annotated[
        str | None, typer.Option("--collector", help="Who took it (a collector's id or name).")
    ] = None,
    note: Note = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Record a debtor's promise to pay an amount by a day."""
    from datetime import date

    from api.plans import service

    found = service.create_promise(
        store=opened(database_url),
        claim_id=claim,
        amount=grosz(amount, "--amount"),
        pay_by=day(pay_by, "--pay-by"),
        made_on=day_or_today(made_on, "--made-on"),
        today=date.today(),
        agency_id=agency,
        collector=collector,
        note=note,
    )
    who = escape(found["agency_id"] or "the purchaser") + (
        f" ({escape(found['collector'])})" if found["collector"] else ""
    )
    _said(
        as_json,
        found,
        f"promise {found['promise_id']}: {_money(found['amount'])} by {found['pay_by']} on claim "
        f"{found['claim_id']}, taken by {who}",
    )


@promises_app.command("show")
def promises_show(
    promise_id: Annotated[int, typer.Argument(help="The promise.")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """A promise to pay and what became of it."""
    from api.plans import service

    found = service.show_promise(store=opened(database_url), promise_id=promise_id)
    if as_json:
        console.print_json(found)
    else:
        _print_promises([found], f"Promise {promise_id}")


@promises_app.command("list")
def promises_list(
    claim: ClaimFilter = None,
    status: Annotated[str | None, typer.Option("--status", help="Only these: open, kept, broken or cancelled.")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency's.")] = None,
    portfolio: Portfolio = None,
    limit: Limit = 100,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The promises to pay, newest first, as the last daily update left them."""
    from api.plans import service

    found = service.list_promises(
        store=opened(database_url), claim_id=claim, status=status, agency_id=agency, portfolio=portfolio, limit=limit
    )
    _shown(
        as_json, found, "no promises to pay (`cession promises create` records one)", "Promises to pay", _print_promises
    )


def _print_promises(found: list[dict], title: str) -> None:
    _print_offers(
        found,
        title,
        "promise",
        [
            (formats.Column("agency", optional=True), lambda p: escape(p["agency_id"] or "-")),
            (formats.Column("collector", optional=True), lambda p: escape(p["collector"] or "-")),
        ],
    )


@promises_app.command("cancel")
def promises_cancel(
    promise_id: Annotated[int, typer.Argument(help="The promise.")],
    on: On = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Withdraw an open promise recorded by mistake (it then counts in no rate)."""
    from api.plans import service

    found = service.cancel_promise(store=opened(database_url), promise_id=promise_id, on=day_or_today(on, "--on"))
    _said(as_json, found, f"promise {promise_id} cancelled on {found['status_on']}")


@promises_app.command("rates")
def promises_rates(
    by: Annotated[str, typer.Option("--by", help="agency, or collector (per agency and collector).")] = "agency",
    since: Annotated[str | None, typer.Option("--since", help="Promises due (pay by) on or after this day.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Promises due on or before this day.")] = None,
    portfolio: Portfolio = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The kept-promise rate per agency or per collector: kept / (kept + broken) of the promises that ended."""
    from api.plans import service

    found = service.promise_rates(
        store=opened(database_url),
        by=by,  # type: ignore[arg-type]
        since=day_or_none(since, "--since"),
        until=day_or_none(until, "--until"),
        portfolio=portfolio,
    )
    if as_json:
        console.print_json(found)
        return
    if not found:
        console.out.print("no promises to pay in that window")
        return
    columns = [
        formats.Column("agency"),
        formats.Column("collector", optional=by == "agency"),
        formats.Column("promises", "right"),
        formats.Column("open", "right"),
        formats.Column("kept", "right"),
        formats.Column("broken", "right"),
        formats.Column("kept rate", "right"),
        formats.Column("promised", "right", optional=True),
        formats.Column("paid", "right", optional=True),
    ]
    rows = [
        [
            escape(r["agency_id"] or "(own)"),
            escape(r["collector"] or "-"),
            formats.count(r["promises"]),
            formats.count(r["open"]),
            formats.count(r["kept"]),
            formats.count(r["broken"]),
            "-" if r["kept_rate"] is None else formats.share(r["kept"], r["kept"] + r["broken"]),
            _money(r["promised"]),
            _money(r["paid"]),
        ]
        for r in found
    ]
    formats.records(console.out, f"Kept promises per {by}", columns, rows)
