"""Allocation's tables in the store: agencies, strategies, allocation runs and placements (the
models are engine/store/models.py's; migration 0006).

Reads of the book go through ``engine.store.bulk.read_snapshot`` (on PostgreSQL several COPYs at
once in one snapshot). A day's allocation is written in one transaction (``write_allocation``):
its strategy (by content hash, a new version when new), the recalls, the new placements and the
run's row; an error or a kill leaves the placements as they were. At most one placement of a
claim is open: the recalls are applied before the new rows go in, and a partial unique index
refuses a second open one whatever the code does.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import sqlalchemy as sa

from allocation.decide import AGENCY_SCHEMA, OPEN_SCHEMA, RECALLED_SCHEMA, Allocation
from allocation.errors import AgencyError, PlacementError
from allocation.features import DEBTOR_SCHEMA, PAID_SCHEMA, PAYMENT_SCHEMA, PLAN_STATUS_SCHEMA, Inputs, rows_of, spread
from allocation.strategy import Strategy
from engine.domain import PAYMENTS_HORIZON_DAYS, AgencyChange
from engine.store import changes, copies
from engine.store.bulk import is_postgres, read_frame, snapshot_reads, write_frame
from engine.store.database import StoreError
from engine.store.models import Agency, AllocationRun, EngineRun, Placement, Portfolio
from engine.store.models import Strategy as StrategyRow
from engine.store.records import AuditAction, audit

#: pg_advisory_xact_lock key of allocations ("cess_al"): one allocation writes at a time
ALLOCATION_LOCK_KEY = 0x636573735F616C

#: the state's day is read from its run's row (one value, not one a claim)
STATE_SCHEMA = {
    "claim_id": pl.Int64,
    "total_due": pl.Int64,
    "principal_due": pl.Int64,
    "days_past_due": pl.Int32,
    "limitation_date": pl.Date,
    "time_barred": pl.Boolean,
}
#: a few distinct values each: categorical (4 bytes a row, not a string's 16)
CLAIM_SCHEMA = {
    "claim_id": pl.Int64,
    "portfolio_id": pl.Categorical,
    "debtor_id": pl.Int64,
    "debtor_kind": pl.Categorical,
    "due_date": pl.Date,
    "title_date": pl.Date,
}
#: flags are read as JSON text (ADBC hands PostgreSQL's jsonb over as an Arrow extension type) and decoded here
DEBTOR_READ = {
    "debtor_id": pl.Int64,
    "national_id": pl.String,
    "postal_code": pl.String,
    "flags": pl.String,
}
PLAN_READ = {"claim_id": pl.Int64, "plan_id": pl.Int64, "signed_on": pl.Date, "status": pl.String}
PLACEMENT_SCHEMA = {
    "placement_id": pl.Int64,
    "claim_id": pl.Int64,
    "agency_id": pl.String,
    "queue": pl.String,
    "placed_on": pl.Date,
    "recalled_on": pl.Date,
    "recall_reason": pl.String,
    "strategy_hash": pl.String,
    "strategy_version": pl.Int32,
    "rule": pl.String,
    "allocation_run_id": pl.Int64,
    "priority": pl.Int64,
    "balance": pl.Int64,
    "days_past_due": pl.Int32,
}


def _where_portfolio(portfolio: str | None, alias: str) -> tuple[str, dict | None]:
    if portfolio is None:
        return "", None
    return f" AND {alias}.portfolio_id = :portfolio", {"portfolio": portfolio}


def read_inputs(
    engine: sa.Engine,
    as_of: date,
    portfolio: str | None = None,
    *,
    placed_since: date | None = None,
    every_payment: bool = False,
    keep_copies: bool = False,
) -> Inputs:
    """The current claim_state (it must be as of ``as_of``), the claims, their debtors and the
    payments not reversed, read as of one moment.

    The payments: when every current run kept its claims' payments (``claim_payments``, migration
    0019) and not ``every_payment``, those per-claim facts (``Inputs.paid``) and the payments only
    of the claims with a placement open on or after ``placed_since`` (what placements brought;
    none without it); else every payment (``Inputs.payments`` complete).

    The state, the claims and the debtors are read from their column copies where the store has
    them for what this snapshot sees (engine/store/copies.py: the runs' own, and claims' and
    debtors' of their current version), else from the tables; with ``keep_copies``, claims and
    debtors read whole from their tables are then kept as copies for the next reader."""
    where, params = _where_portfolio(portfolio, "s")
    kept = not every_payment and _runs_kept_payments(engine, portfolio)
    state_sql = (
        f"SELECT {', '.join(f's.{c}' for c in STATE_SCHEMA)}{', s.run_id' if kept else ''} "
        "FROM claim_state s "
        "JOIN portfolios p ON p.portfolio_id = s.portfolio_id AND p.current_run_id = s.run_id WHERE 1 = 1" + where
    )
    where_c, _ = _where_portfolio(portfolio, "c")
    claims_sql = f"SELECT {', '.join(f'c.{c}' for c in CLAIM_SCHEMA)} FROM claims c WHERE 1 = 1" + where_c
    debtors_sql = "SELECT d.debtor_id, d.national_id, d.postal_code, CAST(d.flags AS TEXT) AS flags FROM debtors d"
    if portfolio:  # every debtor otherwise: a semi-join costs more than the rows it saves
        debtors_sql += " WHERE d.debtor_id IN (SELECT c.debtor_id FROM claims c WHERE 1 = 1" + where_c + ")"
    payments_sql = (
        "SELECT e.claim_id, e.event_date, e.amount, e.source FROM events e "
        + ("JOIN claims c ON c.claim_id = e.claim_id " if portfolio else "")
        + "WHERE e.kind = 'payment' AND e.event_date <= :as_of"
        + where_c
        # each payment's reversal looked up by its index (a NOT IN hashes every reversal of the book)
        + " AND NOT EXISTS (SELECT 1 FROM events r WHERE r.reverses = e.event_id AND r.kind = 'reversal')"
    )
    with_day = (params or {}) | {"as_of": as_of}
    days_sql = (
        "SELECT DISTINCT r.as_of FROM engine_runs r JOIN portfolios p ON p.current_run_id = r.run_id WHERE 1 = 1"
        + _where_portfolio(portfolio, "p")[0]
    )
    reads = {
        "days": (days_sql, {"as_of": pl.Date}, params),
        "state": (
            state_sql,
            STATE_SCHEMA | ({"run_id": pl.Int64} if kept else {}),
            params,
        ),
        "claims": (claims_sql, CLAIM_SCHEMA, params),
        "debtors": (debtors_sql, DEBTOR_READ, params),
    }
    if kept:
        # the payments of placed claims only (a placement open on or after placed_since)
        if placed_since is None:
            payments_sql += " AND 1 = 0"
        else:
            placed = "SELECT DISTINCT pl.claim_id FROM placements pl WHERE pl.recalled_on IS NULL OR pl.recalled_on >= :placed_since"
            # PostgreSQL: the placed claims as one array, their events found by the (claim_id,
            # event_date) index in its order; as a join the planner scanned all of events (10M
            # claims, 314k placed: 22-29 s against 5.7 s)
            payments_sql += (
                f" AND e.claim_id = ANY(ARRAY({placed}))" if is_postgres(engine) else f" AND e.claim_id IN ({placed})"
            )
            with_day["placed_since"] = placed_since
        reads["paid"] = paid_query(portfolio, params, with_run=True, packed=is_postgres(engine))
    reads["payments"] = (payments_sql, PAYMENT_SCHEMA, with_day)
    plans_sql = "SELECT p.claim_id, p.plan_id, p.signed_on, p.status FROM payment_plans p WHERE 1 = 1" + (
        " AND p.claim_id IN (SELECT c.claim_id FROM claims c WHERE 1 = 1" + where_c + ")" if portfolio else ""
    )
    reads["plans"] = (plans_sql, PLAN_READ, params)
    with snapshot_reads(engine) as read:
        first = read(_first_reads(portfolio, copies.enabled()))
        runs: dict[int, list[str]] = {}
        for portfolio_id, run_id in first["current"].iter_rows():
            runs.setdefault(run_id, []).append(portfolio_id)
        if kept and len(runs) == 1:  # every row of the one current run is a current claim's: no run_id to read
            reads["paid"] = paid_query(portfolio, params, with_run=False, packed=is_postgres(engine))
        copied = _from_copies(first, runs, reads, portfolio) if copies.enabled() else _Copied(portfolio, {}, {})
        # beside the tables' reads and what is made of them: the payments' facts (the longest
        # read, ~5 s at 10M claims), and the column copies read and decoded (~1.5 s, then ~1 s)
        paid_read = {"paid": reads.pop("paid")} if "paid" in reads else {}
        copy_reads = {name: reads.pop(name) for name in [n for n in reads if n.startswith("copy_")]}
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="beside") as pool:
            reading = _beside(pool, engine, read, paid_read)
            decoding = _beside(pool, engine, read, copy_reads, copied.frames)
            frames = read(reads)
            frames |= decoding.result()
            state, runs_of_state = _checked_state(frames["state"], frames["days"], as_of)
            debtors = frames["debtors"].with_columns(flags_decoded(frames["debtors"]["flags"]))
            inputs = Inputs(
                as_of,
                state,
                frames["claims"],
                debtors.select(list(DEBTOR_SCHEMA)),
                frames["payments"],
                plan_statuses(frames["plans"]),
            )
            inputs.joined()
            paid = reading.result().get("paid")
    if keep_copies:
        copied.keep(engine, frames)
    if paid is not None:
        if "counts" in paid.columns:
            paid = paid_unpacked(paid)
        # a claim's row of its state's run (a portfolio that moved on from a shared run leaves rows behind)
        if "run_id" in paid.columns:
            of_state = runs_of_state.gather(rows_of(paid["claim_id"], state["claim_id"]))
            paid = paid.filter(of_state == paid["run_id"]).drop("run_id")
        inputs = inputs.with_paid(paid)
    return inputs.joined_only()


#: the payments' facts as PostgreSQL sends them (``paid_query(packed=True)``): the two counts in
#: one bigint, the two days in another. Each value read costs the server and the client about as
#: much as a row: 7.4M rows of 10M claims read alone in 2.6 s instead of 3.5 s (BENCHMARKS.md)
PAID_PACKED = {"claim_id": pl.Int64, "counts": pl.Int64, "days": pl.Int64, "paid_since": pl.Int64}
#: days since 1970-01-01, polars' Date
_EPOCH = "DATE '1970-01-01'"


def paid_query(portfolio: str | None, params: dict | None, *, with_run: bool, packed: bool) -> tuple:
    """The read (query, schema, params) of the current runs' ``claim_payments``; ``with_run``: with
    each row's run_id; ``packed`` (PostgreSQL): as ``PAID_PACKED``, for ``paid_unpacked``."""
    runs = (
        "cp.run_id IN (SELECT p.current_run_id FROM portfolios p WHERE p.current_run_id IS NOT NULL"
        + _where_portfolio(portfolio, "p")[0]
        + ")"
    )
    run = {"run_id": pl.Int64} if with_run else {}
    if not packed:
        schema = run | PAID_SCHEMA
        return f"SELECT {', '.join(f'cp.{c}' for c in schema)} FROM claim_payments cp WHERE {runs}", schema, params
    # last_paid_before is null exactly where payments_before is 0 (PAYMENTS_SQL: both count the
    # payments up to the earlier day), so a 0 stands for it there
    columns = [
        *(["cp.run_id"] if with_run else []),
        "cp.claim_id",
        "(cp.payments::bigint << 32) | cp.payments_before::bigint AS counts",
        f"((cp.last_paid - {_EPOCH})::bigint << 32) "
        f"| (COALESCE(cp.last_paid_before - {_EPOCH}, 0)::bigint & 4294967295) AS days",
        "cp.paid_since",
    ]
    return f"SELECT {', '.join(columns)} FROM claim_payments cp WHERE {runs}", run | PAID_PACKED, params


def paid_unpacked(packed: pl.DataFrame) -> pl.DataFrame:
    """``PAID_PACKED`` rows (with run_id, if read) as ``PAID_SCHEMA``'s."""
    counts, days = packed["counts"].to_numpy(), packed["days"].to_numpy()
    before = (counts & 0xFFFFFFFF).astype(np.int32)
    last_before = pl.Series((days & 0xFFFFFFFF).astype(np.uint32).view(np.int32)).cast(pl.Date)
    return packed.select(
        *(["run_id"] if "run_id" in packed.columns else []),
        "claim_id",
        pl.Series("payments", (counts >> 32).astype(np.int32)),
        pl.Series("last_paid", (days >> 32).astype(np.int32)).cast(pl.Date),
        pl.Series("payments_before", before),
        pl.when(pl.Series(before) > 0).then(last_before).alias("last_paid_before"),
        "paid_since",
    )


def flags_decoded(flags: pl.Series) -> pl.Series:
    """The debtors' flags read as JSON text, as lists (``[]`` for none, and for null): only the
    few debtors with a flag are decoded (at 8.8M debtors, 245k)."""
    flagged = flags.is_not_null() & (flags != "[]")
    decoded = flags.gather(flagged.arg_true()).str.json_decode(pl.List(pl.String))
    return spread(decoded, flagged).fill_null(pl.lit([], dtype=pl.List(pl.String))).rename(flags.name)


def _checked_state(state: pl.DataFrame, days: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, pl.Series | None]:
    """The state read (by claim_id) and the run of each row (None: not read), once it is found to
    be as of ``as_of``."""
    if state.height == 0:
        raise StoreError("no stored claim_state: run `cession run --as-of DAY` first")
    found = days["as_of"].sort().to_list()
    if found != [as_of]:
        raise StoreError(
            f"the stored claim_state is as of {', '.join(map(str, found))}, not {as_of}: run "
            f"`cession run --as-of {as_of}` first (allocation decides on the state of its day)"
        )
    if not state["claim_id"].is_sorted():  # by claim_id, whatever order the database gave
        state = state.sort("claim_id")
    if "run_id" not in state.columns:
        return state, None
    return state.drop("run_id"), state["run_id"]


def _beside(pool: ThreadPoolExecutor, engine: sa.Engine, read, queries: dict, then=None) -> Future:
    """``queries`` read (and ``then`` made of the frames) beside the caller's other work: on
    ``pool``'s thread on PostgreSQL, where each read has a connection of its own; at once on
    SQLite, whose reads share the one connection of the read transaction."""

    def work() -> dict:
        frames = read(queries) if queries else {}
        return then(frames) if then is not None else frames

    if is_postgres(engine) and queries:
        return pool.submit(work)
    done: Future = Future()
    done.set_result(work())
    return done


class _Copied:
    """Which of read_inputs' reads come from column copies (``_from_copies``)."""

    def __init__(self, portfolio: str | None, runs: dict[int, list[str]], versions: dict[str, int]) -> None:
        self.portfolio, self.runs, self.versions = portfolio, runs, versions
        self.state = False  # the state from its runs' copies
        self.with_run = False  # the state's rows with their run_id
        self.tables: dict[str, dict] = {}  # claims, debtors: read from a copy (schema of each)
        self.missing: dict[str, dict] = {}  # claims, debtors: read from the table, worth keeping as copies

    def frames(self, read: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """The frames read from copies, as the table reads would give them."""
        found = {}
        if self.state:
            parts = []
            for run_id, frame in copies.frames(read.pop("copy_state"), list(copies.STATE_COLUMNS)).items():
                theirs = frame["portfolio_id"].unique().cast(pl.String)
                if not theirs.is_in(self.runs[run_id]).all():  # some moved on from this run: not their rows
                    frame = frame.filter(pl.col("portfolio_id").cast(pl.String).is_in(self.runs[run_id]))
                frame = frame.select(pl.col(c).cast(t) for c, t in STATE_SCHEMA.items())
                parts.append(frame.with_columns(run_id=pl.lit(run_id, pl.Int64)) if self.with_run else frame)
            found["state"] = pl.concat(parts)
        for name, schema in self.tables.items():
            (frame,) = copies.frames(read.pop(f"copy_{name}"), list(schema)).values()
            frame = frame.select(pl.col(c).cast(t) for c, t in schema.items())
            if name == "claims" and self.portfolio is not None:
                frame = frame.filter(pl.col("portfolio_id").cast(pl.String) == self.portfolio)
            found[name] = frame
        return found

    def keep(self, engine: sa.Engine, frames: dict[str, pl.DataFrame]) -> None:
        """The claims and debtors read whole from their tables kept as the copies of their version."""
        for name in self.missing:
            copies.keep(engine, name, self.versions[name], frames[name])


def _first_reads(portfolio: str | None, with_copies: bool) -> dict:
    """The small reads that decide read_inputs' large ones, in the same snapshot: the current run
    of each portfolio (of ``portfolio``) and, ``with_copies``, the column copies and the versions."""
    where = " AND p.portfolio_id = :portfolio" if portfolio else ""
    params = {"portfolio": portfolio} if portfolio else None
    found = {
        "current": (
            f"SELECT p.portfolio_id, p.current_run_id FROM portfolios p WHERE p.current_run_id IS NOT NULL{where}",
            {"portfolio_id": pl.String, "current_run_id": pl.Int64},
            params,
        )
    }
    if with_copies:
        found["copies"] = (
            "SELECT source, version, column_name FROM column_copies",
            {"source": pl.String, "version": pl.Int64, "column_name": pl.String},
            None,
        )
        found["versions"] = (copies.VERSIONS_SQL, {"table_name": pl.String, "version": pl.Int64}, None)
    return found


def _from_copies(first: dict, runs: dict[int, list[str]], reads: dict, portfolio: str | None) -> _Copied:
    """``reads`` (read_inputs') changed to read the state, the claims and the debtors from their
    column copies where the snapshot has them (``first``: ``_first_reads``' frames; ``runs``: the
    current runs' portfolios), with what ``_Copied.frames`` needs to make the same frames of them."""
    have: dict[tuple[str, int], set[str]] = {}
    for source, version, column in first["copies"].iter_rows():
        have.setdefault((source, version), set()).add(column)
    copied = _Copied(portfolio, runs, dict(first["versions"].iter_rows()))
    state_columns = list(copies.STATE_COLUMNS)
    if runs and all(set(state_columns) <= have.get(("claim_state", r), set()) for r in runs):
        copied.state = True
        copied.with_run = "run_id" in reads.pop("state")[1]
        reads["copy_state"] = (copies.read_query("claim_state", list(runs), state_columns), copies.READ_SCHEMA, None)
    for name, schema in (("claims", CLAIM_SCHEMA), ("debtors", DEBTOR_READ)):
        version = copied.versions.get(name)
        if version is None:
            continue
        if set(schema) <= have.get((name, version), set()):
            copied.tables[name] = schema
            reads.pop(name)
            reads[f"copy_{name}"] = (copies.read_query(name, [version], list(schema)), copies.READ_SCHEMA, None)
        elif portfolio is None:
            copied.missing[name] = schema
    return copied


def _runs_kept_payments(engine: sa.Engine, portfolio: str | None) -> bool:
    """Whether every current run (of ``portfolio``, or of every portfolio) kept its claims'
    payments over the horizon allocation learns on."""
    runs, portfolios = EngineRun.__table__, Portfolio.__table__
    query = (
        sa.select(runs.c.payments_horizon_days)
        .distinct()
        .join(portfolios, portfolios.c.current_run_id == runs.c.run_id)
    )
    if portfolio is not None:
        query = query.where(portfolios.c.portfolio_id == portfolio)
    with engine.connect() as conn:
        horizons = set(conn.execute(query).scalars())
    return horizons == {PAYMENTS_HORIZON_DAYS}


def plan_statuses(plans: pl.DataFrame) -> pl.DataFrame:
    """Each claim's plan status (PLAN_STATUS_SCHEMA): its active plan's, else its latest plan's (by
    the day signed, then the plan's id), from the stored plans (PLAN_READ)."""
    return (
        plans.sort(pl.col("status") == "active", "signed_on", "plan_id")
        .group_by("claim_id")
        .agg(plan_status=pl.col("status").last())
        .select(list(PLAN_STATUS_SCHEMA))
    )


# --- agencies ------------------------------------------------------------------------------------


def agencies(engine_or_conn, active_only: bool = False) -> pl.DataFrame:
    """Every agency (AGENCY_SCHEMA plus name, commission_bp, commission_tiers), by id."""
    schema = AGENCY_SCHEMA | {
        "name": pl.String,
        "commission_bp": pl.Int64,
        "commission_tiers": pl.List(pl.List(pl.Int64)),
    }
    query = (
        f"SELECT {', '.join(schema)} FROM agencies" + (" WHERE active" if active_only else "") + " ORDER BY agency_id"
    )
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            frame = read_frame(conn, query, schema)
    else:
        frame = read_frame(engine_or_conn, query, schema)
    return frame.with_columns(pl.col("regions", "debtor_kinds").fill_null(pl.lit([], dtype=pl.List(pl.String))))


AGENCY_FIELDS = (
    "name",
    "capacity",
    "capacity_balance",
    "regions",
    "debtor_kinds",
    "balance_min",
    "balance_max",
    "commission_bp",
    "commission_tiers",
    "term_days",
    "active",
)


def add_agency(engine: sa.Engine, agency_id: str, values: dict, *, replace: bool = False) -> bool:
    """Store an agency; an existing id is refused, or changed with ``replace``. True: it was new."""
    table = Agency.__table__
    with engine.begin() as conn:
        exists = conn.execute(sa.select(table.c.agency_id).where(table.c.agency_id == agency_id)).first() is not None
        if exists and not replace:
            raise AgencyError(f"agency {agency_id!r} is already stored (`cession agencies update` changes it)")
        if exists:
            conn.execute(
                sa.update(table).where(table.c.agency_id == agency_id).values(**values, updated_at=datetime.now(UTC))
            )
        else:
            conn.execute(
                sa.insert(table).values(
                    agency_id=agency_id,
                    created_at=datetime.now(UTC),
                    **{"regions": [], "debtor_kinds": [], "active": True} | values,
                )
            )
        audit(conn, AuditAction.AGENCY, agency_id, {"replaced" if exists else "added": _jsonable(values)})
    return not exists


def update_agency(engine: sa.Engine, agency_id: str, values: dict) -> None:
    table = Agency.__table__
    with engine.begin() as conn:
        done = conn.execute(
            sa.update(table).where(table.c.agency_id == agency_id).values(**values, updated_at=datetime.now(UTC))
        )
        if done.rowcount == 0:
            raise AgencyError(f"agency {agency_id!r} is not stored (`cession agencies list` lists them)")
        audit(conn, AuditAction.AGENCY, agency_id, {"updated": _jsonable(values)})


def _jsonable(values: dict) -> dict:
    return {k: (v if isinstance(v, int | str | bool | list | None) else str(v)) for k, v in values.items()}


# --- placements ----------------------------------------------------------------------------------


def placements(
    engine_or_conn, *, open_only: bool = False, agency: str | None = None, since: date | None = None
) -> pl.DataFrame:
    """Placements (PLACEMENT_SCHEMA): the open ones, of one agency, or those open on or after ``since``."""
    conditions, params = [], {}
    if open_only:
        conditions.append("recalled_on IS NULL")
    if agency is not None:
        conditions.append("agency_id = :agency")
        params["agency"] = agency
    if since is not None:
        conditions.append("(recalled_on IS NULL OR recalled_on >= :since)")
        params["since"] = since
    query = f"SELECT {', '.join(PLACEMENT_SCHEMA)} FROM placements" + (
        f" WHERE {' AND '.join(conditions)}" if conditions else ""
    )
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            return read_frame(conn, query, PLACEMENT_SCHEMA, params).sort("placement_id")
    return read_frame(engine_or_conn, query, PLACEMENT_SCHEMA, params).sort("placement_id")


def placements_since(day: date, no_replacement_days: int, performance_days: int) -> date:
    """The first day of the placements an allocation of ``day`` reads (open ones, and those recalled
    within the no-replacement period or the performance window)."""
    return day - timedelta(days=max(no_replacement_days, performance_days))


def book_placements(engine: sa.Engine, day: date, no_replacement_days: int, performance_days: int):
    """(open placements, recalls within the no-replacement period, placements of the performance
    window) as of ``day``."""
    since = placements_since(day, no_replacement_days, performance_days)
    recent = placements(engine, since=since)
    open_ = recent.filter(pl.col("recalled_on").is_null()).select(list(OPEN_SCHEMA))
    cutoff = day - timedelta(days=no_replacement_days)
    recalled = recent.filter(pl.col("recalled_on").is_not_null() & (pl.col("recalled_on") > cutoff)).select(
        list(RECALLED_SCHEMA)
    )
    return open_, recalled, recent


def _stored_strategy(conn: sa.Connection, strategy: Strategy) -> int:
    """The strategy's version: stored already (same hash), or stored now as the next version."""
    table = StrategyRow.__table__
    found = conn.execute(sa.select(table.c.version).where(table.c.strategy_hash == strategy.sha256)).scalar()
    if found is not None:
        return found
    latest = conn.execute(sa.select(sa.func.max(table.c.version))).scalar() or 0
    conn.execute(
        sa.insert(table).values(
            strategy_hash=strategy.sha256,
            version=latest + 1,
            name=strategy.name,
            text=strategy.stored_text(),
            loaded_at=datetime.now(UTC),
        )
    )
    return latest + 1


def strategy_versions(engine_or_conn) -> dict[str, int]:
    table = StrategyRow.__table__
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            return dict(conn.execute(sa.select(table.c.strategy_hash, table.c.version)).all())
    return dict(engine_or_conn.execute(sa.select(table.c.strategy_hash, table.c.version)).all())


def _lock(conn: sa.Connection) -> None:
    if is_postgres(conn):
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ALLOCATION_LOCK_KEY})")


