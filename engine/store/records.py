"""Claims and events into the store and back, with nothing stored twice and nothing lost.

Every write goes through a staging table: the rows are bulk-copied there, rows that break a
rule of the store are set aside with their reason, the rest are inserted with ``ON CONFLICT DO
NOTHING``, and the staged rows are then compared with what is stored, so each input row ends
up ``inserted``, ``already_stored`` (identical to a stored row: a retry) or in ``rejects`` with
its reason. One call is one transaction: an error stores nothing.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum

import polars as pl
import sqlalchemy as sa

from engine.schema import CLAIMS, EVENTS
from engine.store import virtual_accounts
from engine.store.bulk import OnBatch, Schema, _quote, analyze, is_postgres, read_frame, write_frame
from engine.validation import EngineInputError, check_claims, check_events, conform

log = logging.getLogger(__name__)

CLAIM_SCHEMA: Schema = {c.name: c.dtype for c in CLAIMS}
EVENT_SCHEMA: Schema = {c.name: c.dtype for c in EVENTS} | {"idempotency_key": pl.String()}
REJECT_SCHEMA: Schema = {"table": pl.String(), "key": pl.String(), "reason": pl.String()}


@dataclass(frozen=True)
class Written:
    """What became of the rows of one table in one write."""

    table: str
    rows: int
    inserted: int
    already_stored: int
    rejects: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECT_SCHEMA))

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "inserted": self.inserted,
            "already_stored": self.already_stored,
            "rejected": self.rejects.height,
        }


def actor() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "cession"


class AuditAction(StrEnum):
    """What an audit_log row records (``audit_log.action``)."""

    LOAD = "load"
    POST_EVENTS = "post_events"
    RUN = "run"
    RUN_FAILED = "run_failed"
    INGEST = "ingest"
    ALLOCATE = "allocate"
    RECALL = "recall"
    AGENCY = "agency"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    #: a caller of the HTTP API read a debtor's personal data (name, PESEL/NIP, address)
    READ_DEBTOR = "read_debtor"
    #: a caller of the HTTP API wrote to the store (events posted, a case returned)
    API_WRITE = "api_write"
    #: contacts (contacts/): a day's plan stored, a dispatch, delivery results, a debtor's objection
    CONTACTS_PLANNED = "contacts_planned"
    CONTACTS_SENT = "contacts_sent"
    CONTACT_RESULTS = "contact_results"
    CONTACT_OBJECTION = "contact_objection"
    #: a bank statement imported (`cession statements import`)
    STATEMENT_IMPORT = "statement_import"
    #: a line taken out of suspense by a person (`cession suspense assign|refund`)
    SUSPENSE_ASSIGN = "suspense_assign"
    SUSPENSE_REFUND = "suspense_refund"
    #: a payment plan, settlement or promise to pay made or cancelled (payments/)
    PLAN = "plan"
    SETTLEMENT = "settlement"
    PROMISE = "promise"
    #: the daily update of plans, settlements and promises (`cession plans update`, `cession run`)
    PLANS_UPDATE = "plans_update"


def audit(conn: sa.Connection, action: AuditAction, subject: str | None, details: dict, who: str | None = None) -> None:
    from engine.store.models import AuditEntry

    # the values as parameters of a plain INSERT, not an INSERT built with .values() each time:
    # SQLAlchemy compiles it once (~0.15 ms less of a request's GIL, e.g. each batch of events posted)
    conn.execute(
        sa.insert(AuditEntry.__table__),
        {"at": datetime.now(UTC), "actor": who or actor(), "action": action, "subject": subject, "details": details},
    )


def with_idempotency_keys(events: pl.DataFrame) -> pl.DataFrame:
    """Events as the store keeps them. A file without ``idempotency_key`` (a seller's history)
    gets ``event:<event_id>`` (the id zero-padded to 19 digits, so keys sort as ids do and fill
    their index in order), so loading the same file twice stores it once."""
    if "idempotency_key" not in events.columns:
        padded = pl.col("event_id").cast(pl.String).str.zfill(19)
        events = events.with_columns(("event:" + padded).alias("idempotency_key"))
    bad = events.filter(pl.col("idempotency_key").is_null() | (pl.col("idempotency_key").str.len_chars() == 0))
    if bad.height:
        from engine.validation import EngineInputError

        raise EngineInputError(
            "events", "idempotency_key", "must be a non-empty string", bad["event_id"].head(5).to_list(), bad.height
        )
    return events


def load(
    engine: sa.Engine,
    claims: pl.DataFrame,
    events: pl.DataFrame | None = None,
    *,
    who: str | None = None,
    on_batch: OnBatch | None = None,
) -> dict[str, Written]:
    """Store a seller's claims (their portfolios created as needed) and their event history, in
    one transaction. Input that breaks docs/data-contract.md is refused whole (``EngineInputError``)."""
    claims = conform(claims, "claims", CLAIMS)
    check_claims(claims)
    if events is not None:
        recorded = _given_recorded_on(events)
        events = with_idempotency_keys(events)
        keys = events.get_column("idempotency_key")
        events = _with_recorded_on(conform(events, "events", EVENTS).with_columns(keys), recorded, None)
        check_events(events)
    with engine.begin() as conn:
        _create_portfolios(conn, claims.get_column("portfolio_id").unique().sort().to_list())
        written = {"claims": _write_claims(conn, claims, on_batch)}
        virtual_accounts.assign(conn, claims["debtor_id"], virtual_accounts.configured_prefix())
        if events is not None:
            written["events"] = _write_events(conn, events, on_batch, claims)
        audit(conn, AuditAction.LOAD, None, {t: w.summary() for t, w in written.items()}, who)
    # the planner's statistics of what the load filled (autovacuum would, later, if it runs at
    # all: until then the queries on these tables are planned for the tables as they were)
    filled = [w.table for w in written.values() if w.inserted]
    analyze(engine, [*filled, "virtual_accounts", "portfolios"] if filled else [])
    for w in written.values():
        log.info(
            "loaded %s: %d rows, %d inserted, %d already stored, %d rejected",
            w.table,
            w.rows,
            w.inserted,
            w.already_stored,
            w.rejects.height,
        )
    return written


#: the debtors table as frames hold it (ingest writes it, allocation reads it)
DEBTOR_SCHEMA: Schema = {
    "debtor_id": pl.Int64(),
    "debtor_kind": pl.String(),
    "national_id": pl.String(),
    "name": pl.String(),
    "street": pl.String(),
    "postal_code": pl.String(),
    "city": pl.String(),
    "phone": pl.String(),
    "email": pl.String(),
    "flags": pl.List(pl.String()),
}


def load_debtors(engine: sa.Engine, debtors: pl.DataFrame, *, who: str | None = None) -> Written:
    """Store debtors (docs/data-contract.md ``debtors``) whose debtor_id is not stored yet, in one
    transaction; a stored id is kept as it is (``already_stored``), never overwritten."""
    frame = debtors.select(
        pl.col(c).cast(t) if c in debtors.columns else pl.lit(None, dtype=t).alias(c) for c, t in DEBTOR_SCHEMA.items()
    )
    frame = frame.with_columns(pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    with engine.begin() as conn:
        low, high = frame["debtor_id"].min(), frame["debtor_id"].max()
        stored = (
            read_frame(
                conn,
                "SELECT debtor_id FROM debtors WHERE debtor_id BETWEEN :low AND :high",
                {"debtor_id": pl.Int64()},
                {"low": low, "high": high},
            )
            if frame.height
            else None
        )
        new = frame if stored is None else frame.join(stored, on="debtor_id", how="anti")
        inserted = write_frame(conn, "debtors", new) if new.height else 0
        virtual_accounts.assign(conn, new["debtor_id"], virtual_accounts.configured_prefix())
        written = _written("debtors", frame.height, inserted, [])
        audit(conn, AuditAction.LOAD, None, {"debtors": written.summary()}, who)
    return written


def post_events(engine: sa.Engine, events: pl.DataFrame, *, who: str | None = None) -> Written:
    """Append events (payments, costs, reversals, ...) to stored claims; a retry with the same
    idempotency keys stores nothing twice, also when two connections post at once."""
    recorded = _given_recorded_on(events)
    events = with_idempotency_keys(events)
    keys = events.get_column("idempotency_key")
    events = _with_recorded_on(conform(events, "events", EVENTS).with_columns(keys), recorded, datetime.now(UTC).date())
    check_events(events)
    with engine.begin() as conn:
        written = _write_events(conn, events, None)
        audit(conn, AuditAction.POST_EVENTS, None, written.summary(), who)
    log.info(
        "posted events: %d rows, %d inserted, %d already stored, %d rejected",
        written.rows,
        written.inserted,
        written.already_stored,
        written.rejects.height,
    )
    return written


def write_events(conn: sa.Connection, events: pl.DataFrame) -> Written:
    """``post_events`` in the caller's transaction (no audit row: the caller writes its own), for a
    write that stores more than events in one transaction (a bank statement's lines with theirs)."""
    recorded = _given_recorded_on(events)
    keys = events.get_column("idempotency_key")
    events = _with_recorded_on(conform(events, "events", EVENTS).with_columns(keys), recorded, datetime.now(UTC).date())
    check_events(events)
    return _write_events(conn, events, None)


def _with_recorded_on(events: pl.DataFrame, given: pl.Series | None, today: date | None) -> pl.DataFrame:
    """``events`` (conformed) with ``recorded_on``, the day each entered the store (the journal
    posts it then, ledger/): the input's own column when it had one (``given``), else ``today``;
    ``today`` None (a load of a file: a history) takes each event as recorded on its own day."""
    fallback = pl.col("event_date") if today is None else pl.lit(today, pl.Date)
    if given is None:
        return events.with_columns(fallback.alias("recorded_on"))
    return events.with_columns(pl.lit(given.cast(pl.Date)).fill_null(fallback).alias("recorded_on"))


def _given_recorded_on(events: pl.DataFrame) -> pl.Series | None:
    if "recorded_on" not in events.columns:
        return None
    try:
        return events.get_column("recorded_on").cast(pl.Date)
    except pl.exceptions.PolarsError:
        raise EngineInputError("events", "recorded_on", "must be a date (YYYY-MM-DD)") from None


def _create_portfolios(conn: sa.Connection, portfolio_ids: list[str]) -> None:
    from engine.store.models import Portfolio

    if not portfolio_ids:
        return
    table = Portfolio.__table__
    stored = set(conn.execute(sa.select(table.c.portfolio_id).where(table.c.portfolio_id.in_(portfolio_ids))).scalars())
    new = [{"portfolio_id": p, "name": p, "created_at": datetime.now(UTC)} for p in portfolio_ids if p not in stored]
    if new:
        conn.execute(sa.insert(table), new)


def _write_claims(conn: sa.Connection, claims: pl.DataFrame, on_batch: OnBatch | None) -> Written:
    return _insert_new(conn, "claims", claims, "claim_id", on_batch)


def _write_events(
    conn: sa.Connection, events: pl.DataFrame, on_batch: OnBatch | None, claims: pl.DataFrame | None = None
) -> Written:
    """Events of stored claims (or of ``claims``, stored in the same transaction), each reversal
    naming an event of its own claim, stored or in the batch."""
    claim_ids = events.get_column("claim_id").unique()
    known = claims.get_column("claim_id") if claims is not None else pl.Series("claim_id", [], pl.Int64)
    asked = claim_ids.filter(~claim_ids.is_in(known.implode()))
    # as a rule every claim is stored: counted first, the ids read back only when some are not
    stored = asked if _all_stored(conn, "claims", "claim_id", asked) else _stored(conn, "claims", "claim_id", asked)
    has_claim = pl.col("claim_id").is_in(pl.concat([known, stored]).implode())
    reversals = events.filter(pl.col("kind") == "reversal").select("event_id", "claim_id", "reverses")
    in_batch = events.select(pl.col("event_id").alias("reverses"), pl.col("claim_id").alias("target_claim"))
    targets = reversals.join(in_batch, on="reverses", how="left")
    outside = targets.filter(pl.col("target_claim").is_null()).get_column("reverses")
    stored_targets = _stored(conn, "events", "event_id", outside, extra="claim_id")
    targets = targets.join(
        stored_targets.rename({"event_id": "reverses", "claim_id": "stored_claim"}), on="reverses", how="left"
    )
    bad_reversals = targets.filter(
        pl.coalesce("target_claim", "stored_claim").is_null()
        | (pl.coalesce("target_claim", "stored_claim") != pl.col("claim_id"))
    ).get_column("event_id")
    rules = [
        ("the claim is not in the store", ~has_claim),
        (
            "a reversal must name an event of the same claim (stored or in this batch)",
            pl.col("event_id").is_in(bad_reversals.implode()),
        ),
    ]
    written = _insert_new(conn, "events", events, "idempotency_key", on_batch, rules)
    if is_postgres(conn) and written.inserted:
        # ids came with the rows: move the sequence past them for events numbered by the store
        conn.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('events', 'event_id'), (SELECT max(event_id) FROM events))"
        )
    return written


