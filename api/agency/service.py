"""What an agency does through the HTTP API: post the payments and events of the claims placed with
it, in batches, each batch once (an Idempotency-Key), and see a claim's balance as of a day.

An agency sees only the claims placed with it now (an open placement): any other claim id is
answered as if it did not exist (``NotFound``), so ids cannot be probed. A batch is accepted whole
or refused whole, with a reason per bad item (its index, field and rule).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from api.keys.service import Caller
from engine.domain import EventKind, RecallReason, ReturnReason
from engine.errors import Conflict, InputError, ItemsRefused, NotFound
from engine.money import pln
from engine.store import claims as claims_repository
from engine.store import keys as keys_repository
from engine.store.models import Event
from engine.store.records import AuditAction, audit

#: what an agency reports of a case it works: money paid, and the debtor's acknowledgment of the
#: debt (art. 123 § 1 pkt 2 KC: it starts the limitation anew); filings, titles and enforcement are
#: the legal team's, corrections (reversals) the purchaser's
AGENCY_EVENT_KINDS = (EventKind.PAYMENT, EventKind.ACKNOWLEDGMENT)
#: kinds that carry an amount (> 0); the others carry none
WITH_AMOUNT = (EventKind.PAYMENT,)
BATCH_MAX = 1000
OPERATION_POST_EVENTS = "agency.post_events"
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class Answer:
    """A write's response: its HTTP status and body, and whether it is a stored one given again."""

    status: int
    body: dict
    replayed: bool = False


def _grosz(text: object) -> int:
    """A PLN amount as the API takes it, a decimal string ``"123.45"`` (at most two decimals, no sign,
    no thousands separator), in grosz; InputError naming the rule otherwise."""
    if not isinstance(text, str):
        raise InputError('an amount is a decimal string in PLN, e.g. "123.45"')
    if not AMOUNT.fullmatch(text):
        if text.startswith("-"):
            raise InputError(f"{text!r}: an amount must not be negative")
        if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text):
            raise InputError(f"{text!r}: at most two decimals (grosz)")
        raise InputError(f'{text!r}: not an amount in PLN as "123.45" (digits, a dot, at most two decimals)')
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def body_digest(*, body: dict) -> str:
    """The SHA-256 of a request body as parsed (keys sorted): a retry that sends the same JSON with
    other spacing or key order is the same body."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _checked(conn: sa.Connection, caller: Caller, items: list[dict], today: date) -> list[dict]:
    """The batch's rows for the events table, or ItemsRefused listing every bad item."""
    problems: list[dict] = []
    rows: list[dict] = []

    def refuse(index: int, field: str, rule: str) -> None:
        problems.append({"index": index, "field": field, "rule": rule})

    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        bad = len(problems)
        try:
            kind = EventKind(item.get("kind"))
        except ValueError:
            kind = None
        if kind not in AGENCY_EVENT_KINDS:
            allowed = ", ".join(k.value for k in AGENCY_EVENT_KINDS)
            refuse(index, "kind", f"{item.get('kind')!r}: an agency posts one of {allowed}")
            kind = None  # its amount is not judged by a kind it cannot have
        day = item.get("event_date")
        if isinstance(day, date) and day > today:
            refuse(index, "event_date", f"{day.isoformat()} is in the future (today is {today.isoformat()})")
        amount = item.get("amount")
        grosz = None
        if kind in WITH_AMOUNT:
            if amount is None:
                refuse(index, "amount", f"a {kind.value} has an amount")
            else:
                try:
                    grosz = _grosz(amount)
                    if grosz == 0:
                        refuse(index, "amount", f"a {kind.value} must be more than 0.00")
                except InputError as e:
                    refuse(index, "amount", str(e))
        elif kind is not None and amount is not None:
            refuse(index, "amount", f"a {kind.value} has no amount")
        external_id = item["external_id"]
        if external_id in seen:
            refuse(index, "external_id", f"{external_id!r} is also item {seen[external_id]}'s")
        seen.setdefault(external_id, index)
        if len(problems) == bad:
            rows.append(
                {
                    "index": index,
                    "claim_id": item["claim_id"],
                    "event_date": day,
                    "kind": kind.value,  # type: ignore[union-attr]
                    "amount": grosz,
                    "reverses": None,
                    "source": caller.agency_id,
                    "idempotency_key": f"agency:{caller.agency_id}:{external_id}",
                    "external_id": external_id,
                }
            )
    placed = claims_repository.placed_with(conn, [i["claim_id"] for i in items], caller.agency_id or "")
    for index, item in enumerate(items):
        if item["claim_id"] not in placed:
            refuse(index, "claim_id", f"claim {item['claim_id']} is not placed with agency {caller.agency_id}")
    if problems:
        problems.sort(key=lambda p: (p["index"], p["field"]))
        raise ItemsRefused(f"{len({p['index'] for p in problems})} of the {len(items)} events refused", problems)
    return rows


