"""`cession keys create|list|revoke`: the HTTP API's keys (api/keys/service.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import console
from api.cli.options import DatabaseUrl, Json
from engine.domain import KeyRole

keys_app = typer.Typer(help="The HTTP API's keys: create (shown once), list, revoke.", no_args_is_help=True)
ROLES = ", ".join(r.value for r in KeyRole)


def _store(database_url: str | None):
    from api.cli.store import opened

    return opened(database_url)


@keys_app.command()
def create(
    role: Annotated[str, typer.Option("--role", help=f"One of {ROLES}.")],
    agency: Annotated[str | None, typer.Option("--agency", help="The agency of an agency's key.")] = None,
    label: Annotated[str | None, typer.Option("--label", help="What the key is for (shown in lists).")] = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Make a key and print it once: only its SHA-256 is stored."""
    from api.keys import service

    made = service.create(store=_store(database_url), role=role, agency_id=agency, label=label)
    if as_json:
        console.print_json(made.summary())
        return
    console.out.print(f"key {made.key_id} ({made.role.value}{', agency ' + made.agency_id if made.agency_id else ''})")
    console.out.print(made.key, markup=False, highlight=False, soft_wrap=True)
    console.err.print("This is the only time the key is shown: keep it in a secret store.")


@keys_app.command("list")
def list_keys(database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """Every key: id, role, agency, label, made when and by whom, revoked when (never the key)."""
    from rich.table import Table

    from api.keys import service

    records = service.listed(store=_store(database_url))
    if as_json:
        console.print_json([r.summary() for r in records])
        return
    table = Table("key_id", "role", "agency", "label", "created", "revoked")
    for r in records:
        table.add_row(
            r.key_id,
            r.role.value,
            r.agency_id or "",
            r.label or "",
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    console.out.print(table if records else "no keys (cession keys create --role ...)")


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (cession keys list).")],
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Revoke a key: from its next request on it is refused (401)."""
    from api.keys import service

    record = service.revoke(store=_store(database_url), key_id=key_id)
    if as_json:
        console.print_json(record.summary())
        return
    console.out.print(f"key {record.key_id} revoked")


def serve(
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (production: 2 per core).")] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json) on the store (CESSION_DATABASE_URL)."""
    import os

    from api.http.serve import serve as run
    from api.store.service import database_url as configured

    os.environ["CESSION_DATABASE_URL"] = configured(given=database_url)  # each worker opens it
    _store(database_url)  # migrated (or refused) before the first request, with a clear error
    status = run(
        host=host, port=port, workers=workers
    )  # workers > 1: connections handed to the least busy (api/http/serve.py)
    if status:
        raise typer.Exit(status)
