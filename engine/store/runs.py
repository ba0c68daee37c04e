"""The runs repository: engine runs' records (``engine_runs``), the run lock, and the stored
claim_state they point portfolios at.

A run (``engine.store_run``) is recorded ``running`` (``start``), computes, then in one transaction
writes its claim_state rows beside the current ones, points its portfolios at them and marks
itself succeeded (``store_state``). Until that commit readers see the previous state; an error
rolls the rows back and the run is marked failed (``fail``); a killed process leaves its run
``running``, and the next run (or ``recover``), holding the run lock, marks it failed and clears
what it left (``mark_dead``). Superseded rows, claim_state's and claim_payments', are dropped after
the switch (``drop_superseded``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from engine.domain import PAYMENTS_HORIZON_DAYS, RunStatus
from engine.schema import CLAIM_STATE
from engine.store import copies
from engine.store.bulk import OnBatch, is_postgres, read_frame, write_frame
from engine.store.database import StoreError
from engine.store.models import EngineRun, Portfolio
from engine.store.records import AuditAction, audit

log = logging.getLogger(__name__)

#: pg_advisory_lock key of the run lock ("cession runs" as a number), mixed with the store's schema
#: (``RUN_LOCK``): stores in schemas of one database run independently.
RUN_LOCK_KEY = 0x63657373696F6E
RUN_LOCK = f"{RUN_LOCK_KEY}::bigint # hashtext(current_schema())::bigint"
STATE_SCHEMA = {f.name: pl.from_arrow(pa.table({f.name: pa.array([], f.type)})).dtypes[0] for f in CLAIM_STATE}
INTERRUPTED = "interrupted: its process ended before the run finished (killed or crashed)"


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    status: RunStatus
    as_of: date
    portfolio_id: str | None
    claims: int | None
    events: int | None
    time_barred: int | None
    totals: dict | None
    seconds: float | None
    state_sha256: str | None
    error: str | None
    provenance: dict | None  # engine.metadata.provenance of the state, plus the count of suspended claims


def _record(row) -> RunRecord:
    return RunRecord(
        row.run_id,
        RunStatus(row.status),
        row.as_of,
        row.portfolio_id,
        row.claims,
        row.events,
        row.time_barred,
        row.totals,
        row.seconds,
        row.state_sha256,
        row.error,
        row.provenance,
    )


@contextmanager
def run_lock(engine: sa.Engine) -> Iterator[None]:
    """One run at a time per store. PostgreSQL: a session advisory lock (freed when the holder's
    connection ends, also by SIGKILL); SQLite: an OS file lock beside the database file."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({RUN_LOCK})").scalar():
                raise StoreError("another run is in progress on this store; wait for it or check `cession runs`")
            conn.commit()
            try:
                yield
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({RUN_LOCK})")
                conn.commit()
        return
    from filelock import FileLock, Timeout

    path = engine.url.database
    lock = FileLock(f"{path}.run-lock" if path and path != ":memory:" else os.devnull + ".cession-run-lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreError("another run is in progress on this store; wait for it or check `cession runs`") from None
    try:
        yield
    finally:
        lock.release()


def recover(engine: sa.Engine) -> list[int]:
    """Mark runs whose process died as failed and drop claim_state rows no portfolio points at.
    Takes the run lock, so it never touches a run that is alive. Returns the runs marked."""
    with run_lock(engine):
        return mark_dead(engine)


def mark_dead(engine: sa.Engine) -> list[int]:
    """``recover`` for a caller that holds the run lock: every run still ``running`` is dead."""
    runs = EngineRun.__table__
    with engine.begin() as conn:
        dead = list(conn.execute(sa.select(runs.c.run_id).where(runs.c.status == RunStatus.RUNNING)).scalars())
        if dead:
            conn.execute(
                runs.update()
                .where(runs.c.run_id.in_(dead))
                .values(status=RunStatus.FAILED, error=INTERRUPTED, finished_at=datetime.now(UTC))
            )
            log.warning("runs %s marked failed: %s", ", ".join(map(str, dead)), INTERRUPTED)
        drop_superseded(conn)
    return dead


SUPERSEDED = (
    "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM portfolios p "
    "WHERE p.portfolio_id = {table}.portfolio_id AND p.current_run_id = {table}.run_id)"
)
#: claim_payments rows no portfolio points at (SQLite: the rows carry no portfolio, their claim does)
PAYMENTS_SUPERSEDED = (
    "DELETE FROM claim_payments WHERE NOT EXISTS (SELECT 1 FROM claims c JOIN portfolios p "
    "ON p.portfolio_id = c.portfolio_id WHERE c.claim_id = claim_payments.claim_id "
    "AND p.current_run_id = claim_payments.run_id)"
)


#: each claim's payments as the run sees them (``ClaimPayments``): not reversed, on or before the
#: run's day, of the run's claims (``{claims}``: a join with claims for one portfolio's run)
PAYMENTS_SQL = (
    "INSERT INTO {table} (run_id, claim_id, payments, last_paid, payments_before, last_paid_before, "
    "paid_since) SELECT :run_id, e.claim_id, COUNT(*), MAX(e.event_date), "
    "COUNT(CASE WHEN e.event_date <= :before THEN 1 END), MAX(CASE WHEN e.event_date <= :before THEN e.event_date END), "
    "SUM(CASE WHEN e.event_date > :before THEN e.amount ELSE 0 END) FROM events e{claims} "
    "WHERE e.kind = 'payment' AND e.event_date <= :as_of{portfolio} AND e.event_id NOT IN "
    "(SELECT r.reverses FROM events r WHERE r.kind = 'reversal' AND r.reverses IS NOT NULL) GROUP BY e.claim_id "
    "ORDER BY e.claim_id"
)


def write_payments(conn: sa.Connection, run_id: int, as_of: date, portfolio: str | None) -> None:
    """The run's ``claim_payments`` rows (PAYMENTS_SQL, over ``PAYMENTS_HORIZON_DAYS``), computed by
    the database from the events in ``conn``'s transaction.

    PostgreSQL: into a bare table of the run's own (``claim_payments_run_N``, with the key and a
    CHECK matching the partition bound) made in ``conn``'s transaction, which ``store_state``
    attaches at the switch (a table made as a partition would lock claim_payments against its
    readers until the commit; attaching takes a lock they pass). A failed or killed run's
    transaction takes its table with it. The rows are grouped as the events' (claim_id,
    event_date) index gives them, in claim_id order, so they go into the key's index in order (a
    hash of millions of claims would spill out of work_mem, and its rows in hash order make every
    insert a random one: ~2.5x slower at 1M)."""
    one = portfolio is not None
    postgres = is_postgres(conn)
    table = "claim_payments"
    if postgres:
        table = _payments_partition(run_id)
        conn.exec_driver_sql(
            f"CREATE TABLE {table} (LIKE claim_payments INCLUDING DEFAULTS, PRIMARY KEY (run_id, claim_id), "
            f"CONSTRAINT {table}_run CHECK (run_id = {int(run_id)}))"
        )
        conn.exec_driver_sql("SET LOCAL enable_hashagg = off")
    conn.execute(
        sa.text(
            PAYMENTS_SQL.format(
                table=table,
                claims=" JOIN claims c ON c.claim_id = e.claim_id" if one else "",
                portfolio=" AND c.portfolio_id = :portfolio" if one else "",
            )
        ),
        {"run_id": run_id, "as_of": as_of, "before": as_of - timedelta(days=PAYMENTS_HORIZON_DAYS)}
        | ({"portfolio": portfolio} if one else {}),
    )
    if postgres:
        conn.exec_driver_sql("RESET enable_hashagg")


@contextmanager
def storing(engine: sa.Engine, run_id: int, as_of: date, portfolio: str | None) -> Iterator[PaymentsWritten | None]:
    """On PostgreSQL, the run's storing transaction begun now, its ``claim_payments`` written on a
    thread into the run's own table (``write_payments``) while the caller computes the state (the
    server is idle then, and the payments are ~20 s of it at 10M claims): pass what this yields to
    ``store_state`` as ``stored``, which attaches the table. The transaction commits with the state
    or, on any error, rolls back (nothing of the run is kept, its table neither). Elsewhere
    (SQLite: a transaction holds the store's one write lock) it yields None and ``store_state``
    does all of it in its own transaction."""
    if not is_postgres(engine):
        yield None
        return
    with engine.begin() as conn, ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-payments") as pool:
        writing = pool.submit(write_payments, conn, run_id, as_of, portfolio)
        try:
            yield PaymentsWritten(conn, writing)
        finally:
            writing.exception()  # the connection is the caller's again only once the thread is done


class PaymentsWritten:
    """``storing``'s connection: ``wait`` before using it (raises the payments' error, if any)."""

    def __init__(self, conn: sa.Connection, writing) -> None:
        self.conn, self.writing = conn, writing

    def wait(self) -> sa.Connection:
        self.writing.result()
        return self.conn


def _partition(run_id: int) -> str:
    return f"claim_state_run_{int(run_id)}"


def _payments_partition(run_id: int) -> str:
    return f"claim_payments_run_{int(run_id)}"


def _partitions(conn: sa.Connection, parent: str) -> dict[int, str]:
    """PostgreSQL: ``parent``'s partitions by their run."""
    names = conn.exec_driver_sql(
        f"SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '{parent}'::regclass"
    ).scalars()
    return {int(name.rsplit("_", 1)[1]): name for name in names}


def drop_superseded(conn: sa.Connection) -> None:
    """Remove claim_state and claim_payments rows no portfolio points at: on PostgreSQL drop a
    run's partitions once no portfolio uses it (and delete the rows of portfolios that moved on
    from a shared one)."""
    copies.drop_superseded_state(conn)
    if not is_postgres(conn):
        conn.exec_driver_sql(SUPERSEDED.format(table="claim_state"))
        conn.exec_driver_sql(PAYMENTS_SUPERSEDED)
        return
    # a run's tables are filled before they are attached: one never attached belongs to a run
    # that failed or died (the caller holds the run lock, so no live run is filling it)
    for name in conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' "
        "AND NOT relispartition AND relname ~ '^claim_(state|payments)_run_[0-9]+$'"
    ).scalars():
        conn.exec_driver_sql(f"DROP TABLE {name}")
    payments = _partitions(conn, "claim_payments")
    current = set(conn.execute(sa.select(Portfolio.__table__.c.current_run_id).distinct()).scalars())
    for run_id, name in _partitions(conn, "claim_state").items():
        if run_id not in current:
            conn.exec_driver_sql(f"DROP TABLE {name}")
        elif current - {None} != {run_id}:  # else every portfolio with a state points at it: nothing to delete
            if run_id not in payments:
                conn.exec_driver_sql(SUPERSEDED.format(table=name))
                continue
            # the payments of the claims whose state goes (claim_payments rows carry no portfolio):
            # no more than the scan claim_state's rows take anyway
            conn.exec_driver_sql(
                f"WITH gone AS ({SUPERSEDED.format(table=name)} RETURNING {name}.claim_id) "
                f"DELETE FROM {payments[run_id]} cp USING gone WHERE cp.claim_id = gone.claim_id"
            )
    for run_id, name in payments.items():
        if run_id not in current:
            conn.exec_driver_sql(f"DROP TABLE {name}")


