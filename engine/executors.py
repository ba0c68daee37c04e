"""Where compute_state runs: one interface, two executors.

- ``LocalExecutor`` (the default): in this process; the kernel runs on numba threads.
- ``RayExecutor``: Ray tasks, on an existing cluster (``CESSION_RAY_ADDRESS``, also ``ray://``)
  or on a local Ray started on demand.

The executor is chosen explicitly (``CESSION_EXECUTOR=local|ray`` or ``--executor``), never by
what happens to be importable.

The unit of distribution is a *partition*: a claim_id range with every claim in it and all of its
events, so the per-claim engine gives the same rows whichever way the claims are cut. A ``Source``
plans the partitions (from the claim ids alone) and reads one; the Ray executor reads each
partition in the worker that computes it (Parquet with a claim_id filter, the store with a range
query), so the data never passes through the driver. The batch function applied to a partition is
pure: (claims, events, rules) -> claim_state, one per as-of day; the rule tables go to the object
store once. Per-partition results are handed back in claim_id order as they are done, so the
caller writes while the rest compute; when a partition fails nothing more is handed back and
``PartitionsFailed`` names every failed partition of that day. The caller commits its outputs
only after the last partition of the last day (``partition_states``), or gathers each day whole
(``states``); a failed run leaves the previous state as it was.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.domain import EXECUTOR_NAMES, ExecutorName
from engine.errors import ComputationFailed, InputError
from engine.rules import RuleBook, StaleRulesError, load_rules
from engine.schema import CLAIMS, EVENTS, NOT_READ_BY_ENGINE, engine_columns
from engine.state import (
    METADATA_KEY,
    Prepared,
    combined_provenance,
    compute_state,
    prepare_inputs,
    provenance,
    state_table,
)
from engine.validation import SHOW_IDS, EngineInputError, check_unique, conform
from engine.waterfall import WaterfallSetting

Batch = tuple[pl.DataFrame, pl.DataFrame]  # claims, events of whole claims
#: Data errors are the same on every attempt and every executor: they are raised as they are.
DATA_ERRORS = (EngineInputError, StaleRulesError)


class ExecutorSettings(BaseSettings):
    """``CESSION_EXECUTOR``, ``CESSION_RAY_ADDRESS``, ``CESSION_PARTITIONS``, ``CESSION_RAY_MAX_RETRIES``."""

    model_config = SettingsConfigDict(env_prefix="CESSION_", extra="ignore")

    executor: ExecutorName = "local"
    #: An existing cluster: "auto", "10.0.0.5:6379" or "ray://head:10001". None: a local Ray on demand.
    ray_address: str | None = None
    #: Claim partitions; None: 1 for the local executor, 2 per CPU of the Ray cluster.
    partitions: int | None = None
    #: Times a Ray task is run again when its worker dies (a node lost, a process killed).
    ray_max_retries: int = 3


class BatchFn(Protocol):
    """A pure batch function in two steps (``StateAt``): ``inputs`` checks and packs a partition,
    once for all the functions of a run; calling it on those inputs gives claim_state of those claims."""

    def inputs(self, claims: pl.DataFrame, events: pl.DataFrame, rules: RuleBook) -> Prepared: ...

    def __call__(self, inputs: Prepared, rules: RuleBook) -> pa.Table: ...


# --------------------------------------------------------------------------------------------- partitions
@dataclass(frozen=True)
class Partition:
    """Claims with ``lo <= claim_id < hi`` (None: unbounded; the first partition also holds null ids,
    so the engine refuses them as it would without partitions)."""

    index: int
    lo: int | None
    hi: int | None
    claims: int

    def __str__(self) -> str:
        lo = "" if self.lo is None else f"{self.lo}"
        hi = "" if self.hi is None else f"{self.hi - 1}"
        return f"partition {self.index} (claim_id {lo}..{hi}, {self.claims:,} claims)"

    def where(self, column: str = "claim_id") -> pl.Expr:
        col = pl.col(column)
        keep = pl.lit(True)
        if self.lo is not None:
            keep = keep & (col >= self.lo)
        if self.hi is not None:
            keep = keep & (col < self.hi)
        return keep | col.is_null() if self.lo is None else keep


def _sorted_unique(ids: np.ndarray) -> np.ndarray:
    """Sorted distinct ids: one linear pass when they are already increasing (files in id order)."""
    from engine.kernels.grouping import strictly_increasing

    if strictly_increasing(ids):
        return ids
    ids = np.sort(ids)  # np.unique would hash (slow for 10M), a sort and a mask do not
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids


def plan(claim_ids: np.ndarray, n: int) -> list[Partition]:
    """``n`` claim_id ranges holding as equal shares of the claims as the ids allow, covering every
    int64 (an event of a claim not in the claims still lands in a partition and is refused there)."""
    ids = _sorted_unique(np.asarray(claim_ids, dtype=np.int64))
    n = max(1, int(n)) if len(ids) else 1  # no claims: one partition (where any event is refused)
    cuts = [int(ids[len(ids) * k // n]) for k in range(1, n)] if len(ids) else []
    bounds: list[int | None] = [None, *cuts, None]
    starts = [0, *np.searchsorted(ids, cuts, side="left").tolist(), len(ids)]
    return [Partition(i, bounds[i], bounds[i + 1], starts[i + 1] - starts[i]) for i in range(n)]


class PartitionsFailed(ComputationFailed):
    """Some partitions could not be computed (after Ray's retries); nothing was committed."""

    def __init__(self, failed: list[tuple[Partition, str]], what: str = "") -> None:
        self.failed = failed
        names = "; ".join(f"{p}: {error}" for p, error in failed[:10])
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        super().__init__(f"{len(failed)} partition(s) failed{what}, nothing was written: {names}{more}")

    @property
    def partitions(self) -> list[int]:
        return [p.index for p, _ in self.failed]


# ------------------------------------------------------------------------------------------------ sources
class Source(Protocol):
    """Where the claims and events come from. Picklable: Ray ships it to the workers."""

    #: True when a partition can only be read where the data is (frames in the driver's memory).
    in_driver: bool

    def claim_ids(self) -> np.ndarray: ...

    def check(self) -> None:
        """What only the whole input can tell (event ids unique across partitions)."""

    def read(self, part: Partition) -> Batch: ...


def _check_event_ids(event_ids: pl.Series) -> None:
    from engine.kernels.grouping import strictly_increasing

    ids = event_ids.drop_nulls()
    if not strictly_increasing(ids.to_numpy()):
        check_unique(ids.to_frame(), "events", "event_id")


@dataclass(frozen=True)
class EventIds:
    """What a partition's event ids tell of all of them: the first and last, and whether they
    increase. When every partition's increase and the partitions' spans do not overlap, the ids
    are unique across partitions without reading them again; otherwise ``Source.check`` reads
    them (and gives the exact error)."""

    first: int | None = None
    last: int | None = None
    increasing: bool = False

    @classmethod
    def of(cls, events: pl.DataFrame) -> EventIds:
        from engine.kernels.grouping import strictly_increasing

        if "event_id" not in events.columns or not events.schema["event_id"].is_integer():
            return cls()  # the engine names the column's error
        ids = events.get_column("event_id").drop_nulls().to_numpy()
        if not strictly_increasing(ids.astype(np.int64)):
            return cls()
        return cls(int(ids[0]), int(ids[-1]), True) if len(ids) else cls(increasing=True)


def check_event_ids(source: Source, parts: Sequence[EventIds]) -> None:
    """Event ids unique across partitions (each partition's own are checked by the engine)."""
    spans = sorted((p.first, p.last) for p in parts if p.first is not None)
    if not (all(p.increasing for p in parts) and all(a[1] < b[0] for a, b in zip(spans, spans[1:]))):
        source.check()


@dataclass
class FramesSource:
    """Claims and events already in memory (the Python API, tests)."""

    claims: pl.DataFrame
    events: pl.DataFrame
    in_driver: bool = True

    @classmethod
    def of(cls, claims, events) -> FramesSource:
        from engine.state import _to_polars

        return cls(
            *(
                conform(_to_polars(frame, name), name, spec, NOT_READ_BY_ENGINE[name])
                for frame, name, spec in ((claims, "claims", CLAIMS), (events, "events", EVENTS))
            )
        )

    def claim_ids(self) -> np.ndarray:
        return self.claims.get_column("claim_id").drop_nulls().to_numpy()

    def check(self) -> None:
        _check_event_ids(self.events.get_column("event_id"))

    def read(self, part: Partition) -> Batch:
        return self.claims.filter(part.where()), self.events.filter(part.where())


@dataclass(frozen=True)
class ParquetSource:
    """claims.parquet and events.parquet (paths or URLs every worker can read: a shared folder,
    s3://, gs://). Each worker scans its claim_id range; row-group statistics skip the rest."""

    claims_path: str
    events_path: str
    in_driver: bool = False

    def claim_ids(self) -> np.ndarray:
        return self._column(self.claims_path, "claims", "claim_id").drop_nulls().to_numpy()

    def check(self) -> None:
        _check_event_ids(self._column(self.events_path, "events", "event_id"))

    @staticmethod
    def _column(path: str, table: str, column: str) -> pl.Series:
        scan = pl.scan_parquet(path)
        if column not in scan.collect_schema().names():
            raise EngineInputError(table, column, "missing column (docs/data-contract.md)")
        return scan.select(column).collect().get_column(column)

    def read(self, part: Partition) -> Batch:
        """The partition's rows, only the columns the engine reads (a missing one is left for the
        engine's own error, which names it)."""
        out = []
        for path, name, spec in ((self.claims_path, "claims", CLAIMS), (self.events_path, "events", EVENTS)):
            scan = pl.scan_parquet(path)
            present = set(scan.collect_schema().names())
            columns = [c for c in engine_columns(spec, name) if c in present]
            out.append(scan.select(columns).filter(part.where()).collect())
        return out[0], out[1]


@dataclass(frozen=True)
class StoreSource:
    """The store (``engine.store``): each worker reads its claim_id range with a range query. On
    PostgreSQL every read joins the driver's exported snapshot, so all partitions see one moment."""

    url: str
    portfolio: str | None = None
    snapshot: str | None = None
    in_driver: bool = False

    def covered(self) -> pl.DataFrame:
        """claim_id and portfolio_id of every claim read (by claim_id), in the source's snapshot."""
        from engine.store.database import engine_at
        from engine.store.records import claims_query

        query, _schema, params = claims_query(self.portfolio)
        schema = {"claim_id": pl.Int64(), "portfolio_id": pl.String()}
        return self._read(engine_at(self.url), f"SELECT claim_id, portfolio_id FROM ({query}) q", schema, params).sort(
            "claim_id"
        )

    def claim_ids(self) -> np.ndarray:
        return self.covered().get_column("claim_id").to_numpy()

    def check(self) -> None:
        """Event ids are the events table's primary key."""

    def read(self, part: Partition) -> Batch:
        from engine.store.database import engine_at
        from engine.store.records import claims_query, events_query

        engine = engine_at(self.url)
        try:
            out = []
            for query, schema, params in (claims_query(self.portfolio), events_query(self.portfolio)):
                conditions, bounds = [], dict(params or {})
                if part.lo is not None:
                    conditions.append("claim_id >= :part_lo")
                    bounds["part_lo"] = part.lo
                if part.hi is not None:
                    conditions.append("claim_id < :part_hi")
                    bounds["part_hi"] = part.hi
                where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
                out.append(self._read(engine, f"SELECT * FROM ({query}) q{where}", schema, bounds))
            return out[0], out[1]
        finally:
            engine.dispose()

    def _read(self, engine, query: str, schema, params) -> pl.DataFrame:
        from engine.store.bulk import read_frame

        if self.snapshot is None or engine.dialect.name != "postgresql":
            with engine.connect() as conn:
                return read_frame(conn, query, schema, params)
        with engine.connect() as conn:
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
            return read_frame(conn, query, schema, params)


# --------------------------------------------------------------------------------------- batch function
@dataclass(frozen=True)
class StateAt:
    """The batch function of one as-of day, in two steps: ``inputs`` checks and packs a partition
    (once, whatever the day: the days of a series share the waterfall) and calling it on those
    inputs gives claim_state as of its day. Together, compute_state over the partition's claims."""

    as_of: date
    waterfall: WaterfallSetting = "costs,interest,principal"
    allow_stale_rates: bool = False

    def inputs(self, claims: pl.DataFrame, events: pl.DataFrame, rules: RuleBook) -> Prepared:
        return prepare_inputs(claims, events, waterfall=self.waterfall, rules=rules)

    def __call__(self, inputs: Prepared, rules: RuleBook) -> pa.Table:
        started = time.perf_counter()
        return state_table(
            inputs.at(self.as_of, allow_stale_rates=self.allow_stale_rates, rules=rules), started=started
        )


# -------------------------------------------------------------------------------------------- executors
OnDone = Callable[[int, int], None]


class Executor(Protocol):
    """Runs pure batch functions over whole-claim partitions."""

    name: ExecutorName

    def default_partitions(self) -> int: ...

    def map(
        self,
        source: Source,
        partitions: Sequence[Partition],
        fns: Sequence[BatchFn],
        rules: RuleBook,
        on_done: OnDone | None = None,
    ) -> Iterator[tuple[int, int, pa.Table]]:
        """(function k, partition i, result) for each function in order and each of its partitions
        in order, each handed back as soon as it and the partitions before it are done (so the
        caller can write while the rest compute). If a partition fails, raises ``PartitionsFailed``
        naming every failed partition of that function (or the data error itself) and hands back
        nothing more: what the caller already has is not the whole result, and it must not
        commit it."""
        ...

    def close(self) -> None: ...


def _named(error: BaseException, part: Partition) -> BaseException:
    error.add_note(f"in {part}")
    return error


def _run(part: Partition, step: Callable, errors: list, *args):
    """``step(*args)`` on ``part`` in this process; a data error goes to ``errors`` (naming the
    partition; None is returned), anything else is raised as the partition's failure."""
    try:
        return step(*args)
    except DATA_ERRORS as error:
        errors.append(_named(error, part))
    except Exception as error:
        raise PartitionsFailed([(part, f"{type(error).__name__}: {error}")]) from error


def one_error(errors: list[BaseException]) -> BaseException:
    """The data errors of a run's partitions (in claim_id order) as the engine gives them over the
    whole input: the first one, its count summed with those of the others' errors of the same
    table, column and rule, and their first ids in claim_id order."""
    first = errors[0]
    if not isinstance(first, EngineInputError):
        return first
    key = (first.table, first.column, first.rule)
    same = [e for e in errors if isinstance(e, EngineInputError) and (e.table, e.column, e.rule) == key]
    if len(same) == 1:
        return first
    ids = [i for e in same for i in (e.ids or [])][:SHOW_IDS]
    merged = EngineInputError(first.table, first.column, first.rule, ids, sum(e.count for e in same))
    for e in same:
        for note in getattr(e, "__notes__", []):
            merged.add_note(note)
    return merged


def _read_here(source: Source, part: Partition) -> Batch:
    try:
        return source.read(part)
    except DATA_ERRORS as error:
        raise _named(error, part) from None
    except Exception as error:
        raise PartitionsFailed([(part, f"{type(error).__name__}: {error}")]) from error


class LocalExecutor:
    """In this process: each partition read once, then every function over it (numba threads)."""

    name: ExecutorName = "local"

    def default_partitions(self) -> int:
        return 1

    def map(self, source, partitions, fns, rules, on_done=None):
        inputs, event_ids, errors = [], [], []
        for part in partitions:
            claims, events = _read_here(source, part)
            event_ids.append(EventIds.of(events))
            inputs.append(_run(part, fns[0].inputs, errors, claims, events, rules))
            del claims, events
        if errors:
            raise one_error(errors)
        check_event_ids(source, event_ids)
        total, done = len(partitions) * len(fns), 0
        for k, fn in enumerate(fns):
            for i, part in enumerate(partitions):  # after a data error the day's others still run, to count
                result = _run(part, fn, errors, inputs[i], rules)
                done += 1
                if on_done:
                    on_done(done, total)
                if not errors:
                    yield k, i, result
            if errors:
                raise one_error(errors)

    def close(self) -> None:
        pass


# Plain Python functions around the engine (numba kernels inside); ray.remote wraps these.
def _use_assigned_cpus() -> None:
    """Numba's threads, as many as the CPUs Ray gave this task (not every core of the node)."""
    import numba
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    numba.set_num_threads(max(1, min(int(cpus), numba.config.NUMBA_NUM_THREADS)))


class _Carried(Exception):
    """A data error on its way from a worker: (class, attributes, args), since the data errors'
    constructors do not take their own args and so would not unpickle."""

    @classmethod
    def of(cls, error: BaseException) -> _Carried:
        return cls(type(error), dict(vars(error)), error.args)

    def restore(self) -> BaseException:
        kind, state, args = self.args
        error = kind.__new__(kind)
        error.__dict__.update(state)
        error.args = args
        return error


def _warm_task() -> None:
    """compute_state on no claims: the imports and the kernels' first call, before the real tasks."""
    claims, events = (pl.DataFrame(schema={c.name: c.dtype for c in spec}) for spec in (CLAIMS, EVENTS))
    compute_state(claims, events, date.today(), allow_stale_rates=True)


def _inputs_task(source: Source | Batch, part: Partition, fn: BatchFn, rules: RuleBook) -> tuple[Prepared, EventIds]:
    """A partition read (or a batch from the driver) checked and packed once for every day, and
    what its event ids tell."""
    _use_assigned_cpus()
    try:
        claims, events = source if isinstance(source, tuple) else source.read(part)
        return fn.inputs(claims, events, rules), EventIds.of(events)
    except DATA_ERRORS as error:
        raise _Carried.of(error) from None


def _compute_task(fn: BatchFn, inputs: Prepared, rules: RuleBook) -> pa.Table:
    _use_assigned_cpus()
    try:
        return fn(inputs, rules)
    except DATA_ERRORS as error:
        raise _Carried.of(error) from None


def _read_compute_task(source: Source, part: Partition, fn: BatchFn, rules: RuleBook) -> tuple[pa.Table, EventIds]:
    _use_assigned_cpus()
    try:
        claims, events = source.read(part)
        event_ids = EventIds.of(events)
        inputs = fn.inputs(claims, events, rules)
        del claims, events  # the frames are packed: their memory can go before the kernel's output comes
        return fn(inputs, rules), event_ids
    except DATA_ERRORS as error:
        raise _Carried.of(error) from None


def import_ray():
    """Ray, imported with our defaults: no usage stats, and the workers use this environment (under
    `uv run`, Ray would otherwise build a fresh one from the working folder for every job)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray

    return ray


class RayExecutor:
    """Ray tasks over partitions: on ``address`` (an existing cluster) or a local Ray started on
    demand (loopback only, no dashboard, no usage stats) and stopped by ``close``. A task whose
    worker dies runs again (``max_retries``); an error in the engine is not retried."""

    name: ExecutorName = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        max_retries: int = 3,
        init_options: dict | None = None,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.init_options = init_options or {}
        self._started = False
        self._warming: list = []

    def start(self) -> None:
        """Connect (or start a local Ray) unless this process is already connected."""
        ray = import_ray()
        if ray.is_initialized():
            return
        options = dict(include_dashboard=False, log_to_driver=False, configure_logging=False) | self.init_options
        if self.address:
            ray.init(address=self.address, **options)
        else:
            ray.init(address="local", num_cpus=self.num_cpus, _node_ip_address="127.0.0.1", **options)
        self._started = True
        # workers import the engine and load the compiled kernels while the driver plans the partitions
        warm = ray.remote(num_cpus=1)(_warm_task)
        self._warming = [warm.remote() for _ in range(max(1, int(ray.cluster_resources().get("CPU", 1))))]

    def close(self) -> None:
        if self._started:
            import_ray().shutdown()
            self._started = False

    def cpus(self) -> int:
        self.start()
        return max(1, int(import_ray().cluster_resources().get("CPU", 1)))

    def default_partitions(self) -> int:
        return 2 * self.cpus()

    def _remote(self, function):
        return import_ray().remote(max_retries=self.max_retries, retry_exceptions=False)(function)

    def map(self, source, partitions, fns, rules, on_done=None):
        """Tasks are submitted in order, a few more than the cluster has CPUs at a time, so they
        also finish about in order: the caller writes the first partitions while the next ones
        compute (all at once, Ray would run them in any order and the first might come last)."""
        self.start()
        ray = import_ray()
        rules_ref = ray.put(rules)
        event_ids: list = [None] * len(partitions)  # EventIds of each partition (or a ref to them)
        if len(fns) == 1 and not source.in_driver:  # read and compute in one task per partition
            read_compute = self._remote(_read_compute_task)

            def submit(k: int, i: int):
                return read_compute.remote(source, partitions[i], fns[k], rules_ref)

            def table(i: int, value: tuple[pa.Table, EventIds]) -> pa.Table:
                event_ids[i] = value[1]  # the partition's event ids, seen where it was read
                return value[0]
        else:  # each partition checked and packed once, in a task; then a task per day
            prepare = self._remote(_inputs_task).options(num_returns=2)
            inputs = []
            for i, part in enumerate(partitions):
                where = ray.put(_read_here(source, part)) if source.in_driver else source
                inputs_ref, event_ids[i] = prepare.remote(where, part, fns[0], rules_ref)
                inputs.append(inputs_ref)
            compute = self._remote(_compute_task)

            def submit(k: int, i: int):
                return compute.remote(fns[k], inputs[i], rules_ref)

            def table(i: int, value: pa.Table) -> pa.Table:
                return value

        jobs = [(k, i) for k in range(len(fns)) for i in range(len(partitions))]
        window = self.cpus() + 1
        running: dict = {}  # ref -> job
        ended: dict[int, tuple] = {}  # job -> (ref, None) or (None, the data error) or (None, the reason it failed)
        submitted = handed = 0
        try:
            while handed < len(jobs):
                k = jobs[handed][0]
                own = range(k * len(partitions), (k + 1) * len(partitions))  # function k's jobs
                errors = [(jobs[j][1], ended[j][1]) for j in own if j in ended and ended[j][0] is None]
                # after a failure, only the rest of function k's partitions run (to name them all)
                while submitted < (own.stop if errors else len(jobs)) and len(running) < window:
                    running[submit(*jobs[submitted])] = submitted
                    submitted += 1
                if errors and all(j < handed or j in ended for j in own):  # all of k's have ended
                    data_errors = [e for _, e in errors if isinstance(e, BaseException)]
                    if data_errors:
                        raise one_error(data_errors)
                    raise PartitionsFailed([(partitions[i], reason) for i, reason in sorted(errors)], _what(fns[k]))
                if not errors and handed in ended:
                    i = jobs[handed][1]
                    result = table(i, ray.get(ended.pop(handed)[0]))
                    if handed == len(jobs) - 1:  # before the caller has it all: ids unique across partitions
                        check_event_ids(source, [ray.get(e) if isinstance(e, ray.ObjectRef) else e for e in event_ids])
                    yield k, i, result
                    del result  # the object store may free it
                    handed += 1
                    continue
                ready, _ = ray.wait(list(running), num_returns=1)
                job = running.pop(ready[0])
                try:
                    ray.get(ready[0])
                    ended[job] = (ready[0], None)
                except ray.exceptions.RayError as error:
                    cause = getattr(error, "cause", None)
                    part = partitions[jobs[job][1]]
                    ended[job] = (
                        None,
                        _named(cause.restore(), part) if isinstance(cause, _Carried) else _reason(error),
                    )
                if on_done:
                    on_done(len(ended) + handed, len(jobs))
        finally:  # after a failure: the tasks still running need not finish (never force: a race in Ray)
            if running:
                _, unfinished = ray.wait(list(running), num_returns=len(running), timeout=0)
                for ref in unfinished:
                    ray.cancel(ref, force=False)


def _reason(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    if cause is not None and not isinstance(cause, type(error)):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def _what(fn: BatchFn) -> str:
    return f" as of {fn.as_of}" if isinstance(fn, StateAt) else ""


def make_executor(
    name: ExecutorName | None = None, *, address: str | None = None, settings: ExecutorSettings | None = None
) -> Executor:
    """The executor named here, else by ``CESSION_EXECUTOR`` (default local)."""
    settings = settings or ExecutorSettings()
    name = name or settings.executor
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address or settings.ray_address, max_retries=settings.ray_max_retries)
    raise InputError(f"executor {name!r}: one of {', '.join(EXECUTOR_NAMES)}")


# ----------------------------------------------------------------------------------------------- driver
def merged_provenance(metas: list[dict], executor: str, partitions: int, seconds: float) -> dict:
    """The provenance of a claim_state put together from partitions' (their provenances)."""
    return dict(combined_provenance(metas), executor=executor, partitions=partitions, seconds=round(seconds, 3))


def merged(tables: list[pa.Table], executor: str, partitions: int, started: float) -> pa.Table:
    """One claim_state from the partitions' (ranges in order, so by claim_id), with provenance for all."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    meta = merged_provenance([provenance(t) for t in tables], executor, partitions, time.perf_counter() - started)
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})


@dataclass(frozen=True)
class PartitionState:
    """claim_state of one partition as of one day (``partition`` of ``partitions``, in claim_id order)."""

    day: date
    partition: Partition
    partitions: int
    table: pa.Table

    @property
    def last(self) -> bool:
        return self.partition.index == self.partitions - 1


def partition_states(
    source: Source,
    as_of: Sequence[date],
    *,
    executor: Executor | None = None,
    partitions: int | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
    on_done: OnDone | None = None,
    claim_ids: np.ndarray | None = None,
) -> Iterator[PartitionState]:
    """claim_state a partition at a time: for each day in order, its partitions in claim_id order,
    each as soon as it and those before it are done. Their concatenation is, bit for bit,
    ``compute_state`` over the whole input. A failure raises (``PartitionsFailed`` names the
    partitions) after some partitions may have been handed back: write them aside and commit only
    when the last one of the last day came."""
    executor = executor or LocalExecutor()
    rules = rules or load_rules()
    parts = plan(source.claim_ids() if claim_ids is None else claim_ids, partitions or executor.default_partitions())
    fns = [StateAt(day, waterfall, allow_stale_rates) for day in as_of]
    for k, i, table in executor.map(source, parts, fns, rules, on_done):
        yield PartitionState(as_of[k], parts[i], len(parts), table)


def whole_days(parts: Iterable[PartitionState], executor: str) -> Iterator[tuple[date, pa.Table]]:
    """(day, claim_state) from a day's partitions once the last of them came."""
    started, tables = time.perf_counter(), []
    for part in parts:
        tables.append(part.table)
        if part.last:
            yield part.day, merged(tables, executor, part.partitions, started)
            started, tables = time.perf_counter(), []


def states(
    source: Source, as_of: Sequence[date], *, executor: Executor | None = None, **options
) -> Iterator[tuple[date, pa.Table]]:
    """claim_state as of each day, one (day, table) at a time, every table equal bit for bit to
    ``compute_state`` over the whole input (``partition_states``' arguments). Nothing is handed
    back for a day until all of its partitions succeeded; a failure raises (``PartitionsFailed``
    names the partitions)."""
    executor = executor or LocalExecutor()
    return whole_days(partition_states(source, as_of, executor=executor, **options), executor.name)


def compute_state_on(
    executor: Executor, claims, events, as_of: date, *, partitions: int | None = None, **options
) -> pa.Table:
    """``compute_state`` (the same arguments) on ``executor`` over ``partitions`` claim ranges."""
    [(_, table)] = states(FramesSource.of(claims, events), [as_of], executor=executor, partitions=partitions, **options)
    return table


@contextmanager
def exported_snapshot(engine) -> Iterator[str | None]:
    """PostgreSQL: a snapshot every partition's read joins (held open until the block ends)."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()


def store_partition_states(
    executor: Executor,
    engine,
    as_of: Sequence[date],
    portfolio: str | None = None,
    *,
    covered: Callable[[pl.DataFrame], None] | None = None,
    **options,
) -> Iterator[PartitionState]:
    """``partition_states`` from the store: each worker reads its claim_id range from the store
    itself, all in one snapshot on PostgreSQL. ``covered`` is first given the claim_id and
    portfolio_id of every claim the run covers; each partition is checked to hold exactly its
    share of them (a load at the same time would break that)."""
    from engine.store.database import StoreError

    with exported_snapshot(engine) as snapshot:
        source = StoreSource(engine.url.render_as_string(hide_password=False), portfolio, snapshot)
        claims = source.covered()
        if covered is not None:
            covered(claims)
        ids = claims.get_column("claim_id").to_numpy()
        for part in partition_states(source, as_of, executor=executor, claim_ids=ids, **options):
            lo, hi = (
                None if b is None else int(np.searchsorted(ids, b)) for b in (part.partition.lo, part.partition.hi)
            )
            if not np.array_equal(part.table.column("claim_id").to_numpy(), ids[lo:hi]):
                raise StoreError("claims changed in the store during the run (a load at the same time?); run again")
            yield part


def store_states(
    executor: Executor, engine, as_of: Sequence[date], portfolio: str | None = None, **options
) -> Iterator[tuple[date, pa.Table, pl.DataFrame]]:
    """claim_state from the store as of each day: (day, state, claim_id and portfolio_id of its rows)."""
    seen: list[pl.DataFrame] = []
    parts = store_partition_states(executor, engine, as_of, portfolio, covered=seen.append, **options)
    for day, state in whole_days(parts, executor.name):
        yield day, state, seen[0]


def store_state(
    executor: Executor, engine, as_of: date, portfolio: str | None = None, **options
) -> tuple[pa.Table, pl.DataFrame]:
    """claim_state from the store as of one day, and claim_id and portfolio_id of its rows."""
    [(_, state, covered)] = store_states(executor, engine, [as_of], portfolio, **options)
    return state, covered
