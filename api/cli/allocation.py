"""`cession agencies add|list|update|deactivate|load`, `cession segments`, `cession allocate`,
`cession placements`, `cession recall` and `cession explain`: allocation over the store
(api/allocation/service.py, api/agencies/service.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api import formats
from api.cli import console
from api.cli.options import DatabaseUrl, Json
from api.cli.outputs import output_file
from api.cli.parsing import day_or_today, grosz_or_none
from api.cli.store import opened
from engine.errors import InputError

agencies_app = typer.Typer(help="The collection agencies cases are placed with.", no_args_is_help=True)

AsOfDay = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Day of the allocation, YYYY-MM-DD (default: today); the stored claim_state must be of that day.",
    ),
]
StrategyFile = Annotated[
    Path | None,
    typer.Option(
        "--strategy", help="Strategy YAML (default: env CESSION_STRATEGY, else allocation/examples/strategy.yaml)."
    ),
]
Name = Annotated[str | None, typer.Option("--name", help="The agency's name.")]
Capacity = Annotated[int | None, typer.Option("--capacity", min=0, help="Open cases at most.")]
CapacityBalance = Annotated[
    str | None, typer.Option("--capacity-balance", help="Open balance at most, zł (e.g. 2500000.00).")
]
Regions = Annotated[
    str | None, typer.Option("--regions", help="Postal-code prefixes, comma-separated (e.g. 00,01,05-1); '' for all.")
]
Kinds = Annotated[
    str | None, typer.Option("--debtor-kinds", help="consumer, business or both, comma-separated; '' for both.")
]
BalanceMin = Annotated[str | None, typer.Option("--balance-min", help="Takes claims with a balance from this, zł.")]
BalanceMax = Annotated[str | None, typer.Option("--balance-max", help="Takes claims with a balance below this, zł.")]
Commission = Annotated[
    int | None,
    typer.Option("--commission-bp", min=0, max=10_000, help="Commission on payments, basis points (1500 = 15 %)."),
]
Term = Annotated[int | None, typer.Option("--term-days", min=1, help="A case goes back after this many days.")]


def _listed(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _agency_values(
    name, capacity, capacity_balance, regions, debtor_kinds, balance_min, balance_max, commission_bp, term_days
) -> dict:
    """The given options as the spec's fields (amounts as text: the spec checks them)."""
    values = {
        "name": name,
        "capacity": capacity,
        "regions": _listed(regions),
        "debtor_kinds": _listed(debtor_kinds),
        "commission_bp": commission_bp,
        "term_days": term_days,
    }
    for option, field, text in (("--capacity-balance", "capacity_balance", capacity_balance),):
        if text is not None:
            values[field] = str(grosz_or_none(text, option) / 100)
    if balance_min is not None or balance_max is not None:
        low, high = grosz_or_none(balance_min, "--balance-min"), grosz_or_none(balance_max, "--balance-max")
        values["balance"] = [None if low is None else str(low / 100), None if high is None else str(high / 100)]
    return {k: v for k, v in values.items() if v is not None}