#: PostgreSQL: connections that fill a run's claim_state table at once, and the rows that make
#: a second one worth it.
STATE_WRITERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_MIN_ROWS = 200_000


def _write_state(conn: sa.Connection, run_id: int, rows: pl.DataFrame, on_batch: OnBatch | None) -> None:
    """A run's claim_state rows in ``conn``'s transaction, not yet visible to readers (they follow
    portfolios.current_run_id).

    PostgreSQL: a bare table of the run's own, its CHECK matching the partition bound, is filled
    first, in slices over several connections at once, each committed (no reader sees a table that
    is not attached; the next run or `recover` drops one left by a failed or killed run); then
    ``conn`` attaches it, which builds its primary key in one sorted pass with no other scan."""
    if not is_postgres(conn):
        write_frame(conn, "claim_state", rows, on_batch=on_batch)
        return
    part, engine = _partition(run_id), conn.engine
    with engine.begin() as setup:
        setup.exec_driver_sql(
            f"CREATE TABLE {part} (LIKE claim_state INCLUDING DEFAULTS, "
            f"CONSTRAINT {part}_run CHECK (run_id = {int(run_id)}))"
        )
    writers = STATE_WRITERS if rows.height >= PARALLEL_MIN_ROWS else 1
    step = -(-rows.height // writers) or 1
    done, lock = [0], threading.Lock()

    def fill(offset: int) -> None:
        last = 0

        def counted(written: int) -> None:  # rows written by all slices so far
            nonlocal last
            with lock:
                done[0] += written - last
                last = written
                total = done[0]
            if on_batch is not None:
                on_batch(total)

        with engine.begin() as writer:
            write_frame(writer, part, rows.slice(offset, step), on_batch=counted)

    try:
        with ThreadPoolExecutor(max_workers=writers) as pool:
            list(pool.map(fill, range(0, rows.height, step)))
    except BaseException:
        with engine.begin() as cleanup:
            cleanup.exec_driver_sql(f"DROP TABLE IF EXISTS {part}")
        raise
    conn.exec_driver_sql(f"ALTER TABLE claim_state ATTACH PARTITION {part} FOR VALUES IN ({int(run_id)})")


def _attach_payments(conn: sa.Connection, run_id: int) -> None:
    """PostgreSQL: the run's claim_payments table (``write_payments``) made a partition. Its CHECK
    spares the scan of its rows and its key becomes the partition's: no more than catalog work,
    under a lock on claim_payments that its readers pass."""
    if is_postgres(conn):
        conn.exec_driver_sql(
            f"ALTER TABLE claim_payments ATTACH PARTITION {_payments_partition(run_id)} FOR VALUES IN ({int(run_id)})"
        )


def start(engine: sa.Engine, as_of: date, portfolio: str | None) -> int:
    """Record a run of ``portfolio`` (None: all) as of ``as_of`` as ``running``: its run_id. The
    caller holds the run lock."""
    runs = EngineRun.__table__
    with engine.begin() as conn:
        known = sa.select(Portfolio.__table__.c.portfolio_id).where(Portfolio.__table__.c.portfolio_id == portfolio)
        if portfolio is not None and conn.execute(known).first() is None:
            raise StoreError(f"portfolio {portfolio!r} is not in the store (`cession load` it first)")
        return conn.execute(
            runs.insert()
            .values(
                portfolio_id=portfolio,
                as_of=as_of,
                status=RunStatus.RUNNING,
                started_at=datetime.now(UTC),
                host=socket.gethostname(),
                pid=os.getpid(),
            )
            .returning(runs.c.run_id)
        ).scalar_one()


def fail(engine: sa.Engine, run_id: int, error: BaseException, seconds: float, who: str | None = None) -> None:
    """Mark the run failed with ``error`` (its stored state stays the previous one)."""
    runs = EngineRun.__table__
    with engine.begin() as conn:
        conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                status=RunStatus.FAILED,
                error=f"{type(error).__name__}: {error}"[:4000],
                finished_at=datetime.now(UTC),
                seconds=round(seconds, 3),
            )
        )
        audit(conn, AuditAction.RUN_FAILED, str(run_id), {"error": str(error)[:1000]}, who)


