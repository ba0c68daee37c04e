"""Events posted over the HTTP API in batches, each batch once: an agency's payments and
acknowledgments, the legal team's filings, titles and enforcement. Who may post what to which
claims is a ``Poster``; the rest is one path for all of them.

A batch is accepted whole or refused whole, with a reason per bad item (its index, field and rule).
The first request with an ``Idempotency-Key`` does the work and its response is kept with the body's
digest; a retry with the same key and body gets that response again and stores nothing; the same
key with another body is a Conflict. Each event is keyed ``<poster>:<external_id>``, so an event sent
again in another batch is recognised too (``"stored": false``); an external_id stored before with
another claim, day, kind or amount refuses the batch, naming the item (a correction is a new event
with an external_id of its own, a reversal of the wrong one first).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from api.keys.service import Caller
from engine.domain import AMOUNT_EVENT_KINDS, EventKind
from engine.errors import Conflict, InputError, ItemsRefused
from engine.store import keys as keys_repository
from engine.store.models import Event
from engine.store.records import AuditAction, audit

BATCH_MAX = 1000
AMOUNT = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class Poster:
    """Who posts a batch: the kinds they may post, the claims they may post to (``reachable``: of
    some claim ids, those they may), their events' ``source`` (an agency's id: allocation measures
    an agency's recoveries by it) and key prefix (also the audit log's subject), the operation's name
    (an Idempotency-Key is for one operation)."""

    name: str  # "an agency", "the legal team": in refusals
    kinds: tuple[EventKind, ...]
    source: str
    prefix: str
    operation: str
    reachable: Callable[[sa.Connection, list[int]], set[int]]
    unreachable: Callable[[int], str]  # the rule a claim it may not post to breaks

    def key(self, external_id: str) -> str:
        return f"{self.prefix}:{external_id}"


@dataclass(frozen=True)
class Answer:
    """A write's response: its HTTP status and body, and whether it is a stored one given again."""

    status: int
    body: dict
    replayed: bool = False


def amount_in_grosz(*, text: object) -> int:
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


def _checked(conn: sa.Connection, poster: Poster, items: list[dict], today: date) -> list[dict]:
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
        if kind not in poster.kinds:
            allowed = ", ".join(k.value for k in poster.kinds)
            refuse(index, "kind", f"{item.get('kind')!r}: {poster.name} posts one of {allowed}")
            kind = None  # its amount is not judged by a kind it cannot have
        day = item.get("event_date")
        if isinstance(day, date) and day > today:
            refuse(index, "event_date", f"{day.isoformat()} is in the future (today is {today.isoformat()})")
        amount = item.get("amount")
        grosz = None
        if kind in AMOUNT_EVENT_KINDS:
            if amount is None:
                refuse(index, "amount", f"a {kind.value} has an amount")
            else:
                try:
                    grosz = amount_in_grosz(text=amount)
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
                    "source": poster.source,
                    "idempotency_key": poster.key(external_id),
                    "external_id": external_id,
                }
            )
    reachable = poster.reachable(conn, [i["claim_id"] for i in items])
    for index, item in enumerate(items):
        if item["claim_id"] not in reachable:
            refuse(index, "claim_id", poster.unreachable(item["claim_id"]))
    if problems:
        problems.sort(key=lambda p: (p["index"], p["field"]))
        raise ItemsRefused(f"{len({p['index'] for p in problems})} of the {len(items)} events refused", problems)
    return rows


def post_events(
    *,
    store: sa.Engine,
    caller: Caller,
    poster: Poster,
    items: list[dict],
    idempotency_key: str,
    digest: str,
    today: date,
) -> Answer:
    """Store a batch of ``poster``'s events once (the module's docstring says how)."""
    if not 1 <= len(items) <= BATCH_MAX:
        raise InputError(f"a batch holds 1 to {BATCH_MAX} events, not {len(items)}")
    try:
        with store.begin() as conn:
            now = datetime.now(UTC)
            # the key first: a key used before is taken (IntegrityError), and a concurrent request
            # with the same key waits here until this one commits, then finds it taken; either way
            # the stored response is given again (or Conflict). No look-up before: a new batch, the
            # usual case, is not a round trip and a connection longer for the rare retry's sake
            placeholder = keys_repository.StoredResponse(poster.operation, digest, 0, {})
            keys_repository.insert_request(conn, caller.key_id, idempotency_key, placeholder, now)
            rows = _checked(conn, poster, items, today)
            posted, differing = _insert_events(conn, rows)
            if differing:
                _refuse_differing(rows, differing, len(items))
            body = {"accepted": len(rows), "events": posted}
            keys_repository.answer_request(conn, caller.key_id, idempotency_key, 201, body)
            audit(
                conn,
                AuditAction.API_WRITE,
                poster.prefix,
                {"operation": poster.operation, "idempotency_key": idempotency_key, "events": len(rows)},
                caller.name,
            )
        return Answer(201, body)
    except sa.exc.IntegrityError:
        stored = _replay(store, caller, poster, idempotency_key, digest)
        if stored is None:
            raise
        return stored


def _replay(store: sa.Engine, caller: Caller, poster: Poster, idempotency_key: str, digest: str) -> Answer | None:
    with store.connect() as conn:
        found = keys_repository.find_request(conn, caller.key_id, idempotency_key)
    if found is None:
        return None
    if found.operation != poster.operation or found.body_sha256 != digest:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was used with another request: a new batch takes a new key"
        )
    return Answer(found.status, found.response, replayed=True)


