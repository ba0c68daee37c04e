"""The legal team over the HTTP API: the legal queues (EPU, court, enforcement) in the order the
allocation gave them (claims whose limitation ends soon first), and the filings, titles, enforcement
and court costs they produce, posted as events in idempotent batches (api/events/service.py)."""

from __future__ import annotations

import sqlalchemy as sa

from api import pages as cursors
from api.agency.service import placement_item, placement_page
from api.events.service import Poster
from api.keys.service import Caller
from engine.domain import EventKind, PlacementQueue
from engine.errors import InputError
from engine.store import claims as claims_repository

#: the events of the legal route: filings and their ends (art. 123-124 KC), the title, and the
#: court and lawyer's costs; payments come from the agencies and the bank
LEGAL_EVENT_KINDS = (
    EventKind.COURT_FILING,
    EventKind.PROCEEDINGS_END,
    EventKind.TITLE,
    EventKind.ENFORCEMENT_FILING,
    EventKind.ENFORCEMENT_END,
    EventKind.COST,
)
LEGAL_QUEUES = (PlacementQueue.EPU, PlacementQueue.COURT, PlacementQueue.ENFORCEMENT)
PAGE_MAX = 1000


def poster(*, caller: Caller) -> Poster:
    """What the legal team posts: its kinds, to any stored claim."""
    return Poster(
        name="the legal team",
        kinds=LEGAL_EVENT_KINDS,
        source="legal",
        prefix="legal",
        operation="legal.post_events",
        reachable=claims_repository.stored_claims,
        unreachable=lambda claim_id: f"claim {claim_id} is not in the store",
    )


def queue(*, store: sa.Engine, caller: Caller, name: str, cursor: str | None, limit: int) -> dict:
    """A page of a legal queue's open placements in the queue's order, each with its claim, debtor
    and balance; the read of the debtors' data is audited."""
    if name not in {q.value for q in LEGAL_QUEUES}:
        raise InputError(f"queue {name!r}: one of {', '.join(q.value for q in LEGAL_QUEUES)}")
    if not 1 <= limit <= PAGE_MAX:
        raise InputError(f"limit: 1 to {PAGE_MAX}, not {limit}")
    after = cursors.decode("q", cursor, (-1, 0))
    page, more = placement_page(
        store=store,
        caller=caller,
        subject=f"queue:{name}",
        fetch=lambda conn, n: claims_repository.queue_placements(conn, name, after, n),
        limit=limit,
    )
    last = page[-1] if page else None
    next_cursor = None
    if more and last is not None:
        priority = last["priority"] if last["priority"] is not None else claims_repository.LAST_PRIORITY
        next_cursor = cursors.encode("q", priority, last["placement_id"])
    return {"items": [placement_item(r=r) for r in page], "next_cursor": next_cursor}
