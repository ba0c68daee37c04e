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
    if conn.dialect.name == "postgresql":  # every batch of events an agency posts asks this
        ids = "{" + ",".join(str(int(c)) for c in sorted(set(claim_ids))) + "}"
        return {r[0] for r in conn.execute(_PLACED_WITH, {"ids": ids, "agency": agency_id})}
    table = Placement.__table__
    query = sa.select(table.c.claim_id).where(
        _among(conn, table.c.claim_id, sorted(set(claim_ids))),
        table.c.agency_id == agency_id,
        table.c.recalled_on.is_(None),
    )
    return {r[0] for r in conn.execute(query)}


#: ``placed_with`` on PostgreSQL: built once, the ids one parameter written as an array's text
#: (``{1,2,3}``, a string of the ids joined; psycopg dumps a list of ints element by element):
#: ~0.2 ms less of the GIL a batch of 100
_PLACED_WITH = sa.select(Placement.__table__.c.claim_id).where(
    Placement.__table__.c.claim_id
    == sa.any_(sa.cast(sa.bindparam("ids", type_=sa.Text), sa.ARRAY(Placement.__table__.c.claim_id.type))),
    Placement.__table__.c.agency_id == sa.bindparam("agency"),
    Placement.__table__.c.recalled_on.is_(None),
)


def _among(conn: sa.Connection, column: sa.ColumnElement, values: list) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``: one parameter, so one statement
    text whatever the count (an IN of 100 is 100 parameters in a new text, which psycopg parses
    anew on every call: ~3 ms of a batch's GIL for a batch of 100)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def claim_frames(conn: sa.Connection, claim_id: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The claim and its events as the engine reads them (docs/data-contract.md's columns), or None."""
    found = claim_and_events(conn, claim_id)
    return None if found is None else frames_of(*found)


def frames_of(claim: dict, events: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A claim's row and its events' rows (``claim_and_events``) as the engine's frames."""
    claims = pl.DataFrame([{c: claim[c] for c in CLAIM_SCHEMA}], schema=CLAIM_SCHEMA)
    return claims, pl.DataFrame([{c: e[c] for c in EVENT_SCHEMA} for e in events], schema=EVENT_SCHEMA)


_EVENT_PREFIX = "event_"


def claim_and_events(
    conn: sa.Connection, claim_id: int, placed_with: str | None = None
) -> tuple[dict, list[dict]] | None:
    """The claim's row and its events' rows (docs/data-contract.md's columns, the events by day then
    id) in one query, one round trip; None for no such claim, or with ``placed_with`` an agency's
    id, for a claim not placed with it now (an open placement)."""
    if placed_with is None:
        rows = conn.execute(_CLAIM_AND_EVENTS, {"claim_id": claim_id}).all()
    else:
        rows = conn.execute(_PLACED_CLAIM_AND_EVENTS, {"claim_id": claim_id, "agency": placed_with}).all()
    if not rows:
        return None
    claim = {c: rows[0][i] for i, c in enumerate(CLAIM_SCHEMA)}
    first = len(CLAIM_SCHEMA)
    names = list(EVENT_SCHEMA)
    found = [dict(zip(names, row[first:], strict=True)) for row in rows if row[first] is not None]
    return claim, found


def _claim_and_events_query(*, placed: bool) -> sa.Select:
    """``claim_and_events``' statement, built once (each balance of the HTTP API asks it: building
    it, ~50 clauses, and its cache key took ~0.3 ms of the request's GIL)."""
    claims, events, placements = Claim.__table__, Event.__table__, Placement.__table__
    query = sa.select(
        *(claims.c[c] for c in CLAIM_SCHEMA),
        *(events.c[c].label(_EVENT_PREFIX + c) for c in EVENT_SCHEMA),
    ).select_from(claims.outerjoin(events, events.c.claim_id == claims.c.claim_id))
    query = query.where(claims.c.claim_id == sa.bindparam("claim_id"))
    if placed:
        query = query.where(
            sa.exists().where(
                placements.c.claim_id == claims.c.claim_id,
                placements.c.agency_id == sa.bindparam("agency"),
                placements.c.recalled_on.is_(None),
            )
        )
    return query.order_by(events.c.event_date, events.c.event_id)


_CLAIM_AND_EVENTS = _claim_and_events_query(placed=False)
_PLACED_CLAIM_AND_EVENTS = _claim_and_events_query(placed=True)