def _recall(conn: sa.Connection, recalls: pl.DataFrame, day: date) -> int:
    """Close the placements of ``recalls`` (placement_id, recall_reason) on ``day``."""
    if recalls.height == 0:
        return 0
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE recall_stage (placement_id BIGINT PRIMARY KEY, recall_reason VARCHAR(200))"
    )
    try:
        write_frame(conn, "recall_stage", recalls.select("placement_id", "recall_reason"))
        done = conn.execute(
            sa.text(
                "UPDATE placements SET recalled_on = :day, recall_reason = (SELECT s.recall_reason FROM recall_stage s "
                "WHERE s.placement_id = placements.placement_id) WHERE recalled_on IS NULL AND placement_id IN "
                "(SELECT placement_id FROM recall_stage)"
            ),
            {"day": day},
        ).rowcount
        changes.recalled_staged(conn, day)
    finally:
        conn.exec_driver_sql("DROP TABLE recall_stage")
    return done


def write_allocation(engine: sa.Engine, allocation: Allocation, seconds: float, summary: dict | None = None) -> int:
    """The allocation's recalls, placements, strategy and run row, in one transaction; the run's id.
    ``summary``: ``summarise(allocation)`` if the caller has it already."""
    started = time.perf_counter()
    strategy = allocation.strategy
    with engine.begin() as conn:
        _lock(conn)
        versions = {strategy.sha256: _stored_strategy(conn, strategy)}
        if strategy.challenger is not None:
            versions[strategy.challenger.sha256] = _stored_strategy(conn, strategy.challenger)
        recalled = _recall(conn, allocation.recalls, allocation.day)
        if recalled != allocation.recalls.height:
            raise StoreError(
                "the open placements changed while this allocation ran (another allocate or recall?): "
                "nothing was written; run it again"
            )
        summary = summary if summary is not None else summarise(allocation)
        run_id = conn.execute(
            sa.insert(AllocationRun.__table__)
            .values(
                as_of=allocation.day,
                strategy_hash=strategy.sha256,
                started_at=datetime.now(UTC),
                seconds=None,
                claims=allocation.decisions.height,
                placed=allocation.placements.height,
                recalled=recalled,
                summary=summary,
            )
            .returning(AllocationRun.__table__.c.allocation_run_id)
        ).scalar_one()
        rows = allocation.placements.select(
            "claim_id",
            "agency_id",
            "queue",
            "placed_on",
            pl.col("strategy").alias("strategy_hash"),
            pl.col("strategy").replace_strict(versions, return_dtype=pl.Int32).alias("strategy_version"),
            "rule",
            pl.lit(run_id, dtype=pl.Int64).alias("allocation_run_id"),
            "priority",
            "balance",
            "days_past_due",
        )
        if rows.height:
            ids = _placement_ids(conn, rows.height)
            if ids is not None:
                rows = rows.select(pl.Series("placement_id", ids), pl.all())
            try:
                with conn.begin_nested():
                    write_frame(conn, "placements", rows)
            except _integrity_errors():
                raise StoreError(
                    "a claim got an open placement while this allocation ran (another allocate?): "
                    "nothing was written; run it again"
                ) from None
            if ids is not None:
                changes.placed(conn, rows)
            else:
                changes.placed_by_run(conn, run_id)
        conn.execute(
            sa.update(AllocationRun.__table__)
            .where(AllocationRun.__table__.c.allocation_run_id == run_id)
            .values(seconds=round(seconds + time.perf_counter() - started, 3))
        )
        audit(
            conn,
            AuditAction.ALLOCATE,
            str(run_id),
            {
                "as_of": allocation.day.isoformat(),
                "strategy": strategy.sha256,
                "placed": rows.height,
                "recalled": recalled,
            },
        )
    return run_id


