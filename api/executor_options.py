"""`--executor`, `--partitions` and as-of series for `cession state` and `cession run`.

``--as-of`` takes one day, a comma list of days, or a monthly range ``FIRST..LAST``: the last day
of every month from FIRST to LAST, both included (``2026-01-31..2026-12-31`` is the twelve
month-ends of 2026). Items combine: ``2025-12-31,2026-01-31..2026-06-30``. A series writes one
claim_state per day, ``<out>/state-YYYY-MM-DD.parquet``, all committed together when every day
of every partition succeeded.
"""

from __future__ import annotations

import calendar
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="local (in this process; the default, env CESSION_EXECUTOR) or ray: an existing cluster at "
        "CESSION_RAY_ADDRESS (host:port or ray://host:10001), else a local Ray started for this command.",
    ),
]
PartitionsOption = Annotated[
    int | None,
    typer.Option("--partitions", min=1, help="Claim partitions (default 1 local, 2 per CPU on Ray; env CESSION_PARTITIONS)."),
]
AsOfSeries = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Day of the state, YYYY-MM-DD (default: today); or days A,B,C; or month-ends FIRST..LAST "
        "(2026-01-31..2026-12-31: every month-end of 2026).",
    ),
]


def _day(text: str, name: str) -> date:
    from api.exits import UserError

    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{name}: {text.strip()!r} is not a date YYYY-MM-DD") from None


def month_ends(first: date, last: date) -> list[date]:
    """The last day of every month whose month-end lies in [first, last]."""
    days, year, month = [], first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return days
        if end >= first:
            days.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def parse_as_of(text: str | None) -> list[date]:
    """``--as-of`` as days in the order given, each once (see the module docstring)."""
    from api.exits import UserError

    if text is None:
        return [date.today()]
    days: list[date] = []
    for item in text.split(","):
        if ".." in item:
            first, _, last = item.partition("..")
            a, b = _day(first, "--as-of"), _day(last, "--as-of")
            if b < a:
                raise UserError(f"--as-of {item.strip()!r}: the range ends before it starts")
            found = month_ends(a, b)
            if not found:
                raise UserError(f"--as-of {item.strip()!r}: no month-end between those days")
            days += found
        else:
            days.append(_day(item, "--as-of"))
    return list(dict.fromkeys(days))


@contextmanager
def chosen_executor(name: str | None, partitions: int | None) -> Iterator[tuple[object, int | None]]:
    """The executor named by --executor (else CESSION_EXECUTOR) and the partitions (else
    CESSION_PARTITIONS), closed (a Ray started here is stopped) when the command ends."""
    from api.exits import UserError
    from engine.domain import EXECUTOR_NAMES
    from engine.executors import ExecutorSettings, make_executor

    settings = ExecutorSettings()
    if name is not None and name not in EXECUTOR_NAMES:
        raise UserError(f"--executor {name!r}: one of {', '.join(EXECUTOR_NAMES)}")
    executor = make_executor(name, settings=settings)  # type: ignore[arg-type]
    if executor.name == "ray":
        _ray_messages_to_stderr()
    try:
        yield executor, partitions or settings.partitions
    finally:
        executor.close()


def _ray_messages_to_stderr() -> None:
    """Ray prints its nodes' messages (a worker killed and retried, ...) on stdout; stdout is ours
    (--json), so they go to stderr."""
    from engine.executors import _ray

    worker = _ray()._private.worker
    if getattr(worker.print_to_stdstream, "cession", False):
        return
    original = worker.print_to_stdstream

    def to_stderr(data, ignore_prefix: bool = False):
        return original(dict(data, is_err=True), ignore_prefix=ignore_prefix)

    to_stderr.cession = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


class Staged:
    """Outputs written beside their final place and moved there only by ``commit``; a command
    that fails leaves the previous files as they were (and no staged leftovers)."""

    def __init__(self, out: Path, folder: bool) -> None:
        self.out, self.folder = out, folder
        self.dir = out.parent / f".{out.name}.staging-{os.getpid()}"
        self.files: list[tuple[Path, Path]] = []

    def open(self, name: str | None = None):
        """A ``ClaimStateWriter`` on the staged file of ``name`` (a folder's file; else ``out``)."""
        from engine.state import ClaimStateWriter

        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.out / name if self.folder and name else self.out
        staged = self.dir / final.name
        self.files.append((staged, final))
        return ClaimStateWriter(staged)

    def commit(self) -> None:
        if self.folder and not self.out.exists() and self.dir.exists():  # a new folder appears whole, in one rename
            os.replace(self.dir, self.out)
            return
        if self.folder:
            self.out.mkdir(parents=True, exist_ok=True)
        for staged, final in self.files:
            os.replace(staged, final)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _progress(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from api.cli import err

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=quiet or not err.is_terminal, transient=True)  # fmt: skip


