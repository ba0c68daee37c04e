"""The `cession` command line: tables for people, --json for scripts."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    name="cession",
    help="Cession: a servicing engine for purchased debt (interest, limitation and payments under Polish law).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

AsOf = Annotated[str | None, typer.Option("--as-of", help="Day of the state, YYYY-MM-DD (default: today).")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output: amounts as strings '123.45'.")]
AllowStale = Annotated[
    bool,
    typer.Option(
        "--allow-stale-rates",
        help="Go on past a rate table's last_value_still_valid_on with its last known rate; the result records it.",
    ),
]


class UserError(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


def _day(text: str | None, name: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{name}: {text!r} is not a date YYYY-MM-DD") from None


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _stale_note(stale: dict[str, str], as_of: date) -> str:
    tables = ", ".join(f"{name} (valid to {day})" for name, day in stale.items())
    return (
        f"[bold yellow]Stale rates:[/] as of {as_of} is past the known validity of {tables}; "
        "the last known rate was used (--allow-stale-rates). Update the tables for an exact answer."
    )


# --------------------------------------------------------------------------------------------- generate
@app.command()
def generate(
    claims: Annotated[int, typer.Option("--claims", min=1, help="How many claims.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same files.")] = 42,
    out: Annotated[Path, typer.Option("--out", help="Folder for claims.parquet and events.parquet.")] = Path("out"),
    events_per_claim: Annotated[float, typer.Option("--events-per-claim", min=0.0)] = 3.0,
    as_json: Json = False,
) -> None:
    """Write a seeded synthetic portfolio (claims.parquet, events.parquet) in SCHEMA.md's shape."""
    from benchmarks.generator import generate_portfolio, write_portfolio

    started = time.perf_counter()
    with console.status(f"generating {claims:,} claims"):
        claims_df, events_df = generate_portfolio(claims, seed, events_per_claim=events_per_claim)
        claims_path, events_path = write_portfolio(out, claims_df, events_df)
    seconds = time.perf_counter() - started
    if as_json:
        _print_json(
            {"claims": claims_df.height, "events": events_df.height, "claims_path": str(claims_path),
             "events_path": str(events_path), "seconds": round(seconds, 3)}  # fmt: skip
        )
    else:
        console.print(
            f"{claims_df.height:,} claims -> {claims_path}\n{events_df.height:,} events -> {events_path}\n"
            f"({seconds:.1f} s, seed {seed})"
        )


# ------------------------------------------------------------------------------------------------ state
def _summary(state, seconds: float) -> dict:
    import polars as pl

    from engine import provenance

    df = pl.from_arrow(state)
    money = [
        "principal_due", "interest_due", "costs_due", "total_due", "interest_accrued",
        "paid_costs", "paid_interest", "paid_principal", "overpaid",
    ]  # fmt: skip
    totals = df.select([pl.col(c).sum() for c in money]).row(0, named=True) if df.height else dict.fromkeys(money, 0)
    counts = df.select(
        pl.col("time_barred").sum().alias("time_barred"),
        pl.col("limitation_date").is_null().sum().alias("suspended"),
    ).row(0, named=True)
    meta = provenance(state)
    return {
        "as_of": meta.get("as_of"),
        "claims": df.height,
        "events": meta.get("events"),
        "totals": {k: int(v or 0) for k, v in totals.items()},
        "time_barred": int(counts["time_barred"] or 0),
        "suspended": int(counts["suspended"] or 0),
        "stale_rate_tables": meta.get("stale_rate_tables", {}),
        "waterfall": meta.get("waterfall"),
        "seconds": round(seconds, 3),
    }