def _placement_ids(conn: sa.Connection, n: int) -> np.ndarray | None:
    """PostgreSQL: ``n`` new placement ids from the table's sequence, increasing, so that the
    placements' changes are written from the frame instead of read back (a scan of every placement
    ever made, then a sort). SQLite: None (its ids come with the rows)."""
    if not is_postgres(conn):
        return None
    cursor = conn.connection.driver_connection.cursor(binary=True)
    # the sequence's name looked up once (in the list below it was looked up for each id: ~1 s at 314k)
    (sequence,) = cursor.execute("SELECT pg_get_serial_sequence('placements', 'placement_id')").fetchone()
    cursor.execute(
        "SELECT array_agg(v ORDER BY v) FROM (SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) ids",
        (sequence, n),
    )
    return np.array(cursor.fetchone()[0], dtype=np.int64)


def _integrity_errors() -> tuple[type[Exception], ...]:
    """What a broken unique index raises: SQLAlchemy's, or the driver's through a raw cursor (COPY)."""
    import sqlite3

    import psycopg

    return (sa.exc.IntegrityError, psycopg.errors.IntegrityError, sqlite3.IntegrityError)


def recall_on_demand(engine: sa.Engine, day: date, claims: list[int] | None, agency: str | None, reason: str) -> int:
    """Recall the open placements of ``claims`` and/or of ``agency`` on ``day``; how many."""
    if not claims and agency is None:
        raise PlacementError("say what to recall: --claim ID (repeatable) and/or --agency A")
    table = Placement.__table__
    with engine.begin() as conn:
        _lock(conn)
        condition = table.c.recalled_on.is_(None)
        if claims:
            condition &= table.c.claim_id.in_(claims)
        if agency is not None:
            condition &= table.c.agency_id == agency
        found = conn.execute(
            sa.select(table.c.claim_id, table.c.placed_on, table.c.placement_id, table.c.agency_id).where(condition)
        ).all()
        if not found:
            what = f"claims {', '.join(map(str, claims))}" if claims else ""
            what += (" of " if what else "") + (f"agency {agency}" if agency else "")
            raise PlacementError(f"no open placement of {what}")
        early = [c for c, placed, *_ in found if placed > day]
        if early:
            raise PlacementError(f"claim {early[0]}: placed after {day}; a recall cannot predate its placement")
        done = conn.execute(sa.update(table).where(condition).values(recalled_on=day, recall_reason=reason)).rowcount
        changes.recalled(conn, [dict(r._mapping, recall_reason=reason) for r in found], day, AgencyChange.RECALLED)
        audit(
            conn, AuditAction.RECALL, agency or "claims", {"as_of": day.isoformat(), "recalled": done, "reason": reason}
        )
    return done


def latest_runs(engine: sa.Engine, limit: int = 10) -> list[dict]:
    table = AllocationRun.__table__
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.allocation_run_id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def summarise(allocation: Allocation) -> dict:
    """Counts and balances (grosz) per action, agency and queue, and per side of the split."""
    d = allocation.decisions

    def by(columns: list[str]) -> list[dict]:
        return (
            d.group_by(columns)
            .agg(claims=pl.len(), balance=pl.col("balance").sum())
            .with_columns(pl.col(columns).cast(pl.String))  # sorted by name, not by a category's number
            .sort(columns, nulls_last=True)
            .to_dicts()
        )

    return {
        "claims": d.height,
        "balance": int(d["balance"].sum() or 0),
        "by_action": by(["action"]),
        "by_agency": by(["agency_id"]) if d.height else [],
        "by_queue": by(["queue"]),
        "by_side": by(["side", "action"]),
        "recalled": allocation.recalls.group_by("recall_reason").len().sort("recall_reason").to_dicts(),
    }