def _all_stored(conn: sa.Connection, table: str, column: str, values: pl.Series) -> bool:
    """Whether every one of the int64 ``values`` (nulls aside) is stored in ``table.column`` (a
    unique column): counted by the server, nothing read back."""
    values = values.drop_nulls().unique().sort()
    step = 50_000 if is_postgres(conn) else 900
    found = 0
    for i in range(0, len(values), step):
        listed = ",".join(str(int(v)) for v in values.slice(i, step).to_list())
        where = f"= ANY(ARRAY[{listed}]::bigint[])" if is_postgres(conn) else f"IN ({listed})"
        found += conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE {column} {where}").scalar()
    return found == len(values)


def _stored(
    conn: sa.Connection, table: str, column: str, values: pl.Series, extra: str | None = None
) -> pl.DataFrame | pl.Series:
    """Which of the int64 ``values`` are stored in ``table.column`` (with ``extra``, as a frame)."""
    names = [column] + ([extra] if extra else [])
    schema = {n: pl.Int64() for n in names}
    found = [pl.DataFrame(schema=schema)]
    values = values.drop_nulls().unique().sort()
    step = 50_000 if is_postgres(conn) else 900  # SQLite: at most 999 parameters a statement
    for i in range(0, len(values), step):
        chunk = values.slice(i, step).to_list()
        if is_postgres(conn):
            listed = "ARRAY[" + ",".join(str(int(v)) for v in chunk) + "]::bigint[]"
            query = f"SELECT {', '.join(names)} FROM {table} WHERE {column} = ANY({listed})"
        else:
            query = f"SELECT {', '.join(names)} FROM {table} WHERE {column} IN ({','.join(str(int(v)) for v in chunk)})"
        found.append(read_frame(conn, query, schema))
    frame = pl.concat(found)
    return frame if extra else frame.get_column(column)