def _print_summary(summary: dict, out: Path | None) -> None:
    from engine.money import pln_readable

    table = Table(title=f"Portfolio state as of {summary['as_of']}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("PLN", justify="right")
    labels = {
        "principal_due": "principal due", "interest_due": "interest due", "costs_due": "costs due",
        "total_due": "total due", "interest_accrued": "interest accrued after cut-off",
        "paid_costs": "paid to costs", "paid_interest": "paid to interest", "paid_principal": "paid to principal",
        "overpaid": "overpaid (owed back)",
    }  # fmt: skip
    for key, label in labels.items():
        table.add_row(label, pln_readable(summary["totals"][key]), end_section=key in ("total_due", "interest_accrued"))
    console.print(table)
    claims = summary["claims"]
    barred = summary["time_barred"]
    share = f" ({barred / claims:.1%})" if claims else ""
    console.print(
        f"claims {claims:,}   events {summary['events']:,}   time-barred {barred:,}{share}   "
        f"suspended (proceedings pending) {summary['suspended']:,}   waterfall {summary['waterfall']}"
    )
    if summary["stale_rate_tables"]:
        console.print(_stale_note(summary["stale_rate_tables"], date.fromisoformat(summary["as_of"])))
    where = f" -> {out}" if out else ""
    console.print(f"computed in {summary['seconds']:.2f} s{where}")


def run_state(
    claims_path: Path, events_path: Path, as_of: date, out: Path | None, waterfall: str, allow_stale: bool, quiet: bool
) -> dict:
    import polars as pl
    import pyarrow.parquet as pq

    from engine import compute_state

    started = time.perf_counter()
    for path in (claims_path, events_path):
        if not path.exists():
            raise UserError(f"{path}: no such file")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("reading", total=None)
        claims = pl.read_parquet(claims_path)
        events = pl.read_parquet(events_path)
        progress.update(task, description="checking and computing", total=claims.height, completed=0)
        state = compute_state(
            claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale,
            on_progress=lambda done, total: progress.update(task, completed=done),
        )  # fmt: skip
        if out is not None:
            progress.update(task, description=f"writing {out}")
            out.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(state, out)
    return _summary(state, time.perf_counter() - started)


@app.command()
def state(
    claims: Annotated[Path, typer.Option("--claims", help="claims.parquet (SCHEMA.md)")],
    events: Annotated[Path, typer.Option("--events", help="events.parquet (SCHEMA.md)")],
    out: Annotated[Path | None, typer.Option("--out", help="Write claim_state here (Parquet).")] = None,
    as_of: AsOf = None,
    waterfall: Annotated[
        str, typer.Option("--waterfall", help="Payment order, e.g. costs,interest,principal (art. 451 § 1 KC).")
    ] = "costs,interest,principal",
    allow_stale: AllowStale = False,
    as_json: Json = False,
) -> None:
    """Compute claim_state for every claim as of a day, Parquet to Parquet, with a summary."""
    summary = run_state(claims, events, _day(as_of, "--as-of"), out, waterfall, allow_stale, quiet=as_json)
    if as_json:
        from engine.money import pln

        summary["totals"] = {k: pln(v) for k, v in summary["totals"].items()}
        _print_json(dict(summary, out=str(out) if out else None))
    else:
        _print_summary(summary, out)


# --------------------------------------------------------------------------------------------- interest
@app.command()
def interest(
    principal: Annotated[str, typer.Option("--principal", help="Amount in PLN, e.g. 1234.56")],
    start: Annotated[str, typer.Option("--from", help="First day of interest (the day after the deadline).")],
    end: Annotated[str, typer.Option("--to", help="Last day of interest, inclusive (e.g. the day of payment).")],
    basis: Annotated[
        str, typer.Option("--basis", help="statutory_late, commercial_late, contractual or none.")
    ] = "statutory_late",
    rate: Annotated[
        str | None, typer.Option("--rate", help="Contractual yearly rate in %, capped daily at maximum interest.")
    ] = None,
    allow_stale: AllowStale = False,
    as_json: Json = False,
) -> None:
    """Interest over a period, one line per rate period, each rounded to the grosz (actual/365)."""
    from engine.domain import InterestBasis
    from engine.interest import calculate_interest
    from engine.money import pln, pln_readable, to_grosz

    try:
        amount = to_grosz(principal)
    except ValueError as e:
        raise UserError(f"--principal: {e}") from None
    try:
        kind = InterestBasis(basis)
    except ValueError:
        raise UserError(f"--basis {basis!r}: one of {', '.join(InterestBasis)}") from None
    rate_bp = None
    if rate is not None:
        if kind is not InterestBasis.CONTRACTUAL:
            raise UserError("--rate is a contractual rate: use it with --basis contractual")
        try:
            scaled = Decimal(rate.replace(",", ".")) * 100
        except InvalidOperation:
            raise UserError(f"--rate {rate!r} is not a percentage like 12.5") from None
        if scaled != scaled.to_integral_value() or scaled < 0:
            raise UserError(f"--rate {rate!r}: a percentage >= 0 with at most two decimals")
        rate_bp = int(scaled)
    elif kind is InterestBasis.CONTRACTUAL:
        raise UserError("--basis contractual needs --rate (yearly %, e.g. 12.5)")
    first, last = _day(start, "--from"), _day(end, "--to")
    calc = calculate_interest(amount, first, last, kind, contractual_rate_bp=rate_bp, allow_stale_rates=allow_stale)
    if as_json:
        _print_json(
            {
                "principal": pln(amount), "from": first.isoformat(), "to": last.isoformat(), "basis": kind.value,
                "day_count": "actual/365", "rounding": "half up, per period",
                "periods": [
                    {"from": p.first.isoformat(), "to": p.last.isoformat(), "days": p.days,
                     "rate": f"{p.rate_bp / 100:.2f}", "interest": pln(p.interest)}
                    for p in calc.pieces
                ],
                "days": calc.days, "total": pln(calc.total), "stale_rate_tables": calc.stale_rate_tables,
            }
        )  # fmt: skip
        return
    table = Table(title=f"{kind.value} interest on {pln_readable(amount)} PLN", header_style="bold")
    for name, justify in (("period", "left"), ("days", "right"), ("rate %", "right"), ("interest PLN", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for p in calc.pieces:
        table.add_row(f"{p.first} – {p.last}", str(p.days), f"{p.rate_bp / 100:.2f}", pln_readable(p.interest))
    table.add_section()
    table.add_row("total", str(calc.days), "", pln_readable(calc.total), style="bold")
    console.print(table)
    console.print("actual/365; each period rounded half up to the grosz (ENGINE.md §2)")
    if calc.stale_rate_tables:
        console.print(_stale_note(calc.stale_rate_tables, last))


# ------------------------------------------------------------------------------------------- limitation
@app.command()
def limitation(
    due: Annotated[str, typer.Option("--due", help="Day the claim became due (wymagalność).")],
    kind: Annotated[str, typer.Option("--kind", help="general, periodic, business, sales or custom.")],
    years: Annotated[int | None, typer.Option("--years", help="Years of a custom period.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Day an enforcement title became final.")] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="KIND:YYYY-MM-DD, repeatable (acknowledgment, court_filing, proceedings_end, "
                     "title, enforcement_filing, enforcement_end)."),  # fmt: skip
    ] = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """The limitation date (przedawnienie) of a claim, and each step that moved it."""
    from engine.domain import EventKind, LimitationKind
    from engine.limitation import explain_limitation

    try:
        limitation_kind = LimitationKind(kind)
    except ValueError:
        raise UserError(f"--kind {kind!r}: one of general, periodic, business, sales, custom") from None
    if limitation_kind is LimitationKind.TITLE:
        raise UserError("--kind title: give the claim's own kind and --title DAY")
    if (limitation_kind is LimitationKind.CUSTOM) != (years is not None):
        raise UserError("--years goes with --kind custom, and custom needs --years")
    facts = []
    for text in event or []:
        name, _, day = text.partition(":")
        try:
            facts.append((EventKind(name), date.fromisoformat(day)))
        except ValueError:
            raise UserError(f"--event {text!r}: expected KIND:YYYY-MM-DD") from None
    day_as_of = _day(as_of, "--as-of")
    result = explain_limitation(
        _day(due, "--due"), limitation_kind, as_of=day_as_of, years=years,
        title=_day(title, "--title") if title else None, events=facts,
    )  # fmt: skip
    if as_json:
        _print_json(
            {
                "as_of": day_as_of.isoformat(),
                "limitation_date": result.limitation_date.isoformat() if result.limitation_date else None,
                "time_barred": result.time_barred,
                "steps": [
                    {"day": s.day.isoformat(), "what": s.what, "effect": s.effect, "rule": s.rule,
                     "end": s.end.isoformat() if s.end else None,
                     "moved_from": s.moved_from.isoformat() if s.moved_from else None}
                    for s in result.steps
                ],
            }
        )  # fmt: skip
        return
    table = Table(title="Limitation clock", header_style="bold")
    for name in ("day", "what", "effect", "end of period", "rule"):
        table.add_column(name)
    for s in result.steps:
        end_text = "suspended" if s.end is None else str(s.end)
        if s.moved_from:
            end_text += f" (from {s.moved_from})"
        table.add_row(str(s.day), s.what, s.effect, end_text, s.rule)
    console.print(table)
    if result.limitation_date is None:
        console.print(f"As of {day_as_of}: [bold]suspended[/] — proceedings pending, the period does not run.")
    elif result.time_barred:
        console.print(f"As of {day_as_of}: [bold red]time-barred[/] since {result.limitation_date} (last day to sue).")
    else:
        console.print(f"As of {day_as_of}: [bold green]not time-barred[/]; last day to sue {result.limitation_date}.")


# ------------------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    claims: Annotated[int, typer.Option("--claims", min=1, help="Size of the demo portfolio.")] = 200_000,
    out: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("demo-out"),
    as_of: AsOf = None,
) -> None:
    """The whole product so far on a demo portfolio: generate -> compute claim_state -> summary."""
    from benchmarks.generator import generate_portfolio, write_portfolio

    from engine import load_rules

    day = _day(as_of, "--as-of")
    console.rule("[bold]Cession demo")
    rules = load_rules()
    console.print(f"1. rule tables loaded and validated: {', '.join(rules.versions())}")
    with console.status(f"2. generating {claims:,} claims (seed 42)"):
        claims_df, events_df = generate_portfolio(claims, 42)
        claims_path, events_path = write_portfolio(out, claims_df, events_df)
    console.print(f"2. generated {claims_df.height:,} claims and {events_df.height:,} events -> {out}/")
    stale = rules.stale(list(rules.rates), day)
    if stale:
        console.print(
            f"3. as of {day}: the shipped rate tables end earlier ({', '.join(f'{t.name} {t.last_valid}' for t in stale)}); "
            "the demo goes on with --allow-stale-rates and the result records it."
        )
    summary = run_state(claims_path, events_path, day, out / "claim_state.parquet", "costs,interest,principal",
                        allow_stale=True, quiet=False)  # fmt: skip
    _print_summary(summary, out / "claim_state.parquet")
    console.print("Try: cession interest --principal 1000 --from 2025-05-01 --to 2026-03-31 --allow-stale-rates")
    console.print("     cession limitation --due 2016-03-15 --kind business --event acknowledgment:2019-01-10")


def main() -> None:
    from engine.rules import RuleTableError, StaleRulesError
    from engine.validation import EngineInputError

    try:
        app()
    except UserError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise SystemExit(2) from None
    except (EngineInputError, StaleRulesError, RuleTableError, ValueError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