_PLACED_FROM = (
    "FROM placements p JOIN claims c ON c.claim_id = p.claim_id "
    "LEFT JOIN debtors d ON d.debtor_id = c.debtor_id "
    "LEFT JOIN portfolios f ON f.portfolio_id = c.portfolio_id "
    "LEFT JOIN claim_state s ON s.run_id = f.current_run_id AND s.claim_id = p.claim_id "
)
_PLACED = (
    "SELECT p.placement_id, p.claim_id, p.queue, p.placed_on, p.priority, "
    "c.portfolio_id, c.seller_ref, c.due_date, c.principal, c.title_date, c.debtor_kind, "
    "d.debtor_id, d.name, d.national_id, d.street, d.postal_code, d.city, d.phone, d.email, "
    "s.as_of, s.principal_due, s.interest_due, s.costs_due, s.total_due, s.limitation_date, s.time_barred "
    + _PLACED_FROM
)


def _json_text(column: str) -> str:
    """A text column as JSON (a string, or null), escaped as Python's json writes it with
    ensure_ascii=False: PostgreSQL's to_json escapes the same characters the same way."""
    return f"COALESCE(to_json({column})::text, 'null')"


def _json_day(column: str) -> str:
    return f"""COALESCE('"' || to_char({column}, 'YYYY-MM-DD') || '"', 'null')"""


def _json_money(column: str) -> str:
    """Grosz as engine.money.pln writes them: "-1234.05"."""
    return (
        f"""COALESCE('"' || CASE WHEN {column} < 0 THEN '-' ELSE '' END || (abs({column}) / 100)::text """
        f"""|| '.' || lpad((abs({column}) % 100)::text, 2, '0') || '"', 'null')"""
    )


def _json_object(fields: dict[str, str]) -> str:
    """SQL that writes a JSON object of these keys (in this order) and SQL values (each already
    JSON text, never null), without spaces: as ``json.dumps(..., separators=(",", ":"))``."""
    parts = [f"""'{"{" if i == 0 else ","}"{key}":' || {value}""" for i, (key, value) in enumerate(fields.items())]
    return "(" + " || ".join(parts) + " || '}')"


#: one placement as JSON text written by PostgreSQL, byte for byte what json_response makes of
#: api.agency.service.placement_item's dict (tests/api/test_http.py compares them): a page of 1000
#: is then joined, not built and serialised in Python (~60 ms of a worker's GIL a page before)
PLACED_ITEM_JSON = _json_object(
    {
        "claim_id": "p.claim_id::text",
        "placement_id": "p.placement_id::text",
        "placed_on": _json_day("p.placed_on"),
        "queue": _json_text("p.queue"),
        "priority": "COALESCE(p.priority::text, 'null')",
        "claim": _json_object(
            {
                "portfolio_id": _json_text("c.portfolio_id"),
                "seller_ref": _json_text("c.seller_ref"),
                "due_date": _json_day("c.due_date"),
                "principal": _json_money("c.principal"),
                "title_date": _json_day("c.title_date"),
            }
        ),
        "debtor": "CASE WHEN d.debtor_id IS NULL THEN 'null' ELSE "
        + _json_object(
            {"debtor_id": "d.debtor_id::text"}
            | {k: _json_text(f"d.{k}") for k in ("name", "national_id", "street", "postal_code", "city", "phone")}
            | {"email": _json_text("d.email"), "debtor_kind": _json_text("c.debtor_kind")}
        )
        + " END",
        "balance": "CASE WHEN s.as_of IS NULL THEN 'null' ELSE "
        + _json_object(
            {
                "as_of": _json_day("s.as_of"),
                "principal_due": _json_money("s.principal_due"),
                "interest_due": _json_money("s.interest_due"),
                "costs_due": _json_money("s.costs_due"),
                "total_due": _json_money("s.total_due"),
                "limitation_date": _json_day("s.limitation_date"),
                "time_barred": "CASE WHEN s.time_barred THEN 'true' ELSE 'false' END",
            }
        )
        + " END",
    }
)
#: what a page written by PostgreSQL reads: the page's keys and each placement's JSON
#: (UTF-8 bytes, as the response sends them: not decoded to be encoded again)
_PLACED_AS_JSON = (
    f"SELECT p.placement_id, p.claim_id, p.priority, convert_to({PLACED_ITEM_JSON}, 'UTF8') AS item " + _PLACED_FROM
)
#: a queue's order as allocation set it (priority 1 first; none last), then the placement's id
LAST_PRIORITY = 2**62


def stored_claims(conn: sa.Connection, claim_ids: list[int]) -> set[int]:
    """Those of ``claim_ids`` that are in the store."""
    if not claim_ids:
        return set()
    table = Claim.__table__
    query = sa.select(table.c.claim_id).where(_among(conn, table.c.claim_id, sorted(set(claim_ids))))
    return {r[0] for r in conn.execute(query)}


