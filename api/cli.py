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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api import exits, formats
from api.executor_options import (
    AsOfSeries,
    ExecutorOption,
    PartitionsOption,
    chosen_executor,
    parse_as_of,
    print_series,
    state_series,
    store_series,
)
from api.exits import Json, UserError
from api.outputs import output_file, output_folder
from engine.domain import CLAIM_LIMITATION_KINDS, LIMITATION_EVENT_KINDS, InterestBasis, LimitationKind


def _flags_take_no_value() -> None:
    """A flag takes no value, so its help shows none. typer 0.29's rich help asks every option
    for its type, flags included (``--json <bool>``, even ``--help <bool>``), where its plain help
    skips flags (``TyperOption.get_help_record`` checks ``is_flag``): the same check here."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "cession", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag else shown(self, ctx)

    display_type_rich.cession = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

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
AllowStale = Annotated[
    bool,
    typer.Option(
        "--allow-stale-rates",
        help="Go on past a rate table's last_value_still_valid_on with its last known rate; the result records it.",
    ),
]


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
    """Write a seeded synthetic portfolio (claims.parquet, events.parquet) in docs/data-contract.md's shape."""
    from benchmarks.generator import generate_portfolio, write_portfolio

    output_folder(out, "--out")
    started = time.perf_counter()
    with console.status(f"generating {formats.count(claims)} claims"):
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
            f"{formats.count(claims_df.height)} claims -> {claims_path}\n"
            f"{formats.count(events_df.height)} events -> {events_path}\n({formats.seconds(seconds)}, seed {seed})",
            highlight=False,
        )


# ------------------------------------------------------------------------------------------------ state
def _summary(state, seconds: float, meta: dict | None = None) -> dict:
    """The summary of a claim_state: ``state`` is the table, or its ``StateTotals`` with ``meta``
    (its provenance) when the table was streamed to a file and never held whole."""
    from engine import provenance
    from engine.state import StateTotals

    totals = state if isinstance(state, StateTotals) else StateTotals.of_table(state)
    meta = meta if meta is not None else provenance(state)
    return {
        "as_of": meta.get("as_of"),
        "claims": totals.claims,
        "events": meta.get("events"),
        "totals": dict(totals.money),
        "time_barred": totals.time_barred,
        "suspended": totals.suspended,
        "stale_rate_tables": meta.get("stale_rate_tables", {}),
        "waterfall": meta.get("waterfall"),
        "limitation_rule_set": meta.get("rules", {}).get("limitation_rule_set", {}).get("rule_set"),
        "seconds": round(seconds, 3),
    }


