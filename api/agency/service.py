"""What an agency does through the HTTP API: post the payments and events of the claims placed with
it, in batches, each batch once (an Idempotency-Key), and see a claim's balance as of a day.

An agency sees only the claims placed with it now (an open placement): any other claim id is
answered as if it did not exist (``NotFound``), so ids cannot be probed. Its batches of events go
through api/events/service.py (``poster`` says what an agency may post).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from api import pages as cursors
from api.events.service import Poster
from api.keys.service import Caller
from engine.domain import AgencyChange, EventKind, RecallReason, ReturnReason
from engine.errors import InputError, ItemsRefused, NotFound
from engine.money import pln
from engine.store import changes
from engine.store import claims as claims_repository
from engine.store.records import AuditAction, audit

#: what an agency reports of a case it works: money paid, and the debtor's acknowledgment of the
#: debt (art. 123 § 1 pkt 2 KC: it starts the limitation anew); filings, titles and enforcement are
#: the legal team's, corrections (reversals) the purchaser's
AGENCY_EVENT_KINDS = (EventKind.PAYMENT, EventKind.ACKNOWLEDGMENT)


def poster(*, caller: Caller) -> Poster:
    """What an agency's key posts: its kinds, to the claims placed with its agency now."""
    if not caller.agency_id:
        raise InputError("only an agency's key posts an agency's events")
    agency = caller.agency_id
    return Poster(
        name="an agency",
        kinds=AGENCY_EVENT_KINDS,
        source=agency,
        prefix=f"agency:{agency}",
        operation="agency.post_events",
        reachable=lambda conn, ids: claims_repository.placed_with(conn, ids, agency),
        unreachable=lambda claim_id: f"claim {claim_id} is not placed with agency {agency}",
    )


def balance(*, store: sa.Engine, caller: Caller, claim_id: int, as_of: date, allow_stale_rates: bool = True) -> dict:
    """A claim's balance as of ``as_of``, computed by the engine from the store's claim and every
    event stored up to this moment (an event posted a second ago included)."""
    from api.claims.service import state_of_rows
    from engine.store.database import read

    # the placement, the claim and its events: one statement, one round trip
    found = read(store, lambda conn: claims_repository.claim_and_events(conn, claim_id, placed_with=caller.agency_id))
    return state_of_rows(found=found, claim_id=claim_id, as_of=as_of, allow_stale_rates=allow_stale_rates)


PAGE_MAX = 1000


