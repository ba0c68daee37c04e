"""`cession interest` and `cession limitation`: one claim's numbers, without the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api import formats
from api.cli import console
from api.cli.options import AllowStale, AsOf, ClaimKind, Json, LimitationEvents, Title, Years
from api.cli.parsing import (
    day,
    day_or_none,
    day_or_today,
    grosz,
    interest_basis,
    limitation_events,
    limitation_kind,
    rate_bp,
)
from engine.domain import InterestBasis, LimitationKind


def interest(
    principal: Annotated[str, typer.Option("--principal", help="Amount in PLN, e.g. 1234.56")],
    start: Annotated[str, typer.Option("--from", help="First day of interest (the day after the deadline).")],
    end: Annotated[str, typer.Option("--to", help="Last day of interest, inclusive (e.g. the day of payment).")],
    basis: Annotated[
        str,
        typer.Option("--basis", help="; ".join(f"{b}: {b.about}" for b in InterestBasis) + "."),
    ] = InterestBasis.STATUTORY_LATE.value,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Contractual yearly rate in %, capped daily at maximum interest.")
    ] = None,
    kind: Annotated[str, ClaimKind] = LimitationKind.GENERAL.value,
    years: Years = None,
    title: Title = None,
    event: LimitationEvents = None,
    allow_stale: AllowStale = False,
    as_json: Json = False,
) -> None:
    """Interest over a period, one line per rate period, each rounded to the grosz (actual/365), and
    which of it is time-barred on the last day (each day's interest runs 3 years on its own)."""
    amount = grosz(principal, "--principal")
    basis_kind = interest_basis(basis)
    rate_in_bp = rate_bp(rate, basis_kind)
    first, last = day(start, "--from"), day(end, "--to")
    claim_kind = limitation_kind(kind, years)
    title_day, facts = day_or_none(title, "--title"), limitation_events(event)
    from api.calculators import service
    from engine.money import pln

    calc = service.interest(
        principal=amount,
        first=first,
        last=last,
        basis=basis_kind,
        rate_bp=rate_in_bp,
        kind=claim_kind,
        years=years,
        title=title_day,
        events=facts,
        allow_stale_rates=allow_stale,
    )
    if as_json:
        console.print_json(
            {
                "principal": pln(amount),
                "from": first.isoformat(),
                "to": last.isoformat(),
                "basis": basis_kind.value,
                "day_count": "actual/365",
                "rounding": "half up, per period",
                "periods": [
                    {
                        "from": p.first.isoformat(),
                        "to": p.last.isoformat(),
                        "days": p.days,
                        "rate": f"{p.rate_bp / 100:.2f}",
                        "interest": pln(p.interest),
                    }
                    for p in calc.pieces
                ],
                "days": calc.days,
                "total": pln(calc.total),
                "limitation_date": calc.limitation_date.isoformat() if calc.limitation_date else None,
                "tranches": [
                    {
                        "from": t.first.isoformat(),
                        "to": t.last.isoformat(),
                        "interest": pln(t.amount),
                        "time_barred": t.time_barred,
                        "rule": t.why,
                    }
                    for t in calc.tranches
                ],
                "time_barred": pln(calc.time_barred),
                "stale_rate_tables": calc.stale_rate_tables,
            }
        )
        return
    out = console.out
    table = Table(title=f"{basis_kind.value} interest on {formats.amount(amount)}", header_style="bold")
    for name, justify in (("period", "left"), ("days", "right"), ("rate %", "right"), ("interest", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for p in calc.pieces:
        table.add_row(
            f"{p.first} – {p.last}",
            formats.count(p.days),
            formats.decimal(p.rate_bp / 100, 2),
            formats.amount(p.interest),
        )
    table.add_section()
    table.add_row("total", formats.count(calc.days), "", formats.amount(calc.total), style="bold")
    out.print(table)
    out.print("actual/365; each period rounded half up to the grosz (docs/engine.md §2)")
    tranches = Table(title=f"Limitation of the interest as of {last}", header_style="bold", show_lines=True)
    tranches.add_column("days", no_wrap=True)
    tranches.add_column("interest", justify="right", no_wrap=True)
    tranches.add_column("time-barred? (rule of law)", ratio=1)
    for t in calc.tranches:
        verdict = "[bold red]time-barred[/]" if t.time_barred else "[bold green]not time-barred[/]"
        tranches.add_row(f"{t.first} – {t.last}", formats.amount(t.amount), f"{verdict}\n[dim]{escape(t.why)}[/]")
    out.print(tranches)
    claim_end = (
        f"the claim's own limitation ends {calc.limitation_date}"
        if calc.limitation_date
        else "the claim's limitation is suspended"
    )
    out.print(
        f"time-barred interest: [bold]{formats.amount(calc.time_barred)}[/] of {formats.amount(calc.total)}; {claim_end}",
        highlight=False,
    )
    if calc.stale_rate_tables:
        out.print(console.stale_note(calc.stale_rate_tables, last))


def limitation(
    due: Annotated[str, typer.Option("--due", help="Day the claim became due (wymagalność).")],
    kind: Annotated[str, ClaimKind],
    years: Years = None,
    title: Title = None,
    event: LimitationEvents = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """The limitation date (przedawnienie) of a claim, and each step that moved it."""
    claim_kind = limitation_kind(kind, years)
    facts = limitation_events(event)
    day_as_of = day_or_today(as_of, "--as-of")
    due_day, title_day = day(due, "--due"), day_or_none(title, "--title")
    from api.calculators import service

    result = service.limitation(
        due=due_day, kind=claim_kind, as_of=day_as_of, years=years, title=title_day, events=facts
    )
    if as_json:
        console.print_json(
            {
                "as_of": day_as_of.isoformat(),
                "limitation_date": result.limitation_date.isoformat() if result.limitation_date else None,
                "time_barred": result.time_barred,
                "rule_set": result.rule_set,
                "steps": [
                    {
                        "day": s.day.isoformat(),
                        "what": s.what,
                        "effect": s.effect,
                        "rule": s.rule,
                        "end": s.end.isoformat() if s.end else None,
                        "proceedings_pending": s.pending,
                    }
                    for s in result.steps
                ],
            }
        )
        return
    # three columns, the rule under the step: readable in an 80-column terminal
    table = Table(title="Limitation clock", header_style="bold", show_lines=True)
    table.add_column("day", no_wrap=True)
    table.add_column("step (rule of law)", ratio=1)
    table.add_column("end of period", no_wrap=True)
    for s in result.steps:
        end_text = "suspended" if s.end is None else str(s.end)
        if s.pending > 1:
            end_text += f"\n({s.pending} proceedings)"
        rule = f"\n[dim]{escape(s.rule)}[/]" if s.rule else ""
        table.add_row(str(s.day), f"[bold]{escape(s.what)}[/]: {escape(s.effect)}{rule}", end_text)
    out = console.out
    out.print(table)
    if result.limitation_date is None:
        out.print(f"As of {day_as_of}: [bold]suspended[/] — proceedings pending, the period does not run.")
    elif result.time_barred:
        out.print(f"As of {day_as_of}: [bold red]time-barred[/] since {result.limitation_date} (last day to sue).")
    else:
        out.print(f"As of {day_as_of}: [bold green]not time-barred[/]; last day to sue {result.limitation_date}.")
