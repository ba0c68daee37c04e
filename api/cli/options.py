"""The options several commands share, as ``Annotated`` aliases (``as_json: Json = False``), so
that a flag is spelled, explained and checked once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import exits
from engine.domain import CLAIM_LIMITATION_KINDS, LIMITATION_EVENT_KINDS, LimitationKind

Json = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Machine-readable output: amounts as strings '123.45'; errors as JSON too.",
        callback=exits.json_requested,
        is_eager=True,
    ),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Store URL (default: env CESSION_DATABASE_URL, else embedded SQLite)."),
]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Day of the state, YYYY-MM-DD (default: today).")]
AsOfSeries = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Day of the state, YYYY-MM-DD (default: today); or days A,B,C; or month-ends FIRST..LAST "
        "(2026-01-31..2026-12-31: every month-end of 2026).",
    ),
]
AllowStale = Annotated[
    bool,
    typer.Option(
        "--allow-stale-rates",
        help="Go on past a rate table's last_value_still_valid_on with its last known rate; the result records it.",
    ),
]
Waterfall = Annotated[
    str, typer.Option("--waterfall", help="Payment order, e.g. costs,interest,principal (art. 451 § 1 KC).")
]
DEFAULT_WATERFALL = "costs,interest,principal"
Executor = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="local (in this process; the default, env CESSION_EXECUTOR) or ray: an existing cluster at "
        "CESSION_RAY_ADDRESS (host:port or ray://host:10001), else a local Ray started for this command.",
    ),
]
Partitions = Annotated[
    int | None,
    typer.Option(
        "--partitions", min=1, help="Claim partitions (default 1 local, 2 per CPU on Ray; env CESSION_PARTITIONS)."
    ),
]
ClaimsFile = Annotated[Path, typer.Option("--claims", help="claims.parquet (docs/data-contract.md)")]
EventsFile = Annotated[Path, typer.Option("--events", help="events.parquet (docs/data-contract.md)")]
LimitationEvents = Annotated[
    list[str] | None,
    typer.Option("--event", help=f"KIND:YYYY-MM-DD, repeatable ({', '.join(LIMITATION_EVENT_KINDS)})."),
]
ClaimKind = typer.Option(
    "--kind", help=f"The claim's limitation kind: {LimitationKind.spelled(CLAIM_LIMITATION_KINDS)}."
)
Years = Annotated[int | None, typer.Option("--years", help="Years of a custom period.")]
Title = Annotated[str | None, typer.Option("--title", help="Day an enforcement title became final.")]
