"""The engine's one entry point: ``compute`` claim_state of a source (frames, Parquet files, the
store) as of one day or several, on the executor the caller or the settings name, by the path
that gives the answer quickest. Every path gives the same claim_state, bit for bit.

| what is asked | path |
|---|---|
| one day, the local executor, one partition, Parquet files | *streamed*: a slice of claims at a time from the files to the output, never whole in memory (``streaming.stream_state``; unsorted files or an error: the whole input, read a slice at a time) |
| one day, the local executor, one partition, frames or the store | *whole*: read at once (the store: claims and events on two connections in one snapshot), ``kernel_run.compute_state`` |
| several days, several partitions, or Ray | *partitioned*: ``executors.partition_states``, each day's partitions written as they come; a series reads and packs each partition once |

Outputs (``out``: a file for one day, a folder of ``state-YYYY-MM-DD.parquet`` for several) are
written beside their place and moved there only when every day succeeded; on any error the
previous files stay as they were.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa

from engine.domain import ExecutorName
from engine.errors import InputError
from engine.executors import Executor, make_executor, partition_states
from engine.kernel_run import Progress, compute_state
from engine.metadata import merged_provenance, provenance, with_provenance
from engine.parquet_io import Staged, state_file_name, write_state_parquet
from engine.partitions import PartitionState
from engine.rules import RuleBook
from engine.settings import EXECUTOR, Settings
from engine.settings import read as read_settings
from engine.sources import ParquetSource, Source
from engine.streaming import stream_state
from engine.totals import StateTotals
from engine.waterfall import WaterfallSetting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayState:
    """claim_state as of one day: what it adds up to, how it was computed (its provenance) and the
    seconds it took; the table itself only when it was asked to be kept (``keep``), and the
    portfolio of each of its rows when asked (``portfolios``)."""

    day: date
    totals: StateTotals
    provenance: dict
    seconds: float
    table: pa.Table | None = None
    portfolio_id: pl.Series | None = None


def compute(
    source: Source,
    as_of: date | Sequence[date],
    *,
    out: str | Path | None = None,
    keep: bool = False,
    portfolios: bool = False,
    executor: Executor | ExecutorName | None = None,
    partitions: int | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
    on_progress: Progress | None = None,
    settings: Settings | None = None,
) -> list[DayState]:
    """claim_state of ``source`` as of each day of ``as_of``, in that order (see the module's table
    for the path taken).

    ``out``: write it there (one day: a Parquet file; several: a folder of a file per day).
    ``keep``: keep each day's table (``DayState.table``); else only its totals and provenance are
    kept (a day streamed to ``out`` is never whole in memory). ``portfolios``: the portfolio_id of
    each row (``DayState.portfolio_id``, by claim_id). ``executor``: an executor (the caller's to
    close), or its name (made here from ``settings`` and closed at the end); None: the settings'
    (``CESSION_EXECUTOR``, default local). ``partitions``: claim ranges (default
    ``CESSION_PARTITIONS``, else the executor's). ``on_progress``: (done, total) in claims on the
    streamed and whole paths, in tasks on the partitioned one.

    Raises ``EngineInputError``/``StaleRulesError`` as ``compute_state`` does over the whole input,
    ``PartitionsFailed`` naming the partitions that could not be computed; nothing is written then."""
    days = [as_of] if isinstance(as_of, date) else list(as_of)
    if not days:
        raise InputError("no as-of day to compute")
    settings = settings or read_settings(EXECUTOR)
    own = executor is None or isinstance(executor, str)
    chosen = make_executor(executor, settings=settings) if own else executor  # type: ignore[arg-type]
    partitions = partitions or settings.partitions
    options = dict(waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)
    try:
        if chosen.name == "local" and len(days) == 1 and partitions in (None, 1):
            return [_in_one_piece(source, days[0], out, keep, portfolios, on_progress, **options)]
        log.info(
            "claim_state of %d day(s) from %s: partitioned, on the %s executor", len(days), _name(source), chosen.name
        )
        with source.fixed() as fixed:  # the store: every partition read in one snapshot
            covered = fixed.portfolios() if portfolios else None
            parts = partition_states(
                fixed,
                days,
                executor=chosen,
                partitions=partitions,
                on_done=on_progress,
                claim_ids=None if covered is None else covered.get_column("claim_id").to_numpy(),
                **options,
            )
            results = collect_days(parts, days, out=out, executor=chosen.name, keep=keep)
        if covered is not None:
            results = [_with_portfolios(r, covered) for r in results]
        return results
    finally:
        if own:
            chosen.close()


def _in_one_piece(
    source: Source,
    day: date,
    out: str | Path | None,
    keep: bool,
    portfolios: bool,
    on_progress: Progress | None,
    **options,
) -> DayState:
    """One day in this process: streamed from Parquet files, else read whole."""
    started = time.perf_counter()
    if isinstance(source, ParquetSource) and not keep and not portfolios:
        log.info("claim_state as of %s from %s: streamed", day, _name(source))
        totals, meta = stream_state(
            source.claims_path, source.events_path, day, write_to=out, on_progress=on_progress, **options
        )
        return DayState(day, totals, meta, time.perf_counter() - started)
    log.info("claim_state as of %s from %s: read whole", day, _name(source))
    claims, events = source.whole()
    log.debug("read %d claims, %d events in %.3f s", claims.height, events.height, time.perf_counter() - started)
    table = compute_state(claims, events, day, on_progress=on_progress, **options)
    if out is not None:
        write_state_parquet(table, out)
    state = DayState(
        day, StateTotals.of_table(table), provenance(table), time.perf_counter() - started, table if keep else None
    )
    return _with_portfolios(state, claims.select("claim_id", "portfolio_id").sort("claim_id")) if portfolios else state


def _with_portfolios(state: DayState, covered: pl.DataFrame) -> DayState:
    return DayState(
        state.day, state.totals, state.provenance, state.seconds, state.table, covered.get_column("portfolio_id")
    )


def _name(source: Source) -> str:
    return type(source).__name__


def collect_days(
    parts: Iterable[PartitionState],
    days: Sequence[date],
    *,
    out: str | Path | None = None,
    executor: str = "local",
    keep: bool = False,
) -> list[DayState]:
    """Each day's claim_state from ``parts`` (each day's partitions in claim_id order, as
    ``partition_states`` hands them back): its totals and provenance, and its table if ``keep``.
    With ``out``, each partition is written as it comes to the day's staged file (one file for
    one day, else a folder of state-DAY.parquet), and all are moved into place together when the
    last partition of the last day came: the table of a day is never whole in memory (unless
    kept), and a failure leaves the previous files as they were."""
    staged = Staged(out, folder=len(days) > 1) if out is not None else None
    results: list[DayState] = []
    writer, totals, metas, tables, started = None, StateTotals(), [], [], time.perf_counter()
    try:
        for part in parts:
            if writer is None and staged is not None:
                writer = staged.open(state_file_name(part.day))
            if writer is not None:
                writer.write(part.table)
            totals.merge(StateTotals.of_table(part.table))
            metas.append(provenance(part.table))
            if keep:
                tables.append(part.table)
            if part.last:
                seconds = time.perf_counter() - started
                meta = merged_provenance(metas, executor, part.partitions, seconds)
                if writer is not None:
                    writer.close(meta)
                    writer = None
                table = (
                    with_provenance(pa.concat_tables(tables) if len(tables) > 1 else tables[0], meta) if keep else None
                )
                results.append(DayState(part.day, totals, meta, seconds, table))
                log.debug(
                    "as of %s: %d claims in %d partitions, %.3f s", part.day, totals.claims, part.partitions, seconds
                )
                totals, metas, tables, started = StateTotals(), [], [], time.perf_counter()
        if staged is not None:
            staged.commit()
    finally:
        if writer is not None:
            writer.abandon()
        if staged is not None:
            staged.discard()
    return results
