"""What a report reads from the store, as of one moment (``engine.store.bulk.read_snapshot``: on
PostgreSQL each read on its own connection, all at once, in one snapshot).

The whole book's claims (the columns the curves need) and collections (the development factors
pool every portfolio), and of the one portfolio: its stored claim_state, its placements and the
payments of its placed claims with their source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa

from allocation.store import agencies as stored_agencies
from engine.store.bulk import read_snapshot
from reports.agencies import PLACEMENT_SCHEMA, SOURCED_PAYMENT_SCHEMA
from reports.balances import STATE_SCHEMA
from reports.collections import CLAIM_SCHEMA, PAYMENT_SCHEMA, REVERSAL_SCHEMA

RUN_SCHEMA = {"run_id": pl.Int64, "as_of": pl.Date}


@dataclass(frozen=True)
class Book:
    """The reads of one report: the book's claims, payments and reversals up to the as-of day; the
    portfolio's stored state (its current run's; ``run`` names it, None before a run), placements,
    placed claims' payments with their source, and the agencies."""

    claims: pl.DataFrame
    payments: pl.DataFrame
    reversals: pl.DataFrame
    state: pl.DataFrame
    run: dict | None
    placements: pl.DataFrame
    placed_payments: pl.DataFrame
    agencies: pl.DataFrame


def portfolio_row(conn: sa.Connection, portfolio_id: str) -> dict | None:
    row = (
        conn.execute(
            sa.text(
                "SELECT p.portfolio_id, p.name, p.seller, p.current_run_id, r.as_of AS run_as_of "
                "FROM portfolios p LEFT JOIN engine_runs r ON r.run_id = p.current_run_id "
                "WHERE p.portfolio_id = :portfolio"
            ),
            {"portfolio": portfolio_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    found = dict(row)
    if isinstance(found["run_as_of"], str):  # SQLite hands dates back as text here
        found["run_as_of"] = date.fromisoformat(found["run_as_of"])
    return found


def read_book(engine: sa.Engine, portfolio_id: str, as_of: date, with_state: bool = True) -> Book:
    """The reads of a report on ``portfolio_id`` as of ``as_of`` (``with_state``: its stored claim_state too)."""
    mine = {"portfolio": portfolio_id}
    day = {"as_of": as_of}
    placed = (
        "SELECT p.claim_id FROM placements p JOIN claims c ON c.claim_id = p.claim_id WHERE c.portfolio_id = :portfolio"
    )
    queries = {
        "claims": (f"SELECT {', '.join(CLAIM_SCHEMA)} FROM claims", CLAIM_SCHEMA, None),
        "payments": (
            f"SELECT {', '.join(PAYMENT_SCHEMA)} FROM events WHERE kind = 'payment' AND event_date <= :as_of",
            PAYMENT_SCHEMA,
            day,
        ),
        "reversals": (
            "SELECT reverses, event_date FROM events WHERE kind = 'reversal' AND reverses IS NOT NULL "
            "AND event_date <= :as_of",
            REVERSAL_SCHEMA,
            day,
        ),
        "placements": (
            f"SELECT {', '.join(f'p.{c}' for c in PLACEMENT_SCHEMA)} FROM placements p "
            "JOIN claims c ON c.claim_id = p.claim_id WHERE c.portfolio_id = :portfolio AND p.placed_on <= :as_of",
            PLACEMENT_SCHEMA,
            mine | day,
        ),
        "placed_payments": (
            "SELECT e.claim_id, e.event_date, e.amount, e.source FROM events e WHERE e.kind = 'payment' "
            f"AND e.event_date <= :as_of AND e.claim_id IN ({placed}) AND e.event_id NOT IN "
            "(SELECT r.reverses FROM events r WHERE r.kind = 'reversal' AND r.reverses IS NOT NULL "
            "AND r.event_date <= :as_of)",
            SOURCED_PAYMENT_SCHEMA,
            mine | day,
        ),
    }
    if with_state:
        queries["state"] = (
            f"SELECT {', '.join(f's.{c}' for c in STATE_SCHEMA)} FROM claim_state s JOIN portfolios f "
            "ON f.portfolio_id = s.portfolio_id AND f.current_run_id = s.run_id WHERE s.portfolio_id = :portfolio",
            STATE_SCHEMA,
            mine,
        )
    frames = read_snapshot(engine, queries)
    with engine.connect() as conn:
        found = portfolio_row(conn, portfolio_id)
    run = None
    if found is not None and found["current_run_id"] is not None:
        run = {"run_id": found["current_run_id"], "as_of": found["run_as_of"]}
    return Book(
        claims=frames["claims"],
        payments=frames["payments"],
        reversals=frames["reversals"],
        state=frames.get("state", pl.DataFrame(schema=STATE_SCHEMA)),
        run=run,
        placements=frames["placements"],
        placed_payments=frames["placed_payments"],
        agencies=stored_agencies(engine),
    )
