"""One claim as the store holds it, for the HTTP API and the command line: its row, its debtor, its
events, its current state and its placements, and whether it is placed with an agency now."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from engine.schema import CLAIMS, EVENTS
from engine.store.models import Claim, ClaimState, Debtor, Event, Placement, Portfolio

CLAIM_SCHEMA = {c.name: c.dtype for c in CLAIMS}
EVENT_SCHEMA = {c.name: c.dtype for c in EVENTS}


def claim_row(conn: sa.Connection, claim_id: int) -> dict | None:
    row = conn.execute(sa.select(Claim.__table__).where(Claim.claim_id == claim_id)).mappings().first()
    return None if row is None else dict(row)


def debtor_row(conn: sa.Connection, debtor_id: int) -> dict | None:
    row = conn.execute(sa.select(Debtor.__table__).where(Debtor.debtor_id == debtor_id)).mappings().first()
    return None if row is None else dict(row)


def event_rows(conn: sa.Connection, claim_id: int) -> list[dict]:
    """The claim's events in the engine's order (day, then id), with their idempotency keys."""
    table = Event.__table__
    query = sa.select(table).where(table.c.claim_id == claim_id).order_by(table.c.event_date, table.c.event_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def current_state_row(conn: sa.Connection, claim_id: int) -> dict | None:
    """The claim's row of its portfolio's current run (None before a run)."""
    state = ClaimState.__table__
    portfolios = Portfolio.__table__
    query = (
        sa.select(state)
        .join(
            portfolios,
            sa.and_(portfolios.c.portfolio_id == state.c.portfolio_id, portfolios.c.current_run_id == state.c.run_id),
        )
        .where(state.c.claim_id == claim_id)
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def placement_rows(conn: sa.Connection, claim_id: int) -> list[dict]:
    table = Placement.__table__
    query = sa.select(table).where(table.c.claim_id == claim_id).order_by(table.c.placed_on, table.c.placement_id)
    return [dict(r) for r in conn.execute(query).mappings()]


def placed_with(conn: sa.Connection, claim_ids: list[int], agency_id: str) -> set[int]:
    """Those of ``claim_ids`` placed with ``agency_id`` now (an open placement)."""
    if not claim_ids:
        return set()
    table = Placement.__table__
    query = sa.select(table.c.claim_id).where(
        table.c.claim_id.in_(sorted(set(claim_ids))), table.c.agency_id == agency_id, table.c.recalled_on.is_(None)
    )
    return {r[0] for r in conn.execute(query)}


def claim_frames(conn: sa.Connection, claim_id: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The claim and its events as the engine reads them (docs/data-contract.md's columns), or None."""
    claim = claim_row(conn, claim_id)
    if claim is None:
        return None
    claims = pl.DataFrame([{c: claim[c] for c in CLAIM_SCHEMA}], schema=CLAIM_SCHEMA)
    events = pl.DataFrame([{c: e[c] for c in EVENT_SCHEMA} for e in event_rows(conn, claim_id)], schema=EVENT_SCHEMA)
    return claims, events
