"""`cession db upgrade`, `cession db status` and `cession load`; ``opened``: the store every
command on it uses (its lock waits said on stderr)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api import formats
from api.cli import console
from api.cli.options import ClaimsFile, DatabaseUrl, Json
from api.cli.outputs import output_file

db_app = typer.Typer(help="The store's schema (Alembic migrations).", no_args_is_help=True)


def opened(database_url: str | None):
    """The store at --database-url (else the setting), schema current; a wait for another
    command's hold on it is said on stderr."""
    from api.store import service

    return service.opened(url=service.database_url(given=database_url), on_wait=console.waiting)


@db_app.command("upgrade")
def db_upgrade(database_url: DatabaseUrl = None) -> None:
    """Bring the store's schema to this Cession's version (creates it in an empty database)."""
    from api.store import service

    done = service.upgrade(url=service.database_url(given=database_url), on_wait=console.waiting)
    console.out.print(f"{done.database}: schema {done.before or 'empty'} -> {done.after} (head {done.head})")


@db_app.command("status")
def db_status(database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """Where the store is, its schema version, and what it holds."""
    from api.store import service

    status = service.status(url=service.database_url(given=database_url), on_wait=console.waiting)
    if as_json:
        console.print_json(status.summary())
        return
    behind = "" if status.schema == status.head else "  (run `cession db upgrade`)"
    console.out.print(
        f"store {status.database}\nschema {status.schema or 'empty'}, this Cession needs {status.head}{behind}"
    )
    for table, n in status.counts.items():
        console.out.print(f"  {table:12s} {formats.count(n):>14}", highlight=False)


def load(
    claims: ClaimsFile,
    events: Annotated[Path | None, typer.Option("--events", help="events.parquet (docs/data-contract.md)")] = None,
    rejects: Annotated[Path | None, typer.Option("--rejects", help="Write rejected rows here (Parquet).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Store claims and their events. Loading a file again stores nothing twice."""
    output_file(rejects, "--rejects", example="rejects.parquet")
    from api.claims import service

    started = time.perf_counter()
    store = opened(database_url)
    with console.status("loading into the store", quiet=as_json):
        loaded = service.load(store=store, claims=claims, events=events)
    if rejects is not None:
        loaded.rejects.write_parquet(rejects)
    if as_json:
        console.print_json(loaded.summary() | {"seconds": round(time.perf_counter() - started, 3)})
    else:
        print_loaded(loaded, rejects)
        console.out.print(f"({formats.seconds(time.perf_counter() - started)})", highlight=False)


def print_loaded(loaded, rejects_out: Path | None) -> None:
    """What each table stored, and the rejected rows (the first 10, or where --rejects put them all)."""
    screen = console.out
    columns = [formats.Column("table")] + [
        formats.Column(c, "right") for c in ("rows", "inserted", "already stored", "rejected")
    ]
    formats.records(
        screen,
        "Stored",
        columns,
        [
            [
                name,
                formats.count(w.rows),
                formats.count(w.inserted),
                formats.count(w.already_stored),
                formats.count(w.rejects.height),
            ]
            for name, w in loaded.written.items()
        ],
    )
    rejects = loaded.rejects
    if rejects.height:
        if rejects_out is not None:
            screen.print(f"[yellow]{formats.count(rejects.height)} rows rejected[/] -> {rejects_out}")
        else:
            screen.print(
                f"[yellow]{formats.count(rejects.height)} rows rejected[/] (the first 10; --rejects FILE keeps them all):"
            )
            for row in rejects.head(10).iter_rows(named=True):
                screen.print(f"  {row['table']} {row['key']}: {row['reason']}")