def post_events(
    *, store: sa.Engine, caller: Caller, items: list[dict], idempotency_key: str, digest: str, today: date
) -> Answer:
    """Store a batch of an agency's events once: the first request with ``idempotency_key`` does the
    work and its response is kept with the body's ``digest``; a retry with the same key and body
    gets that response again (``replayed``) and stores nothing; the same key with another body is a
    Conflict. Events are keyed ``agency:<agency>:<external_id>``, so an event sent again in another
    batch is recognised too (``"stored": false``)."""
    if not caller.agency_id:
        raise InputError("only an agency's key posts an agency's events")
    if not 1 <= len(items) <= BATCH_MAX:
        raise InputError(f"a batch holds 1 to {BATCH_MAX} events, not {len(items)}")
    stored = _replay(store, caller, idempotency_key, digest)
    if stored is not None:
        return stored
    try:
        with store.begin() as conn:
            now = datetime.now(UTC)
            # the key first: a concurrent request with the same key waits here until this one
            # commits, then finds the key taken (IntegrityError) and gives this response again
            placeholder = keys_repository.StoredResponse(OPERATION_POST_EVENTS, digest, 0, {})
            keys_repository.insert_request(conn, caller.key_id, idempotency_key, placeholder, now)
            rows = _checked(conn, caller, items, today)
            body = {"accepted": len(rows), "events": _insert_events(conn, rows)}
            conn.execute(
                sa.update(keys_repository.REQUESTS)
                .where(
                    keys_repository.REQUESTS.c.key_id == caller.key_id,
                    keys_repository.REQUESTS.c.idempotency_key == idempotency_key,
                )
                .values(status=201, response=body)
            )
            audit(
                conn,
                AuditAction.API_WRITE,
                f"agency:{caller.agency_id}",
                {"operation": OPERATION_POST_EVENTS, "idempotency_key": idempotency_key, "events": len(rows)},
                caller.name,
            )
        return Answer(201, body)
    except sa.exc.IntegrityError:
        stored = _replay(store, caller, idempotency_key, digest)
        if stored is None:
            raise
        return stored


def _replay(store: sa.Engine, caller: Caller, idempotency_key: str, digest: str) -> Answer | None:
    with store.connect() as conn:
        found = keys_repository.find_request(conn, caller.key_id, idempotency_key)
    if found is None:
        return None
    if found.operation != OPERATION_POST_EVENTS or found.body_sha256 != digest:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was used with another request: a new batch takes a new key"
        )
    return Answer(found.status, found.response, replayed=True)


def _insert_events(conn: sa.Connection, rows: list[dict]) -> list[dict]:
    """Insert the rows whose key is new; every row's event id, and whether this batch stored it."""
    events = Event.__table__
    keys = [r["idempotency_key"] for r in rows]
    existing = dict(
        conn.execute(
            sa.select(events.c.idempotency_key, events.c.event_id).where(events.c.idempotency_key.in_(keys))
        ).all()
    )
    new = [r for r in rows if r["idempotency_key"] not in existing]
    if new:
        columns = ("claim_id", "event_date", "kind", "amount", "reverses", "source", "idempotency_key")
        inserted = conn.execute(
            sa.insert(events).returning(events.c.idempotency_key, events.c.event_id, sort_by_parameter_order=True),
            [{c: r[c] for c in columns} for r in new],
        ).all()
        existing_new = dict(inserted)
    else:
        existing_new = {}
    return [
        {
            "index": r["index"],
            "external_id": r["external_id"],
            "event_id": existing_new.get(r["idempotency_key"], existing.get(r["idempotency_key"])),
            "stored": r["idempotency_key"] in existing_new,
        }
        for r in rows
    ]


def balance(*, store: sa.Engine, caller: Caller, claim_id: int, as_of: date, allow_stale_rates: bool = True) -> dict:
    """A claim's balance as of ``as_of``, computed by the engine from the store's claim and every
    event stored up to this moment (an event posted a second ago included)."""
    from api.claims.service import computed_state

    with store.connect() as conn:
        if caller.agency_id is not None and not claims_repository.placed_with(conn, [claim_id], caller.agency_id):
            raise NotFound(f"claim {claim_id}: not found")
    return computed_state(store=store, claim_id=claim_id, as_of=as_of, allow_stale_rates=allow_stale_rates)


PAGE_MAX = 1000


def _encode_cursor(placement_id: int) -> str:
    """An opaque cursor: where the next page starts (clients pass it back as it is)."""
    return base64.urlsafe_b64encode(f"p{placement_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("p") and text[1:].isdigit() and int(text[1:]) < 2**63:
            return int(text[1:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise InputError(f"cursor {cursor!r}: not a cursor this API gave (pass next_cursor back as it is)")


def placements(*, store: sa.Engine, caller: Caller, cursor: str | None, limit: int) -> dict:
    """A page of the agency's open placements, oldest placement first (a stable order: a placement
    made after the first page is read comes on a later page), each with the claim, the debtor and
    the balance of the current stored state. Reading the debtors' personal data is audited."""
    if not caller.agency_id:
        raise InputError("only an agency's key lists an agency's placements")
    if not 1 <= limit <= PAGE_MAX:
        raise InputError(f"limit: 1 to {PAGE_MAX}, not {limit}")
    after = _decode_cursor(cursor)
    with store.begin() as conn:
        rows = claims_repository.agency_placements(conn, caller.agency_id, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        if page:
            audit(
                conn,
                AuditAction.READ_DEBTOR,
                f"agency:{caller.agency_id}",
                {"placements": len(page), "first_claim_id": page[0]["claim_id"], "last_claim_id": page[-1]["claim_id"]},
                caller.name,
            )
    return {
        "items": [_placement_item(r) for r in page],
        "next_cursor": _encode_cursor(page[-1]["placement_id"]) if more else None,
    }


def _placement_item(r: dict) -> dict:
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
        claims_repository.close_placement(conn, placement["placement_id"], day, f"{RecallReason.RETURNED}:{code}")
        audit(
            conn,
            AuditAction.API_WRITE,
            f"claim:{claim_id}",
            {"operation": "agency.return", "agency_id": caller.agency_id, "reason": code.value, "note": note},
            caller.name,
        )
    return {"claim_id": claim_id, "placement_id": placement["placement_id"], "returned_on": day, "reason": code.value}
