"""`cession generate` (a seeded synthetic portfolio in Parquet) and `cession demo` (the whole
product so far on a demo portfolio: generate, store, run, summary, then a messy seller file
ingested)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.ingest import ingested, print_report
from api.cli.options import AsOf, Json
from api.cli.outputs import output_folder
from api.cli.parsing import day_or_today
from api.cli.runs import print_run
from api.cli.store import opened, print_loaded


def generate(
    claims: Annotated[int, typer.Option("--claims", min=1, help="How many claims.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same files.")] = 42,
    out: Annotated[Path, typer.Option("--out", help="Folder for claims.parquet and events.parquet.")] = Path("out"),
    events_per_claim: Annotated[float, typer.Option("--events-per-claim", min=0.0)] = 3.0,
    as_json: Json = False,
) -> None:
    """Write a seeded synthetic portfolio (claims.parquet, events.parquet) in docs/data-contract.md's shape."""
    from synthetic.book import generate_portfolio, write_portfolio

    output_folder(out, "--out")
    started = time.perf_counter()
    with console.status(f"generating {formats.count(claims)} claims"):
        claims_df, events_df = generate_portfolio(claims, seed, events_per_claim=events_per_claim)
        claims_path, events_path = write_portfolio(out, claims_df, events_df)
    seconds = time.perf_counter() - started
    if as_json:
        console.print_json(
            {
                "claims": claims_df.height,
                "events": events_df.height,
                "claims_path": str(claims_path),
                "events_path": str(events_path),
                "seconds": round(seconds, 3),
            }
        )
    else:
        console.out.print(
            f"{formats.count(claims_df.height)} claims -> {claims_path}\n"
            f"{formats.count(events_df.height)} events -> {events_path}\n({formats.seconds(seconds)}, seed {seed})",
            highlight=False,
        )


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
    """The whole product so far on a demo portfolio: generate -> store -> run -> allocate -> ingest -> report."""
    from api.claims import service as claims_service
    from api.runs import service as runs_service
    from api.store.service import shown
    from engine.rules import load_rules
    from synthetic.book import generate_debtors, generate_portfolio, write_portfolio

    day = day_or_today(as_of, "--as-of")
    output_folder(out, "--out")
    screen = console.out
    screen.rule("[bold]Cession demo")
    rules = load_rules()
    screen.print(f"1. rule tables loaded and validated: {', '.join(rules.versions())}")
    with console.status(f"2. generating {formats.count(claims)} claims (seed 42)"):
        claims_df, events_df = generate_portfolio(claims, 42)
        claims_path, events_path = write_portfolio(out, claims_df, events_df)
    screen.print(
        f"2. generated {formats.count(claims_df.height)} claims and {formats.count(events_df.height)} events -> {out}/",
        highlight=False,
    )
    url = database_url or f"sqlite:///{(out / 'cession.db').resolve()}"
    store = opened(url)
    started = time.perf_counter()
    with console.status("loading into the store"):
        loaded = claims_service.load(store=store, claims=claims_path, events=events_path)
        debtors = claims_service.load_debtors(store=store, debtors=generate_debtors(claims_df, 42))
    screen.print(
        f"3. stored in {shown(url=url)} ({formats.seconds(time.perf_counter() - started)}); a second demo finds them "
        "already stored:",
        highlight=False,
    )
    print_loaded(loaded, None)
    screen.print(
        f"   debtors: {formats.count(debtors.inserted)} stored, {formats.count(debtors.already_stored)} already "
        "stored (PESEL/NIP, postal codes, flags)",
        highlight=False,
    )
    stale = rules.stale(list(rules.rates), day)
    if stale:
        screen.print(
            f"4. as of {day}: the shipped rate tables end earlier ({', '.join(f'{t.name} {t.last_valid}' for t in stale)}); "
            "the demo goes on with --allow-stale-rates and the run records it."
        )
    with console.steps("starting") as steps:
        record = runs_service.run(
            store=store, as_of=day, allow_stale_rates=True, on_stage=steps.stage, on_progress=steps.advance
        )
    screen.print(f"5. run {record.run_id} computed the state from the store and replaced the stored state:")
    print_run(record)
    _demo_allocation(store, day)
    _demo_ingest(store, out)
    first, last = _demo_journal(store, out, events_df, day)
    _demo_report(store, out, day, claims_df)
    screen.print(f"Try: CESSION_DATABASE_URL=sqlite:///{(out / 'cession.db').resolve()} cession runs")
    screen.print(
        f"     cession segments --as-of {day}; cession placements --open --out placements.parquet; "
        f"cession explain 17 --as-of {day}"
    )
    screen.print(
        f"     cession journal --from {first} --to {last} --out journal.xlsx --trial-balance; cession reconcile --from {first} --to {last}"
    )
    screen.print(
        f"     cession report --portfolio PORTFOLIO --as-of {day} --out report.html; cession serve, then /dashboard"
    )
    screen.print("     cession interest --principal 1000 --from 2025-05-01 --to 2026-03-31 --allow-stale-rates")
    screen.print("     cession limitation --due 2016-03-15 --kind business --event acknowledgment:2019-01-10")
    screen.print(
        f"     cession ingest {out / 'bank-przykladowy-2024-06.csv'} --portfolio BANK-2024-06 --profile bank_przykladowy --purchase-date 2024-06-28 --price 2500000"
    )