def _print_summary(summary: dict, out: Path | None) -> None:
    table = Table(title=f"Portfolio state as of {summary['as_of']}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("zł", justify="right", no_wrap=True)
    labels = {
        "principal_due": "principal due", "interest_due": "interest due",
        "interest_time_barred": "  of it time-barred (own 3-year runs)", "costs_due": "costs due",
        "total_due": "total due", "interest_accrued": "interest accrued after cut-off",
        "paid_costs": "paid to costs", "paid_interest": "paid to interest", "paid_principal": "paid to principal",
        "overpaid": "overpaid (owed back)",
    }  # fmt: skip
    for key, label in labels.items():
        table.add_row(label, formats.amount(summary["totals"][key]), end_section=key in ("total_due", "interest_accrued"))
    console.print(table)
    claims = summary["claims"]
    barred = summary["time_barred"]
    share = f" ({formats.share(barred, claims)})" if claims else ""
    formats.facts(console, [
        f"claims {formats.count(claims)}", f"events {formats.count(summary['events'])}",
        f"time-barred {formats.count(barred)}{share}",
        f"suspended (proceedings pending) {formats.count(summary['suspended'])}", f"waterfall {summary['waterfall']}",
        f"limitation rule set {summary.get('limitation_rule_set') or 'before 2026-12'}",
    ])  # fmt: skip
    if summary["stale_rate_tables"]:
        console.print(_stale_note(summary["stale_rate_tables"], date.fromisoformat(summary["as_of"])))
    where = f" -> {out}" if out else ""
    console.print(f"computed in {formats.seconds(summary['seconds'])}{where}", highlight=False)


def _readable_parquet(path: Path) -> None:
    import polars as pl

    try:
        pl.read_parquet_schema(path)
    except Exception as e:  # not Parquet, truncated, ...
        raise UserError(f"{path}: not a readable Parquet file ({e})") from None


def run_state(
    claims_path: Path, events_path: Path, as_of: date, out: Path | None, waterfall: str, allow_stale: bool, quiet: bool
) -> dict:
    """claim_state from Parquet to Parquet, a slice of claims at a time from the files to the
    output (``stream_state``: neither the inputs nor the table are ever whole in memory, and the
    file appears complete or not at all)."""
    from engine.rules import load_rules
    from engine.state import stream_state

    started = time.perf_counter()
    for path in (claims_path, events_path):
        if not path.exists():
            raise UserError(f"{path}: no such file")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet or not err.is_terminal, transient=True,
    ) as progress:  # fmt: skip
        for path in (claims_path, events_path):
            _readable_parquet(path)
        what = f"computing and writing {out}" if out is not None else "computing"
        task = progress.add_task(what, total=None)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        totals, meta = stream_state(
            claims_path, events_path, as_of, write_to=out, waterfall=waterfall, allow_stale_rates=allow_stale,
            rules=load_rules(), on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    return _summary(totals, time.perf_counter() - started, meta)


@app.command()
def state(
    claims: Annotated[Path, typer.Option("--claims", help="claims.parquet (docs/data-contract.md)")],
    events: Annotated[Path, typer.Option("--events", help="events.parquet (docs/data-contract.md)")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write claim_state here (Parquet); several days: a folder.")
    ] = None,
    as_of: AsOfSeries = None,
    waterfall: Annotated[
        str, typer.Option("--waterfall", help="Payment order, e.g. costs,interest,principal (art. 451 § 1 KC).")
    ] = "costs,interest,principal",
    allow_stale: AllowStale = False,
    executor: ExecutorOption = None,
    partitions: PartitionsOption = None,
    as_json: Json = False,
) -> None:
    """Compute claim_state for every claim as of a day (or several), Parquet to Parquet, with a summary."""
    days = parse_as_of(as_of)
    if len(days) == 1:
        output_file(out, "--out", example="state.parquet")
    else:
        output_folder(out, "--out")
    summaries = state_series(claims, events, days, out, waterfall, allow_stale, executor, partitions, quiet=as_json)
    print_series(summaries, out, as_json)


# --------------------------------------------------------------------------------------------- interest
LimitationEvents = Annotated[
    list[str] | None,
    typer.Option("--event", help=f"KIND:YYYY-MM-DD, repeatable ({', '.join(LIMITATION_EVENT_KINDS)})."),
]
ClaimKind = typer.Option("--kind", help=f"The claim's limitation kind: {LimitationKind.spelled(CLAIM_LIMITATION_KINDS)}.")


def _limitation_kind(kind: str, years: int | None):
    """--kind (and --years) as the claim's LimitationKind, or a UserError naming the option."""
    from engine.domain import CLAIM_LIMITATION_KINDS, OWN_YEARS_KINDS, LimitationKind

    try:
        limitation_kind = LimitationKind(kind)
    except ValueError:
        raise UserError(f"--kind {kind!r}: one of {', '.join(CLAIM_LIMITATION_KINDS)}") from None
    if not limitation_kind.claim:
        raise UserError(f"--kind {kind}: give the claim's own kind and --title DAY")
    if limitation_kind.own_years != (years is not None):
        own = LimitationKind.spelled(OWN_YEARS_KINDS)
        raise UserError(f"--years goes with --kind {own}, and {own} needs --years")
    return limitation_kind


def _limitation_events(event: list[str] | None) -> list[tuple]:
    """--event KIND:YYYY-MM-DD values as (EventKind, date), or a UserError naming the bad one."""
    from engine.domain import EventKind

    facts = []
    for text in event or []:
        name, _, day = text.partition(":")
        try:
            facts.append((EventKind(name), date.fromisoformat(day)))
        except ValueError:
            raise UserError(f"--event {text!r}: expected KIND:YYYY-MM-DD") from None
    return facts


@app.command()
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
    years: Annotated[int | None, typer.Option("--years", help="Years of a custom period.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Day an enforcement title became final.")] = None,
    event: LimitationEvents = None,
    allow_stale: AllowStale = False,
    as_json: Json = False,
) -> None:
    """Interest over a period, one line per rate period, each rounded to the grosz (actual/365), and
    which of it is time-barred on the last day (each day's interest runs 3 years on its own)."""
    from engine.domain import CONTRACT_RATE_BASES, InterestBasis
    from engine.interest import calculate_interest
    from engine.money import pln, to_grosz

    try:
        amount = to_grosz(principal)
    except ValueError as e:
        raise UserError(f"--principal: {e}") from None
    try:
        basis_kind = InterestBasis(basis)
    except ValueError:
        raise UserError(f"--basis {basis!r}: one of {', '.join(InterestBasis)}") from None
    rate_bp = None
    if rate is not None:
        if not basis_kind.contract_rate:
            raise UserError(f"--rate is a contractual rate: use it with --basis {InterestBasis.spelled(CONTRACT_RATE_BASES)}")
        try:
            scaled = Decimal(rate.replace(",", ".")) * 100
        except InvalidOperation:
            raise UserError(f"--rate {rate!r} is not a percentage like 12.5") from None
        if scaled != scaled.to_integral_value() or scaled < 0:
            raise UserError(f"--rate {rate!r}: a percentage >= 0 with at most two decimals")
        rate_bp = int(scaled)
    elif basis_kind.contract_rate:
        raise UserError(f"--basis {basis_kind} needs --rate (yearly %, e.g. 12.5)")
    first, last = _day(start, "--from"), _day(end, "--to")
    limitation_kind = _limitation_kind(kind, years)
    calc = calculate_interest(
        amount, first, last, basis_kind, contractual_rate_bp=rate_bp, limitation_kind=limitation_kind,
        limitation_years=years, title=_day(title, "--title") if title else None, events=_limitation_events(event),
        allow_stale_rates=allow_stale,
    )  # fmt: skip
    if as_json:
        _print_json(
            {
                "principal": pln(amount), "from": first.isoformat(), "to": last.isoformat(), "basis": basis_kind.value,
                "day_count": "actual/365", "rounding": "half up, per period",
                "periods": [
                    {"from": p.first.isoformat(), "to": p.last.isoformat(), "days": p.days,
                     "rate": f"{p.rate_bp / 100:.2f}", "interest": pln(p.interest)}
                    for p in calc.pieces
                ],
                "days": calc.days, "total": pln(calc.total),
                "limitation_date": calc.limitation_date.isoformat() if calc.limitation_date else None,
                "tranches": [
                    {"from": t.first.isoformat(), "to": t.last.isoformat(), "interest": pln(t.amount),
                     "time_barred": t.time_barred, "rule": t.why}
                    for t in calc.tranches
                ],
                "time_barred": pln(calc.time_barred),
                "stale_rate_tables": calc.stale_rate_tables,
            }
        )  # fmt: skip
        return
    table = Table(title=f"{basis_kind.value} interest on {formats.amount(amount)}", header_style="bold")
    for name, justify in (("period", "left"), ("days", "right"), ("rate %", "right"), ("interest", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for p in calc.pieces:
        table.add_row(f"{p.first} – {p.last}", formats.count(p.days), formats.decimal(p.rate_bp / 100, 2),
                      formats.amount(p.interest))  # fmt: skip
    table.add_section()
    table.add_row("total", formats.count(calc.days), "", formats.amount(calc.total), style="bold")
    console.print(table)
    console.print("actual/365; each period rounded half up to the grosz (docs/engine.md §2)")
    tranches = Table(title=f"Limitation of the interest as of {last}", header_style="bold", show_lines=True)
    tranches.add_column("days", no_wrap=True)
    tranches.add_column("interest", justify="right", no_wrap=True)
    tranches.add_column("time-barred? (rule of law)", ratio=1)
    for t in calc.tranches:
        verdict = "[bold red]time-barred[/]" if t.time_barred else "[bold green]not time-barred[/]"
        tranches.add_row(f"{t.first} – {t.last}", formats.amount(t.amount), f"{verdict}\n[dim]{escape(t.why)}[/]")
    console.print(tranches)
    claim_end = f"the claim's own limitation ends {calc.limitation_date}" if calc.limitation_date else "the claim's limitation is suspended"
    console.print(f"time-barred interest: [bold]{formats.amount(calc.time_barred)}[/] of {formats.amount(calc.total)}; {claim_end}",
                  highlight=False)  # fmt: skip
    if calc.stale_rate_tables:
        console.print(_stale_note(calc.stale_rate_tables, last))


# ------------------------------------------------------------------------------------------- limitation
@app.command()
def limitation(
    due: Annotated[str, typer.Option("--due", help="Day the claim became due (wymagalność).")],
    kind: Annotated[str, ClaimKind],
    years: Annotated[int | None, typer.Option("--years", help="Years of a custom period.")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Day an enforcement title became final.")] = None,
    event: LimitationEvents = None,
    as_of: AsOf = None,
    as_json: Json = False,
) -> None:
    """The limitation date (przedawnienie) of a claim, and each step that moved it."""
    from engine.limitation import explain_limitation

    limitation_kind = _limitation_kind(kind, years)
    facts = _limitation_events(event)
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
                "rule_set": result.rule_set,
                "steps": [
                    {"day": s.day.isoformat(), "what": s.what, "effect": s.effect, "rule": s.rule,
                     "end": s.end.isoformat() if s.end else None, "proceedings_pending": s.pending}
                    for s in result.steps
                ],
            }
        )  # fmt: skip
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
    console.print(table)
    if result.limitation_date is None:
        console.print(f"As of {day_as_of}: [bold]suspended[/] — proceedings pending, the period does not run.")
    elif result.time_barred:
        console.print(f"As of {day_as_of}: [bold red]time-barred[/] since {result.limitation_date} (last day to sue).")
    else:
        console.print(f"As of {day_as_of}: [bold green]not time-barred[/]; last day to sue {result.limitation_date}.")


# ------------------------------------------------------------------------------------------------- demo
# ------------------------------------------------------------------------------------------------ store
db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Store URL (default: env CESSION_DATABASE_URL, else embedded SQLite)."),
]


