"""claim_state from Parquet files (`cession state`), one day or a series; the executor a command
runs on.

The engine's one entry point (``engine.computation.compute``) picks the path: one day on the
local executor in one partition streams from file to file, a slice of claims at a time (neither
the inputs nor the table are ever whole in memory); several days, several partitions or Ray:
each worker reads its claim range of the files. Outputs are staged beside their place and moved
there only when the last day is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from api.states.files import readable_parquet, sweep_beside
from api.states.summary import day_summaries
from engine import computation
from engine.errors import InputError
from engine.executors import import_ray, make_executor
from engine.settings import EXECUTOR, read
from engine.sources import ParquetSource

#: told what is being done now ("computing on ray")
OnStage = Callable[[str], None]
#: told how much is done: (done, total or None)
OnProgress = Callable[[int, int | None], None]


def _nothing(*_args) -> None:
    pass


@contextmanager
def executor_for(*, name: str | None, partitions: int | None) -> Iterator[tuple[object, int | None]]:
    """The executor ``name`` (else CESSION_EXECUTOR) and the partitions (else
    CESSION_PARTITIONS), closed (a Ray started here is stopped) when the block ends."""
    chosen = read(EXECUTOR)
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
        for path in (claims, events):
            readable_parquet(path)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
        on_stage(f"computing on {chosen.name}" + (f", writing {out}" if out is not None else ""))
        computed = computation.compute(
            ParquetSource(str(claims.resolve()), str(events.resolve())),
            days,
            out=out,
            executor=chosen,
            partitions=parts,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
            on_progress=on_progress,
        )
        return day_summaries(computed)