def _demo_allocation(store, day) -> None:
    """The demo's allocation step: the shipped agencies and strategy (allocation/examples/), every
    claim decided as of the run's day, the placements written; the summary printed."""
    from api.agencies import service as agencies_service
    from api.allocation import service as allocation_service
    from api.cli.allocation import print_allocation

    screen = console.out
    examples = allocation_service.EXAMPLES
    added, replaced = agencies_service.load(store=store, path=examples / "agencies.yaml")
    screen.print(
        f"6. agencies from {examples / 'agencies.yaml'}: {added} added, {replaced} replaced; allocating with "
        f"{examples / 'strategy.yaml'}:",
        highlight=False,
    )
    with console.status("allocating"):
        done = allocation_service.allocate(store=store, as_of=day, strategy_path=examples / "strategy.yaml")
    print_allocation(done)


def _demo_journal(store, out: Path, events, day) -> tuple:
    """The demo's journal step: the month of the latest events (on or before ``day``), written to
    Parquet, and its reconciliation; returns the month's first and last day."""
    from datetime import timedelta

    import polars as pl

    from api.cli.ledger import print_journal
    from api.ledger import service as ledger_service

    latest = events.filter(pl.col("event_date") <= day).get_column("event_date").max() or day
    first = latest.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    screen = console.out
    path = out / f"journal-{first:%Y-%m}.parquet"
    with console.status(f"8. the journal of {first:%Y-%m}"):
        book = ledger_service.book_of(store=store)
        j = ledger_service.compute(book=book, first=first, last=last, allow_stale_rates=True)
        ledger_service.write(journal=j, out=path)
        r = ledger_service.reconciliation(journal=j)
    screen.print(f"8. the journal of {first}..{last} (every transaction balanced) -> {path}:", highlight=False)
    print_journal(ledger_service.summary(journal=j))
    screen.print(
        "   reconciled with the events and the engine's states: "
        + ("no difference" if r.ok else f"[red]{len(r.differences)} difference(s)[/] (cession reconcile shows them)")
    )
    return first, last


def _demo_report(store, out: Path, day, claims) -> None:
    """The demo's report step: the largest portfolio's analytics and ERC as a self-contained page."""
    from api.cli.reports import print_summary
    from api.reports import service

    largest = claims.group_by("portfolio_id").len().sort(["len", "portfolio_id"], descending=[True, False]).item(0, 0)
    with console.status(f"9. the report on {largest}"):
        figures = service.report(store=store, portfolio_id=largest, as_of=day, rate=service.discount_rate(text=None))
        path = service.write_html(figures=figures, out=out / "report.html")
    console.out.print(
        f"9. the report on {largest} (curves, balances, agencies, ERC by chain-ladder) -> {path}:", highlight=False
    )
    print_summary(figures, None)


def _demo_ingest(store, out: Path, rows: int = 20_000) -> None:
    """The demo's ingest step: a seeded messy seller export (Windows-1250, ';', decimal commas,
    Polish headers, ~2 % bad rows) through the shipped profile into the demo store."""
    from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv

    screen = console.out
    with console.status(f"7. writing a messy seller file of {formats.count(rows)} rows"):
        frame, expected = seller_file(rows, seed=42)
        path = write_seller_csv(frame, out / "bank-przykladowy-2024-06.csv")
    screen.print(
        f"7. a seller's export: {path} ({formats.count(rows)} rows, Windows-1250, ';', decimal commas, "
        f"{formats.count(expected['row'].n_unique())} bad rows planted); ingesting with profile {PROFILE}:",
        highlight=False,
    )
    report = ingested(
        store,
        path,
        "BANK-2024-06",
        profile=PROFILE,
        price=250_000_000,
        purchase_date=PURCHASE_DATE,
        reports=out / path.stem,
    )
    print_report(report, report.reports, shown=5)
    if report.status == "ingested":
        found = set(report.failures["row"]) == set(expected["row"])
        screen.print(
            f"   rejected {formats.count(report.rejected)} rows: {'exactly the planted ones' if found else '[red]not the planted ones[/]'}"
        )