def placement_page(
    *, store: sa.Engine, caller: Caller, subject: str, fetch: Callable[[sa.Connection, int], list[dict]], limit: int
) -> tuple[list[dict], bool]:
    """A page of placements (``fetch(conn, n)`` reads n at most) and whether more follow; the read of
    their debtors' personal data goes to the audit log under ``subject``."""
    with store.begin() as conn:
        rows = fetch(conn, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        if page:
            audit(
                conn,
                AuditAction.READ_DEBTOR,
                subject,
                {"placements": len(page), "first_claim_id": page[0]["claim_id"], "last_claim_id": page[-1]["claim_id"]},
                caller.name,
            )
    return page, more


def placements(*, store: sa.Engine, caller: Caller, cursor: str | None, limit: int) -> dict:
    """A page of the agency's open placements, oldest placement first (a stable order: a placement
    made after the first page is read comes on a later page), each with the claim, the debtor and
    the balance of the current stored state. Reading the debtors' personal data is audited."""
    page, next_cursor = _agency_page(store=store, caller=caller, cursor=cursor, limit=limit, as_json=False)
    return {"items": [placement_item(r=r) for r in page], "next_cursor": next_cursor}


def placements_json(*, store: sa.Engine, caller: Caller, cursor: str | None, limit: int) -> bytes:
    """``placements`` as the response's JSON bytes. On PostgreSQL each placement comes written as
    JSON by the database (``claims_repository.PLACED_ITEM_JSON``) and the page is joined from them:
    a page of 1000 held a worker's GIL ~60 ms building and serialising dicts (a date callback and a
    ``pln`` per field), delaying every other request of that worker. The same bytes either way."""
    from api.http.responses import json_bytes

    if store.dialect.name == "postgresql":
        page, next_cursor = _agency_page(store=store, caller=caller, cursor=cursor, limit=limit, as_json=True)
        items = [r["item"] for r in page]
        if None not in items:  # else a column the SQL takes as never null was null: Python's path says what
            return page_json(items=items, next_cursor=next_cursor)
    return json_bytes(placements(store=store, caller=caller, cursor=cursor, limit=limit))


def _agency_page(
    *, store: sa.Engine, caller: Caller, cursor: str | None, limit: int, as_json: bool
) -> tuple[list[dict], str | None]:
    """The page's rows (``claims_repository.agency_placements``) and its next_cursor."""
    if not caller.agency_id:
        raise InputError("only an agency's key lists an agency's placements")
    if not 1 <= limit <= PAGE_MAX:
        raise InputError(f"limit: 1 to {PAGE_MAX}, not {limit}")
    (after,) = cursors.decode("p", cursor, (0,))
    agency = caller.agency_id
    page, more = placement_page(
        store=store,
        caller=caller,
        subject=f"agency:{agency}",
        fetch=lambda conn, n: claims_repository.agency_placements(conn, agency, after, n, as_json=as_json),
        limit=limit,
    )
    return page, cursors.encode("p", page[-1]["placement_id"]) if more else None


def page_json(*, items: list[bytes], next_cursor: str | None) -> bytes:
    """``{"items":[...],"next_cursor":...}`` of items already JSON, as json_bytes writes a page."""
    import json

    tail = b"null" if next_cursor is None else json.dumps(next_cursor).encode()
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + tail + b"}"


def placement_item(*, r: dict) -> dict:
    money = lambda v: None if v is None else pln(v)  # noqa: E731
    balance = None
    if r["as_of"] is not None:
        balance = {
            "as_of": r["as_of"],
            "principal_due": money(r["principal_due"]),
            "interest_due": money(r["interest_due"]),
            "costs_due": money(r["costs_due"]),
            "total_due": money(r["total_due"]),
            "limitation_date": r["limitation_date"],
            "time_barred": bool(r["time_barred"]),
        }
    debtor = None
    if r["debtor_id"] is not None:
        debtor = {
            k: r[k] for k in ("debtor_id", "name", "national_id", "street", "postal_code", "city", "phone", "email")
        }
        debtor["debtor_kind"] = r["debtor_kind"]
    return {
        "claim_id": r["claim_id"],
        "placement_id": r["placement_id"],
        "placed_on": r["placed_on"],
        "queue": r["queue"],
        "priority": r["priority"],
        "claim": {
            "portfolio_id": r["portfolio_id"],
            "seller_ref": r["seller_ref"],
            "due_date": r["due_date"],
            "principal": money(r["principal"]),
            "title_date": r["title_date"],
        },
        "debtor": debtor,
        "balance": balance,
    }


def return_case(*, store: sa.Engine, caller: Caller, claim_id: int, reason: str, note: str | None, today: date) -> dict:
    """The agency gives a case back: its open placement ends today with ``returned:<reason>``
    (the allocation does not place it with the same agency again within its period)."""
    if not caller.agency_id:
        raise InputError("only an agency's key returns an agency's case")
    try:
        code = ReturnReason(reason)
    except ValueError:
        raise ItemsRefused(
            f"reason {reason!r}: not a return reason",
            [{"field": "reason", "rule": f"one of {', '.join(r.value for r in ReturnReason)}"}],
        ) from None
    with store.begin() as conn:
        placement = claims_repository.open_placement(conn, claim_id, caller.agency_id)
        if placement is None:
            raise NotFound(f"claim {claim_id}: not found")
        day = max(today, placement["placed_on"])
        reason_text = f"{RecallReason.RETURNED}:{code}"
        claims_repository.close_placement(conn, placement["placement_id"], day, reason_text)
        changes.recalled(conn, [placement | {"recall_reason": reason_text}], day, AgencyChange.RETURNED)
        audit(
            conn,
            AuditAction.API_WRITE,
            f"claim:{claim_id}",
            {"operation": "agency.return", "agency_id": caller.agency_id, "reason": code.value, "note": note},
            caller.name,
        )
    return {"claim_id": claim_id, "placement_id": placement["placement_id"], "returned_on": day, "reason": code.value}


def changes_since(*, store: sa.Engine, caller: Caller, cursor: str | None, limit: int) -> dict:
    """The agency's changes (placed, recalled, returned) after ``cursor``, oldest first, and the
    cursor to ask from next time: the same one when nothing is new (poll with it), so no change is
    missed or given twice. No cursor: from the first change."""
    if not caller.agency_id:
        raise InputError("only an agency's key reads an agency's changes")
    if not 1 <= limit <= PAGE_MAX:
        raise InputError(f"limit: 1 to {PAGE_MAX}, not {limit}")
    (after,) = cursors.decode("c", cursor, (0,))
    with store.connect() as conn:
        rows = changes.since(conn, caller.agency_id, after, limit)
    items = [
        {k: r[k] for k in ("change_id", "change", "claim_id", "placement_id", "day", "reason", "at")} for r in rows
    ]
    last = rows[-1]["change_id"] if rows else after
    return {"items": items, "next_cursor": cursors.encode("c", last), "more": len(rows) == limit}