def write_states(parts, days: list[date], out: Path | None, executor, quiet: bool) -> list[dict]:
    """Summaries of each day's claim_state from ``parts`` (``PartitionState``s, each day's in
    claim_id order), each partition written as it comes to the day's staged file under ``out``
    (one file for one day, else a folder of state-DAY.parquet), all committed together when the
    last partition of the last day came. The table of a day is never whole in memory."""
    from api.cli import _summary
    from engine.executors import merged_provenance
    from engine.state import StateTotals, provenance

    staged = Staged(out, folder=len(days) > 1) if out is not None else None
    summaries = []
    writer, totals, metas, started = None, StateTotals(), [], time.perf_counter()
    try:
        for part in parts:
            if writer is None and staged is not None:
                writer = staged.open(f"state-{part.day.isoformat()}.parquet")
            if writer is not None:
                writer.write(part.table)
            totals.merge(StateTotals.of_table(part.table))
            metas.append(provenance(part.table))
            if part.last:
                seconds = time.perf_counter() - started
                meta = merged_provenance(metas, executor.name, part.partitions, seconds)
                if writer is not None:
                    writer.close(meta)
                summaries.append(dict(_summary(totals, seconds, meta), executor=executor.name, partitions=part.partitions))
                writer, totals, metas, started = None, StateTotals(), [], time.perf_counter()
        if staged is not None:
            staged.commit()
    finally:
        if writer is not None:
            writer.abandon()
        if staged is not None:
            staged.discard()
    return summaries


def output_place(out: Path | None) -> None:
    """Remove what commands killed while writing left staged beside ``out`` (``scratch``); the
    path itself is checked by the command before any work (``api.outputs``)."""
    from engine.store.scratch import sweep_outputs

    if out is not None:
        sweep_outputs(out.parent)


def state_series(claims: Path, events: Path, days: list[date], out: Path | None, waterfall: str, allow_stale: bool,
                 executor_name: str | None, partitions: int | None, quiet: bool) -> list[dict]:  # fmt: skip
    """`cession state` on an executor: each worker reads its claim range of the Parquet files."""
    from api.cli import run_state
    from api.exits import UserError
    from engine.executors import ParquetSource, partition_states

    for path in (claims, events):
        if not path.exists():
            raise UserError(f"{path}: no such file")
    output_place(out)
    with chosen_executor(executor_name, partitions) as (executor, parts):
        if executor.name == "local" and len(days) == 1 and parts in (None, 1):  # the plain path, chunk progress
            return [dict(run_state(claims, events, days[0], out, waterfall, allow_stale, quiet), executor="local",
                         partitions=1)]  # fmt: skip
        with _progress(quiet) as progress:
            task = progress.add_task(f"computing on {executor.name} (tasks)", total=None)
            parts = partition_states(
                ParquetSource(str(claims.resolve()), str(events.resolve())), days, executor=executor,
                partitions=parts, waterfall=waterfall, allow_stale_rates=allow_stale,
                on_done=lambda done, total: progress.update(task, completed=done, total=total),
            )  # fmt: skip
            return write_states(parts, days, out, executor, quiet)


def store_series(engine, days: list[date], portfolio: str | None, out: Path | None, waterfall: str, allow_stale: bool,
                 executor_name: str | None, partitions: int | None, quiet: bool) -> list[dict]:  # fmt: skip
    """`cession run` with several days: a valuation series from the store, written as Parquet;
    the store's current state is left as it is (it keeps one state per portfolio)."""
    from engine.executors import store_partition_states

    output_place(out)
    with chosen_executor(executor_name, partitions) as (executor, parts), _progress(quiet) as progress:
        task = progress.add_task(f"computing on {executor.name} (tasks)", total=None)
        results = store_partition_states(
            executor, engine, days, portfolio, partitions=parts, waterfall=waterfall, allow_stale_rates=allow_stale,
            on_done=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
        return write_states(results, days, out, executor, quiet)


def print_series(summaries: list[dict], out: Path | None, as_json: bool) -> None:
    """One row per day (a single day prints the full summary); one block per day where the
    terminal is too narrow for the table."""
    from api import formats
    from api.cli import _print_json, _print_summary, console
    from engine.money import pln

    if as_json:
        for s in summaries:
            s["totals"] = {k: pln(v) for k, v in s["totals"].items()}
        if len(summaries) == 1:
            _print_json(dict(summaries[0], out=str(out) if out else None))
        else:
            _print_json({"out": str(out) if out else None, "states": summaries})
        return
    if len(summaries) == 1:
        _print_summary(summaries[0], out)
        s = summaries[0]
        if s.get("executor") != "local" or (s.get("partitions") or 1) > 1:
            console.print(f"executor {s['executor']}, {s['partitions']} partitions")
        return
    first = summaries[0]
    title = f"Portfolio states, {len(summaries)} days ({first['executor']}, {first['partitions']} partitions)"
    columns = [formats.Column("as of"), formats.Column("claims", "right", optional=True)]
    columns += [formats.Column(name, "right") for name in ("total due", "interest due", "paid")]
    columns += [formats.Column(name, "right", optional=True) for name in ("time-barred", "suspended", "time")]
    rows = []
    for s in summaries:
        t = s["totals"]
        paid = t["paid_costs"] + t["paid_interest"] + t["paid_principal"]
        rows.append([s["as_of"], formats.count(s["claims"]), formats.amount(t["total_due"]),
                     formats.amount(t["interest_due"]), formats.amount(paid), formats.count(s["time_barred"]),
                     formats.count(s["suspended"]), formats.seconds(s["seconds"])])  # fmt: skip
    formats.records(console, title, columns, rows)
    stale = {name: day for s in summaries for name, day in s["stale_rate_tables"].items()}
    if stale:
        from api.cli import _stale_note

        console.print(_stale_note(stale, date.fromisoformat(summaries[-1]["as_of"])))
    if out is not None:
        console.print(f"-> {out}/state-<as of>.parquet")