@agencies_app.command("add")
def agencies_add(
    agency_id: Annotated[str, typer.Argument(help="The agency's id, as events name it in `source`.")],
    name: Name = None,
    capacity: Capacity = None,
    capacity_balance: CapacityBalance = None,
    regions: Regions = None,
    debtor_kinds: Kinds = None,
    balance_min: BalanceMin = None,
    balance_max: BalanceMax = None,
    commission_bp: Commission = None,
    term_days: Term = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Store a new agency."""
    from allocation.agencies import spec
    from api.agencies import service

    values = _agency_values(
        name, capacity, capacity_balance, regions, debtor_kinds, balance_min, balance_max, commission_bp, term_days
    )
    agency = spec({"agency_id": agency_id, "name": name or agency_id} | values, where="cession agencies add")
    service.add(store=opened(database_url), agency=agency)
    _said(as_json, {"agency_id": agency_id, "added": True}, f"agency {agency_id} added")


@agencies_app.command("update")
def agencies_update(
    agency_id: Annotated[str, typer.Argument(help="The agency's id.")],
    name: Name = None,
    capacity: Capacity = None,
    capacity_balance: CapacityBalance = None,
    regions: Regions = None,
    debtor_kinds: Kinds = None,
    balance_min: BalanceMin = None,
    balance_max: BalanceMax = None,
    commission_bp: Commission = None,
    term_days: Term = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Take new cases or not.")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Change what is given of a stored agency."""
    from allocation.agencies import spec
    from api.agencies import service

    values = _agency_values(
        name, capacity, capacity_balance, regions, debtor_kinds, balance_min, balance_max, commission_bp, term_days
    )
    if active is not None:
        values["active"] = active
    if not values:
        raise InputError("cession agencies update: give at least one option to change (see --help)")
    checked = spec({"agency_id": agency_id, "name": name or agency_id} | values, where="cession agencies update").row()
    changes = {
        k: checked[k] for k in checked if k in values or (k in ("balance_min", "balance_max") and "balance" in values)
    }
    service.update(store=opened(database_url), agency_id=agency_id, changes=changes)
    _said(
        as_json,
        {"agency_id": agency_id, "updated": sorted(changes)},
        f"agency {agency_id}: {', '.join(sorted(changes))} updated",
    )


@agencies_app.command("deactivate")
def agencies_deactivate(
    agency_id: Annotated[str, typer.Argument(help="The agency's id.")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """No new cases for the agency; its open cases are recalled by the next `cession allocate`."""
    from api.agencies import service

    service.deactivate(store=opened(database_url), agency_id=agency_id)
    _said(as_json, {"agency_id": agency_id, "active": False}, f"agency {agency_id} deactivated")


@agencies_app.command("load")
def agencies_load(
    file: Annotated[Path, typer.Argument(help="Agencies YAML (see allocation/examples/agencies.yaml).")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Add the agencies of a YAML file (those stored already are replaced by the file's)."""
    from api.agencies import service

    added, replaced = service.load(store=opened(database_url), path=file)
    _said(as_json, {"added": added, "replaced": replaced}, f"{added} agencies added, {replaced} replaced from {file}")


@agencies_app.command("list")
def agencies_list(database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """Every agency: what it takes, its capacity and what it holds now."""
    from api.agencies import service
    from engine.money import pln

    frame = service.listed(store=opened(database_url))
    if as_json:
        rows = frame.to_dicts()
        for row in rows:
            for key in ("capacity_balance", "balance_min", "balance_max", "open_balance"):
                row[key] = None if row[key] is None else pln(row[key])
        console.print_json(rows)
        return
    if frame.height == 0:
        console.out.print("no agencies yet (`cession agencies add` or `cession agencies load FILE`)")
        return
    columns = [
        formats.Column("agency"),
        formats.Column("name", wraps=True),
        formats.Column("active"),
        formats.Column("cases", "right"),
        formats.Column("capacity", "right"),
        formats.Column("balance", "right"),
        formats.Column("capacity (balance)", "right"),
        formats.Column("regions", optional=True),
        formats.Column("kinds", optional=True),
        formats.Column("commission", "right", optional=True),
        formats.Column("term", "right", optional=True),
    ]
    rows = [
        [
            escape(r["agency_id"]),
            escape(r["name"]),
            "yes" if r["active"] else "no",
            formats.count(r["open_cases"]),
            formats.count(r["capacity"]),
            formats.amount(r["open_balance"]),
            formats.amount(r["capacity_balance"]),
            ", ".join(r["regions"]) or "all",
            ", ".join(r["debtor_kinds"]) or "all",
            _commission(r),
            "-" if r["term_days"] is None else f"{r['term_days']} d",
        ]
        for r in frame.iter_rows(named=True)
    ]
    formats.records(console.out, "Agencies", columns, rows)


def _commission(agency: dict) -> str:
    if agency["commission_tiers"]:
        return " / ".join(f"{formats.decimal(bp / 100, 1)}% from {start} d" for start, bp in agency["commission_tiers"])
    return "-" if agency["commission_bp"] is None else f"{formats.decimal(agency['commission_bp'] / 100, 1)}%"


def _said(as_json: bool, data: dict, text: str) -> None:
    if as_json:
        console.print_json(data)
    else:
        console.out.print(escape(text), highlight=False)


def segments(
    as_of: AsOfDay = None, strategy: StrategyFile = None, database_url: DatabaseUrl = None, as_json: Json = False
) -> None:
    """Each segment's size, balance and recovery score, and how well last quarter's scores predicted this quarter."""
    from api.allocation import service
    from engine.money import pln

    day = day_or_today(as_of, "--as-of")
    table, calibration = service.segments(store=opened(database_url), as_of=day, strategy_path=strategy)
    if as_json:
        console.print_json(
            {
                "as_of": day.isoformat(),
                "segments": [
                    {
                        "segment": r["segment"],
                        "claims": r["claims"],
                        "balance": pln(r["balance"]),
                        "pay_share": round(r["pay_share"], 6),
                        "recovery": round(r["recovery"], 6),
                        "credibility": None if r["pay_share_z"] is None else round(r["pay_share_z"], 6),
                    }
                    for r in table.iter_rows(named=True)
                ],
                "calibration": [
                    {
                        "segment": r["segment"],
                        "claims": r["claims"],
                        "predicted_pay_share": round(r["predicted_pay_share"], 6),
                        "actual_pay_share": round(r["actual_pay_share"], 6),
                        "predicted_recovery": round(r["predicted_recovery"], 6),
                        "actual_recovery": round(r["actual_recovery"], 6),
                    }
                    for r in calibration.iter_rows(named=True)
                ],
            }
        )
        return
    pct = lambda x: "-" if x is None else f"{formats.decimal(100 * x, 1)}%"  # noqa: E731
    gr = lambda x: "-" if x is None else f"{formats.decimal(100 * x, 2)} gr"  # noqa: E731
    formats.records(
        console.out,
        f"Segments as of {day} (score: share paying within 90 days; recovery per zł)",
        [
            formats.Column("segment"),
            formats.Column("claims", "right"),
            formats.Column("balance", "right"),
            formats.Column("score", "right"),
            formats.Column("recovery", "right"),
            formats.Column("credibility", "right", optional=True),
        ],
        [
            [
                escape(r["segment"]),
                formats.count(r["claims"]),
                formats.amount(r["balance"]),
                pct(r["pay_share"]),
                gr(r["recovery"]),
                pct(r["pay_share_z"]),
            ]
            for r in table.iter_rows(named=True)
        ],
    )
    formats.records(
        console.out,
        "Calibration: last quarter's scores against this quarter",
        [
            formats.Column("segment"),
            formats.Column("claims", "right"),
            formats.Column("predicted", "right"),
            formats.Column("actual", "right"),
            formats.Column("predicted rec.", "right", optional=True),
            formats.Column("actual rec.", "right", optional=True),
        ],
        [
            [
                escape(r["segment"]),
                formats.count(r["claims"]),
                pct(r["predicted_pay_share"]),
                pct(r["actual_pay_share"]),
                gr(r["predicted_recovery"]),
                gr(r["actual_recovery"]),
            ]
            for r in calibration.iter_rows(named=True)
        ],
    )


def allocate(
    as_of: AsOfDay = None,
    strategy: StrategyFile = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide and print; write nothing.")] = False,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Decide for every claim (place, legal queue, reminder, hold, leave, keep) and write the placements in one transaction."""
    from api.allocation import service

    day = day_or_today(as_of, "--as-of")
    store = opened(database_url)
    with console.status("allocating", quiet=as_json):
        done = service.allocate(store=store, as_of=day, strategy_path=strategy, dry_run=dry_run)
    if as_json:
        console.print_json(service.summary(done=done))
    else:
        print_allocation(done)


def print_allocation(done) -> None:
    """Counts and balances per action, agency and queue (and per side of a split); warnings."""
    screen = console.out
    summary, allocation = done.summary, done.allocation
    strategy = allocation.strategy
    what = "dry run: nothing written" if done.run_id is None else f"allocation run {done.run_id} written"
    screen.print(
        escape(
            f"Allocation as of {allocation.day} by {strategy.name} ({strategy.short}): {what}; "
            f"{formats.count(allocation.placements.height)} placed, "
            f"{formats.count(allocation.recalls.height)} recalled ({formats.seconds(done.seconds)})"
        ),
        highlight=False,
    )
    for title, key, label in (
        ("By action", "by_action", "action"),
        ("By agency", "by_agency", "agency_id"),
        ("By queue", "by_queue", "queue"),
    ):
        rows = [
            [
                escape(str(r[label] or "-")),
                formats.count(r["claims"]),
                formats.amount(r["balance"]),
                formats.share(r["claims"], summary["claims"]),
            ]
            for r in summary[key]
        ]
        formats.records(
            screen,
            title,
            [
                formats.Column(label.removesuffix("_id")),
                formats.Column("claims", "right"),
                formats.Column("balance", "right"),
                formats.Column("share", "right"),
            ],
            rows,
        )
    if strategy.challenger is not None:
        rows = [
            [r["side"], escape(r["action"]), formats.count(r["claims"]), formats.amount(r["balance"])]
            for r in summary["by_side"]
        ]
        formats.records(
            screen,
            f"Champion/challenger ({formats.decimal(100 * strategy.challenger_share, 0)}% of "
            f"{', '.join(strategy.challenger_segments or ['every segment'])})",
            [
                formats.Column("side"),
                formats.Column("action"),
                formats.Column("claims", "right"),
                formats.Column("balance", "right"),
            ],
            rows,
        )
    if done.sides is not None:
        rows = [
            [
                r["side"],
                r["strategy"][:12],
                formats.count(r["placed"]),
                formats.amount(r["balance"]),
                formats.amount(r["paid"]),
                f"{formats.decimal(100 * r['recovery_rate'], 2)}%",
            ]
            for r in done.sides
        ]
        formats.records(
            screen,
            "Champion/challenger: recent placements, paid while placed",
            [
                formats.Column("side"),
                formats.Column("strategy"),
                formats.Column("placed", "right"),
                formats.Column("balance", "right"),
                formats.Column("paid", "right"),
                formats.Column("recovery", "right"),
            ],
            rows,
        )
    for r in summary["recalled"]:
        screen.print(escape(f"recalled ({r['recall_reason']}): {formats.count(r['len'])}"), highlight=False)
    for warning in allocation.warnings:
        screen.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)
    if allocation.stale_fee_tables:
        screen.print(
            f"[bold yellow]Stale fees:[/] {', '.join(allocation.stale_fee_tables)} are known valid only to an earlier "
            "day; the last known fees were used"
        )


def placements(
    open_only: Annotated[bool, typer.Option("--open", help="Only the open placements.")] = False,
    agency: Annotated[str | None, typer.Option("--agency", help="Only this agency's.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write them to this Parquet file.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Payments and commission up to this day (default: today).")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """The placements (claim_id, agency_id, queue, placed_on, strategy, rule, ...), with the payments during each and the commission."""
    output_file(out, "--out", example="placements.parquet")
    import polars as pl

    from api.allocation import service
    from engine.money import pln

    day = day_or_today(as_of, "--as-of")
    frame = service.open_placements(store=opened(database_url), as_of=day, agency=agency, open_only=open_only)
    columns = [
        "claim_id",
        "agency_id",
        "queue",
        "placed_on",
        "recalled_on",
        "recall_reason",
        "strategy",
        "strategy_hash",
        "strategy_version",
        "rule",
        "allocation_run_id",
        "priority",
        "balance",
        "days_past_due",
        "paid",
        "rate_bp",
        "commission",
    ]
    frame = frame.select(columns)
    if out is not None:
        frame.write_parquet(out)
    per_agency = (
        frame.group_by("agency_id", "queue")
        .agg(
            placements=pl.len(),
            balance=pl.col("balance").sum(),
            paid=pl.col("paid").sum(),
            commission=pl.col("commission").sum(),
        )
        .sort("queue", "agency_id", nulls_last=True)
    )
    if as_json:
        console.print_json(
            {
                "placements": frame.height,
                "out": None if out is None else str(out),
                "by_agency": [
                    r | {k: pln(r[k]) for k in ("balance", "paid", "commission")} for r in per_agency.to_dicts()
                ],
            }
        )
        return
    formats.records(
        console.out,
        f"{'Open placements' if open_only else 'Placements'}" + (f" of {agency}" if agency else ""),
        [
            formats.Column("agency"),
            formats.Column("queue"),
            formats.Column("placements", "right"),
            formats.Column("balance", "right"),
            formats.Column("paid", "right"),
            formats.Column("commission", "right"),
        ],
        [
            [
                escape(r["agency_id"] or "-"),
                r["queue"],
                formats.count(r["placements"]),
                formats.amount(r["balance"]),
                formats.amount(r["paid"]),
                formats.amount(r["commission"]),
            ]
            for r in per_agency.iter_rows(named=True)
        ],
    )
    if out is not None:
        console.out.print(f"{formats.count(frame.height)} placements -> {escape(str(out))}", highlight=False)


def recall(
    claim: Annotated[list[int] | None, typer.Option("--claim", help="A claim to recall (repeatable).")] = None,
    agency: Annotated[str | None, typer.Option("--agency", help="Recall every open placement of this agency.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Day of the recall (default: today).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Recall open placements on demand (the claims become free for the next allocation, not with the same agency for a while)."""
    from api.allocation import service

    day = day_or_today(as_of, "--as-of")
    done = service.recall(store=opened(database_url), as_of=day, claims=claim, agency=agency)
    _said(as_json, {"recalled": done, "as_of": day.isoformat()}, f"{formats.count(done)} placements recalled on {day}")


def explain(
    claim_id: Annotated[int, typer.Argument(help="The claim.")],
    as_of: AsOfDay = None,
    strategy: StrategyFile = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Why a claim gets its decision: its state, segment, score, each rule tried and the holds."""
    from api.allocation import service
    from api.cli.contacts import jsonable, print_history
    from api.contacts import service as contacts_service
    from engine.money import pln

    day = day_or_today(as_of, "--as-of")
    store = opened(database_url)
    why = service.explain(store=store, claim_id=claim_id, as_of=day, strategy_path=strategy)
    contacts = contacts_service.history(store=store, claim_id=claim_id)
    claim, decision = why.claim, why.decision
    if as_json:
        shown = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in claim.items()}
        for key in ("balance", "principal", "costs_epu", "costs_court"):
            shown[key] = pln(claim[key]) if claim[key] is not None else None
        console.print_json(
            {
                "claim_id": claim_id,
                "as_of": day.isoformat(),
                "claim": shown,
                "decision": {
                    k: decision[k]
                    for k in ("side", "strategy", "rule", "action", "agency_id", "queue", "reason", "priority")
                },
                "segments": [
                    dict(s, conditions=[{"field": f, "wanted": w, "held": h} for f, w, h in s["conditions"]])
                    for s in why.segments
                ],
                "rules": [
                    dict(r, conditions=[{"field": f, "wanted": w, "held": h} for f, w, h in r["conditions"]])
                    for r in why.rules
                ],
                "holds": why.holds,
                "open_placement": None
                if why.open_placement is None
                else {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in why.open_placement.items()},
                "contacts": jsonable(contacts),
            }
        )
        return
    screen = console.out
    screen.print(
        f"[bold]Claim {claim_id}[/] as of {day} (strategy {escape(why.strategy.name)}, {decision['side']})",
        highlight=False,
    )
    formats.facts(
        screen,
        [
            f"balance {formats.amount(claim['balance'])}",
            f"principal {formats.amount(claim['principal'])}",
            f"days past due {formats.count(claim['days_past_due'])}",
            f"debtor {claim['debtor_id']} ({claim['debtor_kind']})",
            f"postal code {claim['postal_code'] or '-'}",
            f"PESEL/NIP {'valid' if claim['national_id_ok'] else 'none or invalid'}",
            f"flags {', '.join(claim['flags']) or '-'}",
            f"limitation {claim['limitation']} ({claim['limitation_date'] or '-'})",
            f"title {'yes' if claim['title'] else 'no'}",
            f"payments {claim['payments']} (last {claim['last_paid'] or '-'})",
            f"segment {escape(claim['segment'])}",
            f"score {formats.decimal(100 * claim['score'], 1)}%",
            f"recovery {formats.decimal(100 * claim['recovery'], 2)} gr/zł",
            f"EPU {'possible' if claim['epu_allowed'] else 'not possible (due > 3 years or no valid PESEL/NIP)'}",
            f"legal costs: EPU {formats.amount(claim['costs_epu'])}, court {formats.amount(claim['costs_court'])}",
        ],
    )
    for title, tried in (("Segments tried", why.segments), ("Rules tried", why.rules)):
        screen.print(f"[bold]{title}[/]")
        for item in tried:
            mark = "[green]matched[/]" if item["matched"] else "[dim]no[/]"
            screen.print(
                f"  {escape(item['name'])}" + (f" -> {item['action']}" if item["action"] else "") + f": {mark}",
                highlight=False,
            )
            for field, wanted, held in item["conditions"]:
                screen.print(
                    f"      {'✓' if held else '✗'} {escape(field)}" + (f" ({escape(wanted)})" if wanted else ""),
                    highlight=False,
                )
    for hold in why.holds:
        screen.print(f"[bold yellow]hold:[/] {escape(hold)}", highlight=False)
    where = decision["agency_id"] or decision["queue"] or "-"
    screen.print(
        f"[bold]Decision:[/] {decision['action']} ({escape(where)}) by rule {escape(decision['rule'])}"
        + (f", {escape(decision['reason'])}" if decision["reason"] else ""),
        highlight=False,
    )
    print_history(screen, contacts)