def _store_url(url: str | None) -> str:
    from engine.store.settings import StoreSettings

    return url or StoreSettings().database_url


def _shown(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _open(url: str | None, upgrade: bool = True):
    from engine.store.database import open_store

    _say_lock_waits()
    return open_store(_store_url(url), upgrade=upgrade)


def _say_lock_waits() -> None:
    """A command about to wait for another's hold on the store says so, and for whom, on stderr."""
    from engine.store import lock_holders

    def waiting(holder: str) -> None:
        err.print(f"waiting for the store's lock held by {holder}…", highlight=False, soft_wrap=True)

    lock_holders.on_wait = waiting


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Bring the store's schema to this Cession's version (creates it in an empty database)."""
    from engine.store.database import _create, head_revision, revision, upgrade_schema

    url = _store_url(database_url)
    _say_lock_waits()
    engine = _create(url)
    before = revision(engine)
    upgrade_schema(engine)
    console.print(f"{_shown(url)}: schema {before or 'empty'} -> {revision(engine)} (head {head_revision()})")


@db_app.command("status")
def db_status(database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """Where the store is, its schema version, and what it holds."""
    from engine.store.database import _create, head_revision, revision
    from engine.store.scratch import sweep_scratch

    url = _store_url(database_url)
    _say_lock_waits()
    engine = _create(url)  # not open_store: it would migrate an empty store, and status only looks
    sweep_scratch(engine.url)  # but killed runs' temporary files go as with every command on the store
    current = revision(engine)
    counts = {}
    if current is not None:
        with engine.connect() as conn:
            for table in ("portfolios", "claims", "events", "claim_state", "engine_runs"):
                counts[table] = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
    status = {"database": _shown(url), "schema": current, "head": head_revision(), "counts": counts}
    if as_json:
        _print_json(status)
        return
    behind = "" if current == head_revision() else "  (run `cession db upgrade`)"
    console.print(f"store {status['database']}\nschema {current or 'empty'}, this Cession needs {status['head']}{behind}")
    for table, n in counts.items():
        console.print(f"  {table:12s} {formats.count(n):>14}", highlight=False)


def _load_files(engine, claims_path: Path, events_path: Path | None, quiet: bool) -> dict:
    import polars as pl

    from engine.store import records

    for path in (claims_path, events_path):
        if path is not None and not path.exists():
            raise UserError(f"{path}: no such file")
    with console.status("loading into the store", spinner="dots") if not quiet else _nothing():
        claims = pl.read_parquet(claims_path)
        events = pl.read_parquet(events_path) if events_path else None
        return records.load(engine, claims, events)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False


def _print_written(written: dict, rejects_out: Path | None) -> None:
    import polars as pl

    columns = [formats.Column("table")] + [formats.Column(c, "right") for c in ("rows", "inserted", "already stored", "rejected")]
    formats.records(console, "Stored", columns, [
        [name, formats.count(w.rows), formats.count(w.inserted), formats.count(w.already_stored),
         formats.count(w.rejects.height)]
        for name, w in written.items()
    ])  # fmt: skip
    rejects = pl.concat([w.rejects for w in written.values()])
    if rejects.height:
        if rejects_out is not None:
            rejects.write_parquet(rejects_out)
            console.print(f"[yellow]{formats.count(rejects.height)} rows rejected[/] -> {rejects_out}")
        else:
            console.print(f"[yellow]{formats.count(rejects.height)} rows rejected[/] (the first 10; --rejects FILE keeps them all):")
            for row in rejects.head(10).iter_rows(named=True):
                console.print(f"  {row['table']} {row['key']}: {row['reason']}")


@app.command()
def load(
    claims: Annotated[Path, typer.Option("--claims", help="claims.parquet (docs/data-contract.md)")],
    events: Annotated[Path | None, typer.Option("--events", help="events.parquet (docs/data-contract.md)")] = None,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="Write rejected rows here (Parquet).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Store claims and their events. Loading a file again stores nothing twice."""
    output_file(rejects, "--rejects", example="rejects.parquet")
    started = time.perf_counter()
    written = _load_files(_open(database_url), claims, events, as_json)
    if rejects is not None:
        import polars as pl

        pl.concat([w.rejects for w in written.values()]).write_parquet(rejects)
    if as_json:
        _print_json({t: w.summary() for t, w in written.items()} | {"seconds": round(time.perf_counter() - started, 3)})
    else:
        _print_written(written, rejects)
        console.print(f"({formats.seconds(time.perf_counter() - started)})", highlight=False)


def _run_summary(record) -> dict:
    stale = (record.provenance or {}).get("stale_rate_tables", {})
    return {
        "run_id": record.run_id, "status": record.status, "as_of": record.as_of.isoformat(),
        "portfolio": record.portfolio_id, "claims": record.claims, "events": record.events,
        "time_barred": record.time_barred, "totals": record.totals, "seconds": record.seconds,
        "state_sha256": record.state_sha256, "stale_rate_tables": stale, "error": record.error,
    }  # fmt: skip


def store_run(engine, as_of: date, portfolio: str | None, waterfall: str, allow_stale: bool, quiet: bool,
              executor: str | None = None, partitions: int | None = None):  # fmt: skip
    from engine.store import runs

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=quiet or not err.is_terminal, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("starting", total=None)
        with chosen_executor(executor, partitions) as (chosen, parts):
            return runs.run(
                engine, as_of, portfolio=portfolio, waterfall=waterfall, allow_stale_rates=allow_stale,
                on_stage=lambda text: progress.update(task, description=text),
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
                executor=None if chosen.name == "local" and parts in (None, 1) else chosen, partitions=parts,
            )  # fmt: skip


def _print_run(record) -> None:
    summary = {
        "as_of": record.as_of.isoformat(), "claims": record.claims, "events": record.events,
        "totals": record.totals, "time_barred": record.time_barred,
        "suspended": (record.provenance or {}).get("suspended", 0),
        "stale_rate_tables": (record.provenance or {}).get("stale_rate_tables", {}),
        "waterfall": (record.provenance or {}).get("waterfall"), "seconds": record.seconds,
        "limitation_rule_set": (record.provenance or {}).get("rules", {}).get("limitation_rule_set", {}).get("rule_set"),
    }  # fmt: skip
    _print_summary(summary, None)
    console.print(f"run {record.run_id} {record.status}; state sha256 {record.state_sha256[:16]}…", highlight=False)


@app.command()
def run(
    as_of: AsOfSeries = None,
    portfolio: Annotated[str | None, typer.Option("--portfolio", help="Only this portfolio (default: all).")] = None,
    waterfall: Annotated[
        str, typer.Option("--waterfall", help="Payment order, e.g. costs,interest,principal (art. 451 § 1 KC).")
    ] = "costs,interest,principal",
    allow_stale: AllowStale = False,
    executor: ExecutorOption = None,
    partitions: PartitionsOption = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Several days: a folder for state-DAY.parquet (the store is not changed).")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Compute claim_state from the store and replace the stored state atomically (recorded as a run).

    Several days (--as-of A,B or FIRST..LAST) make a valuation series: one claim_state per day,
    written to --out as Parquet, while the store keeps its current state."""
    days = parse_as_of(as_of)
    if len(days) > 1:
        output_folder(out, "--out")
        summaries = store_series(_open(database_url), days, portfolio, out, waterfall, allow_stale, executor, partitions,
                                 quiet=as_json)  # fmt: skip
        print_series(summaries, out, as_json)
        return
    if out is not None:
        raise UserError("--out goes with several --as-of days; one day replaces the stored state (see `cession runs`)")
    record = store_run(_open(database_url), days[0], portfolio, waterfall, allow_stale, as_json, executor, partitions)
    if as_json:
        from engine.money import pln

        summary = _run_summary(record)
        summary["totals"] = {k: pln(v) for k, v in (record.totals or {}).items()}
        _print_json(summary)
    else:
        _print_run(record)


@app.command("runs")
def runs_command(
    limit: Annotated[int, typer.Option("--limit", min=1)] = 20, database_url: DatabaseUrl = None, as_json: Json = False
) -> None:
    """The latest engine runs: when, as of which day, how they ended."""
    from engine.store import runs
    from engine.store.database import StoreError

    engine = _open(database_url)
    try:
        runs.recover(engine)  # a run still marked running without its process is marked failed
    except StoreError:
        pass  # a run is in progress: leave it be
    records = runs.runs_list(engine, limit)
    if as_json:
        _print_json([_run_summary(r) for r in records])
        return
    if not records:
        console.print("no engine runs in this store yet (`cession run` makes one)")
        return
    print_runs(console, records)


def print_runs(to: Console, records) -> None:
    """The runs as a table, or one block per run where the terminal is too narrow for one."""
    columns = [formats.Column("run", "right"), formats.Column("status"), formats.Column("as of"),
               formats.Column("portfolio"), formats.Column("claims", "right", optional=True),
               formats.Column("barred", "right", optional=True), formats.Column("time", "right", optional=True),
               formats.Column("error", wraps=True)]  # fmt: skip
    rows = [[str(r.run_id), r.status, str(r.as_of), escape(r.portfolio_id or "all"), formats.count(r.claims),
             formats.count(r.time_barred), formats.seconds(r.seconds), escape(formats.clipped(r.error or ""))]
            for r in records]  # fmt: skip
    formats.records(to, "Engine runs", columns, rows)


from api.ingest_cli import ingest_app  # noqa: E402

app.add_typer(ingest_app, name="ingest")


# ------------------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    claims: Annotated[int, typer.Option("--claims", min=1, help="Size of the demo portfolio.")] = 200_000,
    out: Annotated[Path, typer.Option("--out", help="Working folder (files and the demo's SQLite store).")] = Path(
        "demo-out"
    ),
    as_of: AsOf = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Store URL (default: an embedded SQLite file in --out).")
    ] = None,
) -> None:
    """The whole product so far on a demo portfolio: generate -> store -> run -> summary."""
    from benchmarks.generator import generate_portfolio, write_portfolio

    from engine import load_rules

    day = _day(as_of, "--as-of")
    output_folder(out, "--out")
    console.rule("[bold]Cession demo")
    rules = load_rules()
    console.print(f"1. rule tables loaded and validated: {', '.join(rules.versions())}")
    with console.status(f"2. generating {formats.count(claims)} claims (seed 42)"):
        claims_df, events_df = generate_portfolio(claims, 42)
        claims_path, events_path = write_portfolio(out, claims_df, events_df)
    console.print(f"2. generated {formats.count(claims_df.height)} claims and {formats.count(events_df.height)} events -> {out}/",
                  highlight=False)  # fmt: skip
    url = database_url or f"sqlite:///{(out / 'cession.db').resolve()}"
    engine = _open(url)
    started = time.perf_counter()
    written = _load_files(engine, claims_path, events_path, quiet=False)
    console.print(f"3. stored in {_shown(url)} ({formats.seconds(time.perf_counter() - started)}); a second demo finds them "
                  "already stored:", highlight=False)  # fmt: skip
    _print_written(written, None)
    stale = rules.stale(list(rules.rates), day)
    if stale:
        console.print(
            f"4. as of {day}: the shipped rate tables end earlier ({', '.join(f'{t.name} {t.last_valid}' for t in stale)}); "
            "the demo goes on with --allow-stale-rates and the run records it."
        )
    record = store_run(engine, day, None, "costs,interest,principal", allow_stale=True, quiet=False)
    console.print(f"5. run {record.run_id} computed the state from the store and replaced the stored state:")
    _print_run(record)
    from api.ingest_cli import demo_ingest

    demo_ingest(engine, out)
    console.print(f"Try: CESSION_DATABASE_URL=sqlite:///{(out / 'cession.db').resolve()} cession runs")
    console.print("     cession interest --principal 1000 --from 2025-05-01 --to 2026-03-31 --allow-stale-rates")
    console.print("     cession limitation --due 2016-03-15 --kind business --event acknowledgment:2019-01-10")
    console.print(f"     cession ingest {out / 'bank-przykladowy-2024-06.csv'} --portfolio BANK-2024-06 --profile bank_przykladowy --purchase-date 2024-06-28 --price 2500000")


def main() -> None:
    """`cession`: the command asked for, ended with an exit code of the table in ``api.exits``."""
    raise SystemExit(exits.run(app))


if __name__ == "__main__":
    main()
