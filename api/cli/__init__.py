"""The `cession` command line: tables for people, ``--json`` for scripts, one exit-code table
(``api.exits``).

One module per group of commands, each a thin layer over its service (``api/<domain>/service.py``,
which the HTTP API calls too): it parses options (``parsing``, the shared ``options``), calls the
service, prints the result (``console``, ``api.formats``). Command modules import their service
inside the command: ``cession --help``, and every command, load only what they use (numba,
polars, pyarrow, Ray and SQLAlchemy are imported by the services and the engine).

| module | commands |
|---|---|
| ``calculators`` | ``interest``, ``limitation`` |
| ``states`` | ``state`` |
| ``store`` | ``db upgrade``, ``db status``, ``load`` |
| ``runs`` | ``run``, ``runs`` |
| ``ingest`` | ``ingest FILE``, ``ingest report`` |
| ``demo`` | ``generate``, ``demo`` |
| ``allocation`` | ``agencies add|list|update|deactivate|load``, ``segments``, ``allocate``, ``placements``, ``recall``, ``explain`` |
| ``keys`` | ``keys create``, ``keys list``, ``keys revoke``, ``serve`` |
| ``webhooks`` | ``webhooks deliver`` |
| ``statements`` | ``statements import FILE``, ``statements list``, ``suspense list|assign|refund`` |
| ``debtors`` | ``debtors export`` |
| ``plans`` | ``plans create|show|list|cancel|update``, ``settlements create|show|list|cancel``, ``promises create|show|list|cancel|rates`` |
| ``contacts`` | ``contacts plan|send|results|history|object``, ``letters templates|preview|reproduce`` |
| ``ledger`` | ``journal``, ``reconcile`` |
| ``reports`` | ``report`` |
"""

from __future__ import annotations

from typing import Annotated

import typer

from api import exits, logs
from api.cli import (
    allocation,
    calculators,
    contacts,
    debtors,
    demo,
    ingest,
    keys,
    ledger,
    plans,
    reports,
    runs,
    statements,
    states,
    store,
    webhooks,
)

app = typer.Typer(
    name="cession",
    help="Cession: a servicing engine for purchased debt (interest, limitation and payments under Polish law).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain (click) help and usage errors for every command: typer's rich help imports rich's
    # markdown and traceback machinery (~0.15 s) before it prints a line, and --help must answer
    # in under 0.3 s; the tables commands print are still rich's
    rich_markup_mode=None,
)


@app.callback()
def _logging(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, show_default=False, help="Log what is done to stderr: -v info, -vv debug."
        ),
    ] = 0,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="CESSION_LOG_LEVEL",
            metavar="LEVEL",
            help="DEBUG, INFO, WARNING (the default), ERROR or CRITICAL; wins over -v.",
        ),
    ] = None,
) -> None:
    logs.configure(logs.level_of(verbose, log_level))


app.command()(demo.generate)
app.command()(states.state)
app.command()(calculators.interest)
app.command()(calculators.limitation)
app.command()(store.load)
app.command()(runs.run)
app.command("runs")(runs.runs)
app.command()(demo.demo)
app.command()(allocation.segments)
app.command()(allocation.allocate)
app.command()(allocation.placements)
app.command()(allocation.recall)
app.command()(allocation.explain)
app.command()(reports.report)
app.add_typer(store.db_app, name="db")
app.add_typer(ingest.ingest_app, name="ingest")
app.add_typer(debtors.debtors_app, name="debtors")
app.add_typer(allocation.agencies_app, name="agencies")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(contacts.contacts_app, name="contacts")
app.add_typer(contacts.letters_app, name="letters")
app.add_typer(statements.statements_app, name="statements")
app.add_typer(statements.suspense_app, name="suspense")
app.add_typer(plans.plans_app, name="plans")
app.add_typer(plans.settlements_app, name="settlements")
app.add_typer(plans.promises_app, name="promises")
app.command()(keys.serve)
app.command()(ledger.journal)
app.command()(ledger.reconcile)


def main() -> None:
    """`cession`: the command asked for, ended with an exit code of the table in ``api.exits``."""
    raise SystemExit(exits.run(app))