def _insert_new(
    conn: sa.Connection,
    table: str,
    frame: pl.DataFrame,
    key: str,
    on_batch: OnBatch | None,
    rules: list[tuple[str, pl.Expr]] = (),
) -> Written:
    """Insert the rows of ``frame`` that are new; see the module's docstring.

    Rows breaking a ``rule`` (reason, bad-row expression) are rejected first. The rest are copied
    straight into the table under a savepoint, the fast path for new rows; if a unique key is
    already taken, that is undone and the rows go through a staging table instead."""
    rows, rejects = frame.height, []
    for reason, bad in rules:
        rejected = frame.filter(bad)
        if rejected.height:
            rejects.append(rejected.select(table=pl.lit(table), key=pl.col(key).cast(pl.String), reason=pl.lit(reason)))
            frame = frame.filter(~bad)
    try:
        with conn.begin_nested():
            if frame.height >= REBUILD_MIN_ROWS and _empty_and_locked(conn, table):
                inserted = _copy_then_index(conn, table, frame, on_batch)
            else:
                inserted = write_frame(conn, table, frame, on_batch=on_batch)
        return _written(table, rows, inserted, rejects)
    except (sa.exc.IntegrityError, *_driver_integrity_errors()):
        pass  # some key is taken (a retry, a concurrent post, a conflict): sort the rows out below
    return _insert_staged(conn, table, frame, key, on_batch, rows, rejects)


