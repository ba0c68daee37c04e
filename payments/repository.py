"""The SQL of bank statements: what the matching looks up in the store (set-wise: the keys a
statement holds go into a temporary table, one join brings back what they match) and what an
import writes. Every function takes the caller's connection; the caller's transaction decides."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import polars as pl
import sqlalchemy as sa

from engine.store.bulk import Schema, is_postgres, read_frame, write_frame

#: pg_advisory_xact_lock key of statement imports ("cess_stm" as a number): one import at a time
IMPORT_LOCK_KEY = 0x636573735F73746D
_SQL_TYPES = {pl.Int64: "BIGINT", pl.String: "TEXT", pl.Date: "DATE", pl.Boolean: "BOOLEAN"}
_names = itertools.count()


def lock_imports(conn: sa.Connection) -> None:
    """Imports and suspense decisions one at a time (PostgreSQL: an advisory lock until the
    transaction ends, with JIT off for it; SQLite's write transaction is one at a time already)."""
    if is_postgres(conn):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({IMPORT_LOCK_KEY})")
        # the import's joins are many and short: compiling each (JIT) cost more than it ran
        conn.exec_driver_sql("SET LOCAL jit = off")


@contextmanager
def staged(conn: sa.Connection, frame: pl.DataFrame) -> Iterator[str]:
    """``frame`` in a temporary table (its name given), dropped when the block ends."""
    name = f"stage_stmt_{next(_names)}"
    columns = ", ".join(f'"{c}" {_SQL_TYPES[type(t)]}' for c, t in frame.schema.items())
    suffix = " ON COMMIT DROP" if is_postgres(conn) else ""
    conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({columns}){suffix}")
    try:
        if frame.height:
            write_frame(conn, name, frame)
        if is_postgres(conn):
            conn.exec_driver_sql(f"ANALYZE {name}")
        yield name
    finally:
        conn.exec_driver_sql(f"DROP TABLE {name}")


def joined(conn: sa.Connection, frame: pl.DataFrame, query: str, schema: Schema, params: dict | None = None):
    """The rows of ``query`` with ``{stage}`` standing for ``frame`` staged."""
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    with staged(conn, frame) as name:
        return read_frame(conn, query.format(stage=name), schema, params)


def next_ids(conn: sa.Connection, table: str, column: str, n: int) -> pl.Series:
    """``n`` new ids of ``table.column`` (a serial), taken now, ascending: PostgreSQL from its
    sequence (as a rule the values taken are consecutive and only the first and last come back;
    all of them when another writer took some in between), SQLite past the largest stored (its
    write lock is held until the commit)."""
    if n == 0:
        return pl.Series(column, [], pl.Int64)
    if is_postgres(conn):
        low, high, taken, scattered = conn.exec_driver_sql(
            "SELECT min(id), max(id), count(*), CASE WHEN max(id) - min(id) + 1 <> count(*) THEN array_agg(id) END "
            f"FROM (SELECT nextval(pg_get_serial_sequence('{table}', '{column}')) AS id "
            f"FROM generate_series(1, {int(n)})) AS taken"
        ).one()
        if taken != n:
            raise RuntimeError(f"{n} ids of {table}.{column} asked, {taken} taken: a bug")
        if scattered is not None:
            return pl.Series(column, scattered, pl.Int64).sort()
        return pl.Series(column, np.arange(low, high + 1, dtype=np.int64))
    last = conn.exec_driver_sql(f"SELECT COALESCE(MAX({column}), 0) FROM {table}").scalar()
    return pl.Series(column, np.arange(last + 1, last + 1 + n, dtype=np.int64))


def seen_before(conn: sa.Connection, bank_account: str, refs: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What earlier imports of ``bank_account`` made of lines with these references (staged once):
    the stored lines (bank_ref, line_id, status, matched_by, debtor_id, candidate_claim_id), and the
    refused ones (bank_ref, refused_before): the reason the earliest import that refused a line with
    this reference gave (its first such line: a later one of the same file was refused as a repeat)."""
    lines_schema = {
        "bank_ref": pl.String(),
        "line_id": pl.Int64(),
        "status": pl.String(),
        "matched_by": pl.String(),
        "debtor_id": pl.Int64(),
        "candidate_claim_id": pl.Int64(),
    }
    refused_schema = {"bank_ref": pl.String(), "import_id": pl.Int64(), "position": pl.Int64(), "reason": pl.String()}
    params = {"account": bank_account}
    with staged(conn, refs.unique().to_frame("bank_ref")) as stage:
        lines = read_frame(
            conn,
            "SELECT l.bank_ref, l.line_id, l.status, l.matched_by, l.debtor_id, l.candidate_claim_id "
            f"FROM {stage} s JOIN statement_lines l ON l.bank_account = :account AND l.bank_ref = s.bank_ref",
            lines_schema,
            params,
        )
        refused = read_frame(
            conn,
            f"SELECT r.bank_ref, r.import_id, r.position, r.reason FROM {stage} s "
            "JOIN statement_refusals r ON r.bank_ref = s.bank_ref "
            "JOIN statement_imports i ON i.import_id = r.import_id AND i.bank_account = :account",
            refused_schema,
            params,
        )
    first = refused.sort("import_id", "position").group_by("bank_ref", maintain_order=True).first()
    return lines, first.select("bank_ref", refused_before="reason")


def claims_by_seller_ref(conn: sa.Connection, tokens: pl.DataFrame) -> pl.DataFrame:
    """tokens (position, token) -> (position, claim_id, debtor_id) of the claims whose seller_ref is a token."""
    return joined(
        conn,
        tokens,
        "SELECT s.position, c.claim_id, c.debtor_id FROM {stage} s JOIN claims c ON c.seller_ref = s.token",
        {"position": pl.Int64(), "claim_id": pl.Int64(), "debtor_id": pl.Int64()},
    )


def claims_by_id(conn: sa.Connection, ids: pl.DataFrame) -> pl.DataFrame:
    """ids (position, claim_id) -> (position, claim_id, debtor_id) of those stored."""
    return joined(
        conn,
        ids,
        "SELECT s.position, c.claim_id, c.debtor_id FROM {stage} s JOIN claims c ON c.claim_id = s.claim_id",
        {"position": pl.Int64(), "claim_id": pl.Int64(), "debtor_id": pl.Int64()},
    )


def debtors_by_national_id(conn: sa.Connection, ids: pl.DataFrame) -> pl.DataFrame:
    """ids (position, national_id) -> (position, debtor_id) of the debtors with that PESEL/NIP."""
    return joined(
        conn,
        ids,
        "SELECT s.position, d.debtor_id FROM {stage} s JOIN debtors d ON d.national_id = s.national_id",
        {"position": pl.Int64(), "debtor_id": pl.Int64()},
    )


def debtors_by_name_key(conn: sa.Connection, keys: pl.DataFrame) -> pl.DataFrame:
    """keys (position, name_key) -> (position, debtor_id) of the debtors whose name is that key."""
    return joined(
        conn,
        keys,
        "SELECT s.position, k.debtor_id FROM {stage} s JOIN debtor_keys k ON k.name_key = s.name_key",
        {"position": pl.Int64(), "debtor_id": pl.Int64()},
    )


#: a claim's payments not taken back by a reversal (of the same claim)
_NOT_REVERSED = (
    "e.kind = 'payment' AND NOT EXISTS (SELECT 1 FROM events r WHERE r.reverses = e.event_id "
    "AND r.kind = 'reversal' AND r.claim_id = e.claim_id)"
)


def open_balances(conn: sa.Connection, debtor_ids: pl.Series) -> pl.DataFrame:
    """Every claim of these debtors with its open balance (docs/payments.md): the total_due of its
    portfolio's current state (the cutoff's principal + interest + costs before a first run), less
    the payments posted after that state's day and not reversed: debtor_id, claim_id, due_date, balance."""
    schema = {"debtor_id": pl.Int64(), "claim_id": pl.Int64(), "due_date": pl.Date(), "balance": pl.Int64()}
    frame = debtor_ids.unique().drop_nulls().to_frame("debtor_id")
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    with staged(conn, frame) as debtors:
        claims = read_frame(
            conn,
            "SELECT c.debtor_id, c.claim_id, c.due_date, "
            "COALESCE(s.total_due, c.principal + c.interest_at_cutoff + c.costs_at_cutoff) AS total_due, s.as_of "
            f"FROM {debtors} d JOIN claims c ON c.debtor_id = d.debtor_id "
            "LEFT JOIN portfolios p ON p.portfolio_id = c.portfolio_id "
            "LEFT JOIN claim_state s ON s.run_id = p.current_run_id AND s.claim_id = c.claim_id",
            {
                "debtor_id": pl.Int64(),
                "claim_id": pl.Int64(),
                "due_date": pl.Date(),
                "total_due": pl.Int64(),
                "as_of": pl.Date(),
            },
        )
    paid = pl.concat([_paid_since_state(conn, claims), _paid_ever(conn, claims)])
    return (
        claims.join(paid, on="claim_id", how="left")
        .select(
            "debtor_id",
            "claim_id",
            "due_date",
            balance=(pl.col("total_due") - pl.col("paid").fill_null(0)).clip(lower_bound=0),
        )
        .sort("debtor_id", "claim_id")
    )


_PAID_SCHEMA = {"claim_id": pl.Int64(), "paid": pl.Int64()}


def _paid_since_state(conn: sa.Connection, claims: pl.DataFrame) -> pl.DataFrame:
    """(claim_id, paid) of the claims with a state: their payments dated after its day, not reversed.
    The payments dated after the earliest of those days are few next to the claims (the states are
    as a rule recent), so they are found through the events' day index, not claim by claim."""
    with_state = claims.drop_nulls("as_of").select("claim_id", "as_of")
    if with_state.height == 0:
        return pl.DataFrame(schema=_PAID_SCHEMA)
    since = with_state.get_column("as_of").min()
    return joined(
        conn,
        with_state,
        "SELECT e.claim_id, CAST(SUM(e.amount) AS BIGINT) AS paid FROM {stage} s "
        "JOIN events e ON e.claim_id = s.claim_id AND e.event_date > s.as_of "
        f"WHERE e.event_date > '{since.isoformat()}' AND {_NOT_REVERSED} GROUP BY e.claim_id",
        _PAID_SCHEMA,
    )


def _paid_ever(conn: sa.Connection, claims: pl.DataFrame) -> pl.DataFrame:
    """(claim_id, paid) of the claims with no state yet: every payment not reversed, claim by claim."""
    without = claims.filter(pl.col("as_of").is_null()).select("claim_id")
    return joined(
        conn,
        without,
        "SELECT s.claim_id, (SELECT CAST(SUM(e.amount) AS BIGINT) FROM events e WHERE e.claim_id = s.claim_id "
        f"AND {_NOT_REVERSED}) AS paid FROM {{stage}} s",
        _PAID_SCHEMA,
    )


LINE_COLUMNS = {
    "line_id": pl.Int64(),
    "bank_ref": pl.String(),
    "end_to_end_id": pl.String(),
    "amount": pl.Int64(),
    "direction": pl.String(),
    "status": pl.String(),
}


def lines_by_refs(conn: sa.Connection, bank_account: str, refs: pl.DataFrame) -> pl.DataFrame:
    """refs (position, ref) -> (position, LINE_COLUMNS) of the account's stored lines with that bank_ref."""
    listed = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
    return joined(
        conn,
        refs,
        f"SELECT s.position, {listed} FROM {{stage}} s JOIN statement_lines l "
        "ON l.bank_account = :account AND l.bank_ref = s.ref",
        {"position": pl.Int64(), **LINE_COLUMNS},
        {"account": bank_account},
    )


def lines_by_end_to_end(conn: sa.Connection, bank_account: str, ids: pl.DataFrame) -> pl.DataFrame:
    """ids (position, ref) -> (position, LINE_COLUMNS) of the account's credits with that end-to-end id."""
    listed = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
    return joined(
        conn,
        ids,
        f"SELECT s.position, {listed} FROM {{stage}} s JOIN statement_lines l "
        "ON l.end_to_end_id = s.ref AND l.bank_account = :account AND l.direction = 'credit'",
        {"position": pl.Int64(), **LINE_COLUMNS},
        {"account": bank_account},
    )


def events_of_lines(conn: sa.Connection, line_ids: pl.Series) -> pl.DataFrame:
    """The events stored lines became: line_id, event_id, claim_id, amount."""
    return joined(
        conn,
        line_ids.unique().to_frame("line_id"),
        "SELECT e.line_id, e.event_id, e.claim_id, e.amount FROM {stage} s "
        "JOIN statement_line_events e ON e.line_id = s.line_id",
        {"line_id": pl.Int64(), "event_id": pl.Int64(), "claim_id": pl.Int64(), "amount": pl.Int64()},
    )


def credits_by_payer(conn: sa.Connection, bank_account: str, payers: pl.DataFrame) -> pl.DataFrame:
    """payers (position, counterparty_account, amount, booking_date) -> (position, LINE_COLUMNS,
    booking_date) of the account's credits from that payer account of that amount, booked on the
    return's day or before, not returned nor refunded."""
    listed = ", ".join(f"l.{c}" for c in LINE_COLUMNS)
    return joined(
        conn,
        payers,
        f"SELECT s.position, {listed}, l.booking_date FROM {{stage}} s JOIN statement_lines l "
        "ON l.counterparty_account = s.counterparty_account AND l.amount = s.amount "
        "AND l.booking_date <= s.booking_date AND l.bank_account = :account AND l.direction = 'credit' "
        "AND l.status IN ('posted', 'open', 'assigned')",
        {"position": pl.Int64(), **LINE_COLUMNS, "booking_date": pl.Date()},
        {"account": bank_account},
    )