def store_state(
    engine: sa.Engine,
    run_id: int,
    state: pa.Table,
    portfolio_ids: pl.Series,
    *,
    portfolio: str | None,
    as_of: date,
    provenance: dict,
    totals: dict[str, int],
    time_barred: int,
    digest: str,
    started: float,
    who: str | None = None,
    on_batch: OnBatch | None = None,
    stored: PaymentsWritten | None = None,
) -> RunRecord:
    """Make ``state`` (claim_state of the run's claims, by claim_id; ``portfolio_ids`` the
    portfolio of each row) the stored state of the run's portfolios (``portfolio``, else every
    one) and mark the run succeeded with what it computed, in one transaction: ``stored``'s, begun
    by ``storing`` with the payments written, or one of its own. ``started``
    (``time.perf_counter``) is when the run began, for its seconds. The state is also kept as a
    column copy of the run (engine/store/copies.py), encoded while its rows are written."""
    runs = EngineRun.__table__
    frame = pl.from_arrow(state)
    rows = frame.with_columns(run_id=pl.lit(run_id, pl.Int64), portfolio_id=portfolio_ids)
    portfolios = [portfolio] if portfolio else portfolio_ids.unique().sort().to_list()
    with (
        engine.begin() if stored is None else nullcontext(stored.wait()) as conn,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-copy") as pool,
    ):
        copy = None
        if copies.enabled():
            kept = frame.with_columns(portfolio_id=portfolio_ids.cast(pl.Categorical)).select(copies.STATE_COLUMNS)
            copy = pool.submit(copies.encoded, kept)
        _write_state(conn, run_id, rows, on_batch)
        if copy is not None:
            copies.write(conn, "claim_state", run_id, copy.result(), frame.height)
        if stored is None:
            write_payments(conn, run_id, as_of, portfolio)
        _attach_payments(conn, run_id)
        if portfolio is None:  # every portfolio, also one without claims, now has this run's state
            conn.execute(sa.update(Portfolio.__table__).values(current_run_id=run_id))
        else:
            conn.execute(
                sa.update(Portfolio.__table__)
                .where(Portfolio.__table__.c.portfolio_id.in_(portfolios))
                .values(current_run_id=run_id)
            )
        seconds = round(time.perf_counter() - started, 3)
        conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                status=RunStatus.SUCCEEDED,
                finished_at=datetime.now(UTC),
                seconds=seconds,
                claims=frame.height,
                events=provenance.get("events"),
                time_barred=time_barred,
                totals=totals,
                rules=provenance.get("rules"),
                provenance=provenance,
                state_sha256=digest,
                payments_horizon_days=PAYMENTS_HORIZON_DAYS,
            )
        )
        audit(
            conn,
            AuditAction.RUN,
            str(run_id),
            {"as_of": as_of.isoformat(), "portfolio": portfolio, "claims": frame.height},
            who,
        )
        # read in the transaction: ``stored``'s commits when ``storing`` ends, after this returns
        return _record(conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).one())


def run_record(engine: sa.Engine, run_id: int) -> RunRecord:
    runs = EngineRun.__table__
    with engine.connect() as conn:
        return _record(conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).one())


def runs_list(engine: sa.Engine, limit: int = 20) -> list[RunRecord]:
    runs = EngineRun.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(runs).order_by(runs.c.run_id.desc()).limit(limit)).all()
    return [_record(r) for r in rows]


def read_state(engine_or_conn: sa.Engine | sa.Connection, portfolio: str | None = None) -> pl.DataFrame:
    """The current claim_state (docs/data-contract.md columns, by claim_id) of one portfolio or all."""
    columns = ", ".join(f"s.{c}" for c in STATE_SCHEMA)
    query = (
        f"SELECT {columns} FROM claim_state s JOIN portfolios p "
        "ON p.portfolio_id = s.portfolio_id AND p.current_run_id = s.run_id"
    )
    params = None
    if portfolio:
        query += " WHERE p.portfolio_id = :portfolio"
        params = {"portfolio": portfolio}
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            frame = read_frame(conn, query, STATE_SCHEMA, params)
    else:
        frame = read_frame(engine_or_conn, query, STATE_SCHEMA, params)
    return frame.sort("claim_id")