#: what an event sent again must repeat to be the one stored under its external_id
SAME_EVENT = ("claim_id", "event_date", "kind", "amount")


def _refuse_differing(rows: list[dict], differing: dict[str, int], batch: int) -> None:
    """The batch refused (its transaction rolled back): items whose external_id was stored before
    as another event."""
    problems = [
        {
            "index": r["index"],
            "field": "external_id",
            "rule": f"{r['external_id']!r} was stored before (event {differing[r['idempotency_key']]}) with another "
            "claim_id, event_date, kind or amount: a new event takes a new external_id",
        }
        for r in rows
        if r["idempotency_key"] in differing
    ]
    raise ItemsRefused(f"{len(problems)} of the {batch} events refused", problems)


def _insert_events(conn: sa.Connection, rows: list[dict]) -> tuple[list[dict], dict[str, int]]:
    """Insert the rows whose key is new; every row's event id, and whether this batch stored it;
    and the keys stored before as another event (``SAME_EVENT``), with that event's id."""
    events = Event.__table__
    if conn.dialect.name == "postgresql":
        existing, inserted, differing = {}, {}, {}
        for key, event_id, new, same in conn.execute(_INSERT_NEW, _as_json(rows)):
            (inserted if new else existing)[key] = event_id
            if not same:
                differing[key] = event_id
        return _posted(rows, existing, inserted), differing
    keys = [r["idempotency_key"] for r in rows]
    found = {
        r["idempotency_key"]: r
        for r in conn.execute(
            sa.select(events.c.idempotency_key, events.c.event_id, *(events.c[c] for c in SAME_EVENT)).where(
                events.c.idempotency_key.in_(keys)
            )
        ).mappings()
    }
    existing = {key: r["event_id"] for key, r in found.items()}
    differing = {
        r["idempotency_key"]: found[r["idempotency_key"]]["event_id"]
        for r in rows
        if r["idempotency_key"] in found and any(found[r["idempotency_key"]][c] != r[c] for c in SAME_EVENT)
    }
    if differing:
        return [], differing
    new = [r for r in rows if r["idempotency_key"] not in existing]
    inserted: dict = {}
    if new:
        columns = ("claim_id", "event_date", "kind", "amount", "reverses", "source", "idempotency_key")
        inserted = dict(
            conn.execute(
                sa.insert(events).returning(events.c.idempotency_key, events.c.event_id, sort_by_parameter_order=True),
                [{c: r[c] for c in columns} for r in new],
            ).all()
        )
    return _posted(rows, existing, inserted), {}


def _posted(rows: list[dict], existing: dict, inserted: dict) -> list[dict]:
    """Each row's event id (stored before, or by this batch) and whether this batch stored it."""
    return [
        {
            "index": r["index"],
            "external_id": r["external_id"],
            "event_id": inserted.get(r["idempotency_key"], existing.get(r["idempotency_key"])),
            "stored": r["idempotency_key"] in inserted,
        }
        for r in rows
    ]


#: a batch's events in one statement (PostgreSQL) of one parameter, the rows as JSON: those whose key
#: is stored already (the snapshot the statement starts from) come back with their event_id and
#: whether the stored event is this one (``SAME_EVENT``), the others are inserted and come back with
#: theirs. One round trip and one text for every batch (psycopg
#: parses it once and prepares it), and its parameter is one string from the json module's C encoder:
#: the keys' look-up and the insert from seven arrays before took two round trips and ~2 ms of the
#: worker's GIL to dump the arrays, element by element. A key inserted meanwhile by another batch still
#: fails on the unique key (IntegrityError), as the two statements did.
_INSERT_NEW = sa.text(
    "WITH given AS (SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS given(claim_id bigint, "
    "event_date date, kind varchar, amount bigint, reverses bigint, source varchar, idempotency_key varchar)), "
    "existing AS (SELECT e.idempotency_key, e.event_id, (e.claim_id, e.event_date, e.kind, e.amount) "
    "IS NOT DISTINCT FROM (g.claim_id, g.event_date, g.kind, g.amount) AS same FROM events AS e "
    "JOIN given AS g ON g.idempotency_key = e.idempotency_key), "
    "inserted AS (INSERT INTO events (claim_id, event_date, kind, amount, reverses, source, idempotency_key, "
    "recorded_on) SELECT claim_id, event_date, kind, amount, reverses, source, idempotency_key, :recorded_on "
    "FROM given WHERE idempotency_key NOT IN (SELECT idempotency_key FROM existing) "
    "RETURNING idempotency_key, event_id) "
    "SELECT idempotency_key, event_id, true, true FROM inserted "
    "UNION ALL SELECT idempotency_key, event_id, false, same FROM existing"
).bindparams(sa.bindparam("recorded_on", type_=sa.Date))


def _as_json(rows: list[dict]) -> dict:
    from engine.store.models import utcnow_day

    given = [
        {
            "claim_id": r["claim_id"],
            "event_date": r["event_date"].isoformat(),
            "kind": r["kind"],
            "amount": r["amount"],
            "reverses": r["reverses"],
            "source": r["source"],
            "idempotency_key": r["idempotency_key"],
        }
        for r in rows
    ]
    return {"rows": json.dumps(given, separators=(",", ":")), "recorded_on": utcnow_day()}