#: PostgreSQL: a load of at least this many rows into an empty table builds the table's indexes
#: after copying its rows instead of maintaining them row by row.
REBUILD_MIN_ROWS = 100_000
#: memory for those index builds (SET LOCAL: this transaction only; never lowers the server's)
REBUILD_MEMORY_MB = 1024


def _empty_and_locked(conn: sa.Connection, table: str) -> bool:
    """PostgreSQL: whether ``table`` is empty, and if so, locked until the transaction ends (so no
    other writer can add rows the index builds would not expect; readers wait for the commit)."""
    if not is_postgres(conn) or conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar():
        return False
    conn.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return not conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {table})").scalar()


def _copy_then_index(conn: sa.Connection, table: str, frame: pl.DataFrame, on_batch: OnBatch | None) -> int:
    """COPY into a bare (locked, empty) table, then build its primary key, unique constraints and
    indexes, each in one sorted pass, as they were (same names and definitions). A duplicate key
    fails the build: the caller's savepoint then undoes all of it, indexes included."""
    bare = Bare.of(conn, table)
    written = write_frame(conn, table, frame, on_batch=on_batch)
    bare.restore()
    return written


@dataclass
class Bare:
    """A table whose primary key, unique constraints and indexes (and the foreign keys of other
    tables naming its keys) were dropped inside the caller's transaction, so that rows go in
    without index upkeep; ``restore`` builds them again as they were (same names and
    definitions), each in one sorted pass. PostgreSQL, on a table locked and empty (see
    ``_empty_and_locked``); a rollback undoes both."""

    conn: sa.Connection
    table: str
    constraints: list
    indexes: list
    referencing: list

    @classmethod
    def of(cls, conn: sa.Connection, table: str) -> Bare:
        constraints = conn.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = '{table}'::regclass AND contype IN ('p', 'u') ORDER BY contype, conname"
        ).all()
        indexes = conn.exec_driver_sql(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            f"WHERE x.indrelid = '{table}'::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname"
        ).all()
        # foreign keys naming this table's keys (placements -> claims): their tables are empty too
        referencing = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE confrelid = '{table}'::regclass AND contype = 'f' ORDER BY 1, 2"
        ).all()
        for other, name, _ in referencing:
            conn.exec_driver_sql(f"ALTER TABLE {other} DROP CONSTRAINT {_quote(name)}")
        for name, _ in constraints:
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP CONSTRAINT {_quote(name)}")
        for name, _ in indexes:
            conn.exec_driver_sql(f"DROP INDEX {_quote(name)}")
        return cls(conn, table, list(constraints), list(indexes), list(referencing))

    def restore(self) -> None:
        conn, table = self.conn, self.table
        memory_mb = conn.exec_driver_sql(
            "SELECT setting::bigint * 1024 / 1048576 FROM pg_settings WHERE name = 'maintenance_work_mem'"
        ).scalar()
        if memory_mb < REBUILD_MEMORY_MB:
            conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{REBUILD_MEMORY_MB}MB'")
        for name, definition in self.constraints:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD CONSTRAINT {_quote(name)} {definition}")
        for _, definition in self.indexes:
            conn.exec_driver_sql(definition)
        for other, name, definition in self.referencing:
            conn.exec_driver_sql(f"ALTER TABLE {other} ADD CONSTRAINT {_quote(name)} {definition}")


