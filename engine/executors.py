"""Where claim_state is computed: one interface, two executors.

- ``LocalExecutor`` (the default): in this process; the kernel runs on numba threads.
- ``RayExecutor``: Ray tasks, on an existing cluster (``CESSION_RAY_ADDRESS``, also ``ray://``)
  or on a local Ray started on demand.

The executor is chosen explicitly (``CESSION_EXECUTOR=local|ray`` or ``--executor``, see
``engine.settings``), never by what happens to be importable; ``engine.computation`` is where a
command or a run asks for a computation, and it picks the executor and the path.

An executor maps a pure batch function (``StateAt``: claims, events, rules -> claim_state, one
per as-of day) over the partitions of a ``Source`` (``engine.partitions``, ``engine.sources``):
the Ray executor reads each partition in the worker that computes it, so the data never passes
through the driver, and the rule tables go to the object store once. Per-partition results are
handed back in claim_id order as they are done, so the caller writes while the rest compute;
when a partition fails nothing more is handed back and ``PartitionsFailed`` names every failed
partition of that day. The caller commits its outputs only after the last partition of the last
day (``partition_states``), or gathers each day whole (``states``); a failed run leaves the
previous state as it was.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import polars as pl
import pyarrow as pa

from engine.domain import EXECUTOR_NAMES, ExecutorName
from engine.errors import InputError
from engine.inputs import Prepared, prepare_inputs
from engine.kernel_run import compute_state, state_table
from engine.metadata import merged_provenance, provenance, with_provenance
from engine.partitions import (
    DATA_ERRORS,
    EventIds,
    InputChanged,
    Partition,
    PartitionsFailed,
    PartitionState,
    check_event_ids,
    named,
    one_error,
    plan,
    sorted_unique,
)
from engine.rules import RuleBook, load_rules
from engine.schema import CLAIMS, EVENTS
from engine.settings import EXECUTOR, Settings
from engine.settings import read as read_settings
from engine.sources import Batch, FramesSource, ParquetSource, Source, StoreSource
from engine.waterfall import WaterfallSetting

log = logging.getLogger(__name__)

__all__ = [  # with the sources and partitions the README's Python API takes from here
    "Executor",
    "ExecutorName",
    "FramesSource",
    "LocalExecutor",
    "ParquetSource",
    "PartitionState",
    "PartitionsFailed",
    "RayExecutor",
    "StateAt",
    "StoreSource",
    "compute_state_on",
    "import_ray",
    "make_executor",
    "partition_states",
    "plan",
    "states",
]


class BatchFn(Protocol):
    """A pure batch function in two steps (``StateAt``): ``inputs`` checks and packs a partition,
    once for all the functions of a run; calling it on those inputs gives claim_state of those claims."""

    def inputs(self, claims: pl.DataFrame, events: pl.DataFrame, rules: RuleBook) -> Prepared: ...

    def __call__(self, inputs: Prepared, rules: RuleBook) -> pa.Table: ...


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


def _run(part: Partition, step: Callable, errors: list, *args):
    """``step(*args)`` on ``part`` in this process; a data error goes to ``errors`` (naming the
    partition; None is returned), anything else is raised as the partition's failure."""
    try:
        return step(*args)
    except DATA_ERRORS as error:
        errors.append(named(error, part))
    except Exception as error:
        raise PartitionsFailed([(part, f"{type(error).__name__}: {error}")]) from error


def _read_here(source: Source, part: Partition) -> Batch:
    try:
        return source.read(part)
    except DATA_ERRORS as error:
        raise named(error, part) from None
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
        check_event_ids(source.check, event_ids)
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
                        check_event_ids(
                            source.check, [ray.get(e) if isinstance(e, ray.ObjectRef) else e for e in event_ids]
                        )
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
                    ended[job] = (None, named(cause.restore(), part) if isinstance(cause, _Carried) else _reason(error))
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
    name: ExecutorName | None = None, *, address: str | None = None, settings: Settings | None = None
) -> Executor:
    """The executor named here, else by ``CESSION_EXECUTOR`` (default local)."""
    settings = settings or read_settings(EXECUTOR)
    name = name or settings.executor
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(address or settings.ray_address, max_retries=settings.ray_max_retries)
    raise InputError(f"executor {name!r}: one of {', '.join(EXECUTOR_NAMES)}")


# ----------------------------------------------------------------------------------------------- driver
def merged(tables: list[pa.Table], executor: str, partitions: int, started: float) -> pa.Table:
    """One claim_state from the partitions' (ranges in order, so by claim_id), with provenance for all."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    meta = merged_provenance([provenance(t) for t in tables], executor, partitions, time.perf_counter() - started)
    return with_provenance(table, meta)


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
    when the last one of the last day came. ``claim_ids``: the source's (``source.claim_ids()``),
    when the caller has them; each partition must hold exactly its share of them
    (``InputChanged`` otherwise: a load into the store at the same time)."""
    executor = executor or LocalExecutor()
    rules = rules or load_rules()
    ids = sorted_unique(np.asarray(source.claim_ids() if claim_ids is None else claim_ids, dtype=np.int64))
    parts = plan(ids, partitions or executor.default_partitions())
    fns = [StateAt(day, waterfall, allow_stale_rates) for day in as_of]
    log.debug(
        "%d day(s) x %d partition(s) of %d claims on the %s executor", len(fns), len(parts), len(ids), executor.name
    )
    for k, i, table in executor.map(source, parts, fns, rules, on_done):
        if not np.array_equal(table.column("claim_id").to_numpy(), parts[i].of(ids)):
            raise InputChanged(
                f"the claims of {parts[i]} changed while they were read (a load at the same time?); "
                "nothing was written: run again"
            )
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