def queue_placements(conn: sa.Connection, queue: str, after: tuple[int, int], limit: int) -> list[dict]:
    """A page of a queue's open placements in the queue's order after the (priority, placement_id)
    ``after`` (a priority of None counts as last), each as ``agency_placements`` gives it."""
    query = sa.text(
        _PLACED + "WHERE p.queue = :queue AND p.recalled_on IS NULL "
        f"AND (COALESCE(p.priority, {LAST_PRIORITY}) > :priority "
        f"OR (COALESCE(p.priority, {LAST_PRIORITY}) = :priority AND p.placement_id > :after)) "
        f"ORDER BY COALESCE(p.priority, {LAST_PRIORITY}), p.placement_id LIMIT :limit"
    )
    params = {"queue": queue, "priority": after[0], "after": after[1], "limit": limit}
    return [dict(r) for r in conn.execute(query, params).mappings()]


def agency_placements(
    conn: sa.Connection, agency_id: str, after: int, limit: int, *, as_json: bool = False
) -> list[dict]:
    """A page of the agency's open placements with placement_id > ``after``, by placement_id: each
    with its claim, its debtor and its balance in the current stored state (None before a run).
    ``as_json`` (PostgreSQL): each placement's placement_id, claim_id, priority and ``item``, its
    JSON (``PLACED_ITEM_JSON``) in UTF-8 bytes."""
    query = sa.text(
        (_PLACED_AS_JSON if as_json else _PLACED)
        + "WHERE p.agency_id = :agency AND p.recalled_on IS NULL AND p.placement_id > :after "
        "ORDER BY p.placement_id LIMIT :limit"
    )
    result = conn.execute(query, {"agency": agency_id, "after": after, "limit": limit})
    if as_json:  # tuples fetched all at once: ~3x less of the GIL than a mapping a row
        keys = tuple(result.keys())
        return [dict(zip(keys, row, strict=True)) for row in result.all()]
    return [dict(r) for r in result.mappings()]


def open_placement(conn: sa.Connection, claim_id: int, agency_id: str) -> dict | None:
    table = Placement.__table__
    row = (
        conn.execute(
            sa.select(table).where(
                table.c.claim_id == claim_id, table.c.agency_id == agency_id, table.c.recalled_on.is_(None)
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def close_placement(conn: sa.Connection, placement_id: int, day, reason: str) -> bool:
    table = Placement.__table__
    done = conn.execute(
        sa.update(table)
        .where(table.c.placement_id == placement_id, table.c.recalled_on.is_(None))
        .values(recalled_on=day, recall_reason=reason)
    )
    return done.rowcount == 1


def portfolio_rows(conn: sa.Connection, portfolio_id: str | None = None) -> list[dict]:
    """Portfolios (one or all, by id) with their claims counted and their current run."""
    query = sa.text(
        "SELECT p.portfolio_id, p.name, p.seller, p.created_at, p.current_run_id, "
        "(SELECT count(*) FROM claims c WHERE c.portfolio_id = p.portfolio_id) AS claims, "
        "r.as_of AS run_as_of, r.status AS run_status, r.totals AS run_totals "
        "FROM portfolios p LEFT JOIN engine_runs r ON r.run_id = p.current_run_id "
        + ("WHERE p.portfolio_id = :portfolio " if portfolio_id is not None else "")
        + "ORDER BY p.portfolio_id"
    )
    rows = [dict(r) for r in conn.execute(query, {"portfolio": portfolio_id} if portfolio_id else {}).mappings()]
    for row in rows:  # SQLite hands JSON and dates back as text
        if isinstance(row["run_totals"], str):
            import json

            row["run_totals"] = json.loads(row["run_totals"])
        for key in ("created_at", "run_as_of"):
            if row[key] is not None and not isinstance(row[key], str):
                row[key] = row[key].isoformat()
    return rows


def ingest_rows(conn: sa.Connection, portfolio_id: str) -> list[dict]:
    query = sa.text(
        "SELECT ingest_id, file_name, content_sha256, version, profile, ingested_at, actor, rows_read, accepted, "
        "rejected, principal, purchase_price "
        "FROM ingest_files WHERE portfolio_id = :portfolio ORDER BY ingest_id"
    )
    rows = [dict(r) for r in conn.execute(query, {"portfolio": portfolio_id}).mappings()]
    for row in rows:
        if row["ingested_at"] is not None and not isinstance(row["ingested_at"], str):
            row["ingested_at"] = row["ingested_at"].isoformat()
    return rows
