"""`cession webhooks deliver`: deliver the agencies' change feeds to their webhooks
(api/webhooks/service.py), once or in a loop."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import console
from api.cli.options import DatabaseUrl

webhooks_app = typer.Typer(help="The agencies' webhooks: deliver their change feeds.", no_args_is_help=True)


@webhooks_app.command()
def deliver(
    once: Annotated[bool, typer.Option("--once", help="One round, then stop (else: until interrupted).")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between rounds.")] = 2.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Send every due webhook its next batch of changes, signed; retry failures with a backoff."""
    import time

    from api.cli.store import opened
    from api.webhooks import service

    store = opened(database_url)
    while True:
        attempted = service.deliver_due(store=store)
        if attempted:
            console.err.print(f"{attempted} deliveries attempted", highlight=False)
        if once:
            return
        time.sleep(interval)