def bare_if_empty(conn: sa.Connection, tables: list[str]) -> list[Bare] | None:
    """PostgreSQL, when every one of ``tables`` is empty: each locked until the transaction ends
    and made ``Bare`` (restore them in the reverse order); else None and nothing changed."""
    if not all(_empty_and_locked(conn, table) for table in tables):
        return None
    return [Bare.of(conn, table) for table in tables]


def _driver_integrity_errors() -> tuple[type[Exception], ...]:
    import sqlite3

    import psycopg

    return (psycopg.errors.IntegrityError, sqlite3.IntegrityError)


def _written(table: str, rows: int, inserted: int, rejects: list[pl.DataFrame]) -> Written:
    """``rows`` input rows: ``inserted``, ``rejects``, and the rest already stored."""
    reject_frame = pl.concat(rejects).select(list(REJECT_SCHEMA)) if rejects else pl.DataFrame(schema=REJECT_SCHEMA)
    return Written(table, rows, inserted, rows - inserted - reject_frame.height, reject_frame)


def _insert_staged(
    conn: sa.Connection, table: str, frame: pl.DataFrame, key: str, on_batch: OnBatch | None, rows: int, rejects: list
) -> Written:
    stage = f"stage_{table}"
    columns = ", ".join(_quote(c) for c in frame.columns)
    if is_postgres(conn):
        conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{stage}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} AS SELECT {columns} FROM {table} WHERE 0")
    write_frame(conn, stage, frame, on_batch=on_batch)
    inserted = conn.exec_driver_sql(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} WHERE true ON CONFLICT DO NOTHING"
    ).rowcount
    # staged rows now either are the stored row, differ from it, or lost to another unique column
    differs = " OR ".join(
        (
            f"s.{_quote(c)} IS DISTINCT FROM t.{_quote(c)}"
            if is_postgres(conn)
            else f"s.{_quote(c)} IS NOT t.{_quote(c)}"
        )
        for c in frame.columns
        if c not in (key, "recorded_on")  # a retry on another day is the same event
    )
    unmatched = read_frame(
        conn,
        f"SELECT CAST(s.{key} AS VARCHAR) AS key, CASE WHEN t.{key} IS NULL THEN 'missing' ELSE 'differs' END AS what "
        f"FROM {stage} s LEFT JOIN {table} t ON t.{key} = s.{key} WHERE t.{key} IS NULL OR {differs or 'false'}",
        {"key": pl.String(), "what": pl.String()},
    )
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    if unmatched.height:
        differ = f"{key} already stored with other values" + (
            " (events are immutable: post a reversal)" if table == "events" else ""
        )
        rejects.append(
            unmatched.select(
                table=pl.lit(table),
                key=pl.col("key"),
                reason=pl.when(pl.col("what") == "differs")
                .then(pl.lit(differ))
                .otherwise(pl.lit(f"another stored row has the same {_unique_columns(conn, table, key)}")),
            )
        )
    return _written(table, rows, inserted, rejects)


