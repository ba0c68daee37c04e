"""Small stores for the plan tests: claims loaded as a seller's file would be, payments posted as
the store numbers them (as an agency's batch over the HTTP API is), the engine run on the store."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from api.plans import service
from engine import store_run
from engine.store import records
from engine.store.models import ClaimState, Event, Portfolio
from tests.builders import frames

TODAY = date(2026, 12, 7)


def load(store: sa.Engine, *claims: dict) -> None:
    records.load(store, *frames(list(claims)))


def post(store: sa.Engine, claim_id: int, day: date, kind: str = "payment", amount: int | None = None, **fields) -> int:
    """One event of ``claim_id``, numbered by the store; its id."""
    events = Event.__table__
    with store.begin() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
        return conn.execute(
            sa.insert(events)
            .values(
                claim_id=claim_id,
                event_date=day,
                kind=kind,
                amount=amount,
                source="test",
                idempotency_key=f"test:{count + 1}:{claim_id}:{day}:{kind}",
                **fields,
            )
            .returning(events.c.event_id)
        ).scalar_one()


def pay(store: sa.Engine, claim_id: int, day: date, amount: int) -> int:
    return post(store, claim_id, day, "payment", amount)


def state(store: sa.Engine, as_of: date) -> dict[int, dict]:
    """The engine's claim_state as of ``as_of`` made the stored one (a run), by claim."""
    store_run.run(store, as_of, allow_stale_rates=True)
    s, p = ClaimState.__table__, Portfolio.__table__
    query = sa.select(s).join(p, (p.c.portfolio_id == s.c.portfolio_id) & (p.c.current_run_id == s.c.run_id))
    with store.connect() as conn:
        return {r["claim_id"]: dict(r) for r in conn.execute(query.order_by(s.c.claim_id)).mappings()}


def events_of(store: sa.Engine, claim_id: int, kind: str) -> list[dict]:
    e = Event.__table__
    query = sa.select(e).where(e.c.claim_id == claim_id, e.c.kind == kind).order_by(e.c.event_id)
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def plan(store: sa.Engine, claim_id: int = 1, **terms) -> dict:
    """A plan made through the service (the command line's path)."""
    terms.setdefault("today", TODAY)
    return service.create_plan(store=store, claim_id=claim_id, **terms)


def update(store: sa.Engine, as_of: date) -> dict:
    return service.update(store=store, as_of=as_of)
