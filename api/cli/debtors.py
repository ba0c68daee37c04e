"""``cession debtors export``: the store's debtors with their virtual accounts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.options import DatabaseUrl, Json
from api.cli.outputs import output_file
from api.cli.store import opened

debtors_app = typer.Typer(help="The store's debtors and their virtual accounts.", no_args_is_help=True)


@debtors_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Where to write: .parquet, .csv or .xlsx.")],
    portfolio: Annotated[
        str | None, typer.Option("--portfolio", help="Only debtors of this portfolio's claims.")
    ] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Write every debtor with their virtual account (NRB and IBAN), giving one first to any debtor
    stored before they had one (CESSION_VIRTUAL_ACCOUNT_PREFIX: the fund's bank and client number)."""
    output_file(out, "--out", example="debtors.csv")
    from api.debtors import service

    started = time.perf_counter()
    done = service.export(store=opened(database_url), out=out, portfolio=portfolio)
    if as_json:
        console.print_json({"debtors": done.debtors, "assigned": done.assigned, "out": str(done.out)})
        return
    console.out.print(
        f"{formats.count(done.debtors)} debtors -> {done.out} "
        f"({formats.count(done.assigned)} virtual accounts given now; {formats.seconds(time.perf_counter() - started)})",
        highlight=False,
    )