def _unique_columns(conn: sa.Connection, table: str, key: str) -> str:
    inspector = sa.inspect(conn)
    names = [" + ".join(u["column_names"]) for u in inspector.get_unique_constraints(table)]
    names += [" + ".join(inspector.get_pk_constraint(table)["constrained_columns"])]
    return " or ".join(n for n in names if n != key) or key


def claims_query(portfolio: str | None = None, columns: list[str] | None = None) -> tuple[str, Schema, dict | None]:
    """(query, schema, params) of the stored claims (``columns``, default all), of one portfolio or all."""
    schema = {c: CLAIM_SCHEMA[c] for c in columns or CLAIM_SCHEMA}
    listed = ", ".join(schema)
    if portfolio:
        return f"SELECT {listed} FROM claims WHERE portfolio_id = :portfolio", schema, {"portfolio": portfolio}
    return f"SELECT {listed} FROM claims", schema, None


def events_query(portfolio: str | None = None, columns: list[str] | None = None) -> tuple[str, Schema, dict | None]:
    """(query, schema, params) of the stored events (``columns``, default docs/data-contract.md's), of one portfolio or all."""
    schema = {c.name: c.dtype for c in EVENTS if columns is None or c.name in columns}
    columns = ", ".join(f"e.{c}" for c in schema)
    if portfolio:
        query = (
            f"SELECT {columns} FROM events e JOIN claims c ON c.claim_id = e.claim_id WHERE c.portfolio_id = :portfolio"
        )
        return query, schema, {"portfolio": portfolio}
    return f"SELECT {columns} FROM events e", schema, None


def read_claims(conn: sa.Connection, portfolio: str | None = None) -> pl.DataFrame:
    return read_frame(conn, *claims_query(portfolio))


def read_events(conn: sa.Connection, portfolio: str | None = None) -> pl.DataFrame:
    return read_frame(conn, *events_query(portfolio))
