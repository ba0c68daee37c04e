"""Engine runs from the store: read claims and events, compute claim_state, replace the stored
state atomically, and keep a record of every run.

A run writes its claim_state rows beside the current ones and, in the same transaction, points
its portfolios at them and marks itself succeeded. Until that commit readers see the previous
state; an error rolls the rows back and marks the run failed; a killed process leaves its run
``running``, and the next run (or ``recover``), holding the run lock, marks it failed and clears
what it left. Superseded rows are deleted after the switch.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from engine.domain import RunStatus
from engine.schema import CLAIM_STATE, CLAIMS, EVENTS, engine_columns
from engine.state import Progress, StateTotals, compute_state, provenance
from engine.store.bulk import OnBatch, in_id_order, is_postgres, read_frame, read_snapshot, write_frame
from engine.store.database import StoreError
from engine.store.models import EngineRun, Portfolio
from engine.store.records import AuditAction, audit, claims_query, events_query
from engine.waterfall import WaterfallSetting

if TYPE_CHECKING:
    from engine.executors import Executor

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
    provenance: dict | None  # engine.provenance of the state, plus the count of suspended claims


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
        return _recover(engine)


def _recover(engine: sa.Engine) -> list[int]:
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
        _drop_superseded(conn)
    return dead


SUPERSEDED = (
    "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM portfolios p "
    "WHERE p.portfolio_id = {table}.portfolio_id AND p.current_run_id = {table}.run_id)"
)


def _partition(run_id: int) -> str:
    return f"claim_state_run_{int(run_id)}"


def _drop_superseded(conn: sa.Connection) -> None:
    """Remove claim_state rows no portfolio points at: on PostgreSQL drop a run's partition once no
    portfolio uses it (and delete the rows of portfolios that moved on from a shared one)."""
    if not is_postgres(conn):
        conn.exec_driver_sql(SUPERSEDED.format(table="claim_state"))
        return
    # a run's table is filled (and committed) before it is attached: one never attached belongs
    # to a run that failed or died (the caller holds the run lock, so no live run is filling it)
    for name in conn.exec_driver_sql(
        "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' "
        "AND NOT relispartition AND relname ~ '^claim_state_run_[0-9]+$'"
    ).scalars():
        conn.exec_driver_sql(f"DROP TABLE {name}")
    partitions = (
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'claim_state'::regclass"
        )
        .scalars()
        .all()
    )
    current = set(conn.execute(sa.select(Portfolio.__table__.c.current_run_id).distinct()).scalars())
    for name in partitions:
        run_id = int(name.rsplit("_", 1)[1])
        if run_id not in current:
            conn.exec_driver_sql(f"DROP TABLE {name}")
        elif current - {None} != {run_id}:  # else every portfolio with a state points at it: nothing to delete
            conn.exec_driver_sql(SUPERSEDED.format(table=name))


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


def state_digest(table: pa.Table) -> str:
    """sha256 of claim_state's values (not of the metadata, which holds timings), the same for
    equal tables however they are laid out in memory: per column the null mask and the values
    with nulls as 0 (raw Arrow buffers differ for equal values: chunking, a validity bitmap or
    none, whatever lies under a null, padding bits)."""
    import pyarrow.compute as pc

    digest = hashlib.sha256()
    for field in CLAIM_STATE:
        column = table.column(field.name).combine_chunks()
        physical = (
            pa.int32()
            if pa.types.is_date32(field.type)
            else pa.int8()
            if pa.types.is_boolean(field.type)
            else field.type
        )
        values = column.cast(physical)
        nulls = values.is_null()
        digest.update(field.name.encode() + b"\0")
        digest.update(np.packbits(nulls.to_numpy(zero_copy_only=False)).tobytes())
        digest.update(pc.fill_null(values, 0).to_numpy(zero_copy_only=False).tobytes())
    return digest.hexdigest()


def run(
    engine: sa.Engine,
    as_of: date,
    *,
    portfolio: str | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    who: str | None = None,
    on_progress: Progress | None = None,
    on_batch: OnBatch | None = None,
    on_stage: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    partitions: int | None = None,
) -> RunRecord:
    """Compute claim_state as of ``as_of`` for one portfolio (or all) and make it the stored state.

    ``executor``: None reads the store here and computes in this process; an executor
    (engine.executors, e.g. Ray) has each partition of claims read and computed by its workers.
    On success the run is ``succeeded`` and its state is what `read_state` returns; on any error
    the previous state stays and the run is ``failed`` with the error; the error is raised."""
    stage = on_stage or (lambda _s: None)
    runs = EngineRun.__table__
    with run_lock(engine):
        _recover(engine)
        with engine.begin() as conn:
            known = sa.select(Portfolio.__table__.c.portfolio_id).where(Portfolio.__table__.c.portfolio_id == portfolio)
            if portfolio is not None and conn.execute(known).first() is None:
                raise StoreError(f"portfolio {portfolio!r} is not in the store (`cession load` it first)")
            run_id = conn.execute(
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
        log.info(
            "run %d started as of %s for %s", run_id, as_of, portfolio or "every portfolio", extra={"run_id": run_id}
        )
        started = time.perf_counter()
        try:
            record = _run(
                engine,
                run_id,
                as_of,
                portfolio,
                waterfall,
                allow_stale_rates,
                who,
                on_progress,
                on_batch,
                stage,
                started,
                executor,
                partitions,
            )
        except BaseException as error:
            with engine.begin() as conn:
                conn.execute(
                    runs.update()
                    .where(runs.c.run_id == run_id)
                    .values(
                        status=RunStatus.FAILED,
                        error=f"{type(error).__name__}: {error}"[:4000],
                        finished_at=datetime.now(UTC),
                        seconds=round(time.perf_counter() - started, 3),
                    )
                )
                audit(conn, AuditAction.RUN_FAILED, str(run_id), {"error": str(error)[:1000]}, who)
            log.warning("run %d failed: %s: %s", run_id, type(error).__name__, error, extra={"run_id": run_id})
            raise
        with engine.begin() as conn:
            _drop_superseded(conn)
        return record


def _run(
    engine,
    run_id,
    as_of,
    portfolio,
    waterfall,
    allow_stale_rates,
    who,
    on_progress,
    on_batch,
    stage,
    started,
    executor=None,
    partitions=None,
):
    runs = EngineRun.__table__
    if executor is None:
        stage("reading claims and events")
        # only the columns the engine reads (the store checked the others when they were loaded)
        read = read_snapshot(
            engine,
            {
                "claims": claims_query(portfolio, engine_columns(CLAIMS, "claims")),
                "events": events_query(portfolio, engine_columns(EVENTS, "events")),
            },
        )
        # rows come in storage order, which is nearly id order (PostgreSQL's COPY leaves a few rows
        # on earlier pages with room); in id order the engine proves ids unique in one linear pass
        # instead of hashing them, and finds loaded files' events already in its order (it sorts
        # only when they are not, e.g. events posted later)
        claims, events = in_id_order(read["claims"], "claim_id"), in_id_order(read["events"], "event_id")
        stage(f"computing claim_state for {claims.height:,} claims, {events.height:,} events")
        state = compute_state(
            claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, on_progress=on_progress
        )
        covered, n_events = claims.select("claim_id", "portfolio_id").sort("claim_id"), events.height
    else:
        from engine.executors import store_state

        stage(f"computing claim_state on the {executor.name} executor")
        state, covered = store_state(
            executor,
            engine,
            as_of,
            portfolio,
            partitions=partitions,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
            on_done=on_progress,
        )
        n_events = provenance(state)["events"]
    digest = state_digest(state)
    frame = pl.from_arrow(state)
    rows = frame.with_columns(run_id=pl.lit(run_id, pl.Int64), portfolio_id=covered.get_column("portfolio_id"))
    summed = StateTotals.of_table(state)
    totals, time_barred = summed.money, summed.time_barred
    portfolios = [portfolio] if portfolio else covered.get_column("portfolio_id").unique().sort().to_list()
    stage(f"storing claim_state ({frame.height:,} rows)")
    with engine.begin() as conn:
        _write_state(conn, run_id, rows, on_batch)
        if portfolio is None:  # every portfolio, also one without claims, now has this run's state
            conn.execute(sa.update(Portfolio.__table__).values(current_run_id=run_id))
        else:
            conn.execute(
                sa.update(Portfolio.__table__)
                .where(Portfolio.__table__.c.portfolio_id.in_(portfolios))
                .values(current_run_id=run_id)
            )
        meta = dict(provenance(state), suspended=int(frame.get_column("limitation_date").null_count()))
        seconds = round(time.perf_counter() - started, 3)
        conn.execute(
            runs.update()
            .where(runs.c.run_id == run_id)
            .values(
                status=RunStatus.SUCCEEDED,
                finished_at=datetime.now(UTC),
                seconds=seconds,
                claims=covered.height,
                events=n_events,
                time_barred=time_barred,
                totals=totals,
                rules=meta.get("rules"),
                provenance=meta,
                state_sha256=digest,
            )
        )
        audit(
            conn,
            AuditAction.RUN,
            str(run_id),
            {"as_of": as_of.isoformat(), "portfolio": portfolio, "claims": covered.height},
            who,
        )
    log.info(
        "run %d succeeded: %d claims, %d events in %.1f s, state sha256 %s",
        run_id,
        covered.height,
        n_events,
        seconds,
        digest[:16],
        extra={"run_id": run_id},
    )
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
