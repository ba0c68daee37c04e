"""claim_state from Parquet files (`cession state`), one day or a series; the executor a command
runs on.

One day on the local executor in one partition streams from file to file, a slice of claims at
a time (``stream_state``: neither the inputs nor the table are ever whole in memory, and the file
appears complete or not at all). Several days, several partitions or Ray: each worker reads its
claim range of the files (``partition_states``), and each day's partitions are written as they
come to staged files, all moved into place when the last day is done (``write_states``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from api import settings
from api.states.files import readable_parquet, sweep_beside, write_states
from api.states.summary import summary
from engine.errors import InputError
from engine.executors import ExecutorSettings, ParquetSource, import_ray, make_executor, partition_states
from engine.rules import load_rules
from engine.state import stream_state

#: told what is being done now ("computing on ray (tasks)")
OnStage = Callable[[str], None]
#: told how much is done: (done, total or None)
OnProgress = Callable[[int, int | None], None]


def _nothing(*_args) -> None:
    pass


@contextmanager
def executor_for(*, name: str | None, partitions: int | None) -> Iterator[tuple[object, int | None]]:
    """The executor ``name`` (else CESSION_EXECUTOR) and the partitions (else
    CESSION_PARTITIONS), closed (a Ray started here is stopped) when the block ends."""
    chosen = settings.read(ExecutorSettings)
    executor = make_executor(name, settings=chosen)  # type: ignore[arg-type]
    if executor.name == "ray":
        _ray_messages_to_stderr()
    try:
        yield executor, partitions or chosen.partitions
    finally:
        executor.close()


def _ray_messages_to_stderr() -> None:
    """Ray prints its nodes' messages (a worker killed and retried, ...) on stdout; stdout is the
    command's result (--json), so they go to stderr."""
    worker = import_ray()._private.worker
    if getattr(worker.print_to_stdstream, "cession", False):
        return
    original = worker.print_to_stdstream

    def to_stderr(data, ignore_prefix: bool = False):
        return original(dict(data, is_err=True), ignore_prefix=ignore_prefix)

    to_stderr.cession = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def compute(
    *,
    claims: Path,
    events: Path,
    days: list[date],
    out: Path | None,
    waterfall: str,
    allow_stale_rates: bool,
    executor: str | None = None,
    partitions: int | None = None,
    on_stage: OnStage = _nothing,
    on_progress: OnProgress = _nothing,
) -> list[dict]:
    """claim_state of the claims and events in Parquet files as of each of ``days``, written to
    ``out`` (a file for one day, a folder of state-DAY.parquet for several; None: not written):
    the summary of each day, with the executor and partitions it ran on."""
    for path in (claims, events):
        if not path.exists():
            raise InputError(f"{path}: no such file")
    sweep_beside(out)
    with executor_for(name=executor, partitions=partitions) as (chosen, parts):
        if chosen.name == "local" and len(days) == 1 and parts in (None, 1):  # the plain path: streamed
            streamed = _streamed(claims, events, days[0], out, waterfall, allow_stale_rates, on_stage, on_progress)
            return [dict(streamed, executor="local", partitions=1)]
        on_stage(f"computing on {chosen.name} (tasks)")
        results = partition_states(
            ParquetSource(str(claims.resolve()), str(events.resolve())),
            days,
            executor=chosen,
            partitions=parts,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
            on_done=on_progress,
        )
        return write_states(results, days, out, chosen)


def _streamed(
    claims: Path,
    events: Path,
    as_of: date,
    out: Path | None,
    waterfall: str,
    allow_stale_rates: bool,
    on_stage: OnStage,
    on_progress: OnProgress,
) -> dict:
    """One day's claim_state from file to file, a slice of claims at a time (``stream_state``)."""
    started = time.perf_counter()
    for path in (claims, events):
        readable_parquet(path)
    on_stage(f"computing and writing {out}" if out is not None else "computing")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    totals, meta = stream_state(
        claims,
        events,
        as_of,
        write_to=out,
        waterfall=waterfall,
        allow_stale_rates=allow_stale_rates,
        rules=load_rules(),
        on_progress=on_progress,
    )
    return summary(totals, time.perf_counter() - started, meta)
