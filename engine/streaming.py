"""claim_state computed and written a chunk at a time, never whole in memory.

``stream_state``: Parquet files in, a Parquet file out, a slice of claims at a time with the events
of those claims, each slice checked and packed (``inputs.prepare``) on a thread while the kernel
runs over the slice before, run through the kernel into a reused buffer and handed to a writer
thread, while the next slices are decoded. Files that do not stream (not sorted, or any error) go
through ``file_inputs.prepare_files`` (the whole input, sorted there or refused with the engine's
exact error) and ``state_totals``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from engine import parquet_io
from engine.file_inputs import prepare_files
from engine.inputs import Prepared, prepare
from engine.kernel_run import CHUNK, KernelOutput, Progress, claim_state_table, kernel_into
from engine.kernels.grouping import strictly_increasing
from engine.metadata import combined_provenance
from engine.packing import packed
from engine.parquet_io import ClaimStateWriter, ReadWhole, engine_columns_in, rows_in, slices
from engine.prefetch import ahead
from engine.rules import RuleBook, StaleRulesError, load_rules
from engine.totals import StateTotals
from engine.validation import EngineInputError
from engine.waterfall import WaterfallSetting

log = logging.getLogger(__name__)


def state_totals(
    p: Prepared, *, write_to: str | Path | None = None, on_progress: Progress | None = None
) -> StateTotals:
    """claim_state's totals, and the table itself written to ``write_to`` (Parquet, as
    ``write_state_parquet`` writes it, provenance in its metadata) without ever holding it whole:
    CHUNK claims at a time (``computed_and_written``)."""
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    n = len(p.claim_id)
    chunks = ((p, dropped, a, min(n, a + CHUNK)) for a in range(0, n, CHUNK))
    return computed_and_written(chunks, n, CHUNK, write_to, on_progress, lambda: p.provenance)


#: A chunk of work for the kernel: inputs, their scratch (one False per event), claims first:stop.
Chunk = tuple[Prepared, np.ndarray, int, int]


def computed_and_written(
    chunks: Iterable[Chunk],
    n: int,
    rows: int,
    write_to: str | Path | None,
    on_progress: Progress | None,
    provenance: Callable[[], dict],
) -> StateTotals:
    """The kernel over each chunk (at most ``rows`` claims; ``n`` in all) into one of two buffers,
    each reused: while it fills one, a thread writes the chunk before from the other to
    ``write_to`` (fresh memory is costly, and the writer then runs beside the kernel;
    BENCHMARKS.md). The totals of every chunk; the file, with ``provenance()`` in its metadata,
    appears whole or not at all: it is written beside ``write_to`` and moved into place once
    complete; on any error none is left."""
    buffers = [KernelOutput.empty(min(n, rows)) for _ in range(1 if n <= rows else 2)]
    totals, done = StateTotals(), 0
    writer = ClaimStateWriter.beside(write_to)
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-state-writer") as pool:
            writing = [None] * len(buffers)  # each buffer's chunk being written, if any
            for k, (p, dropped, a, b) in enumerate(chunks):
                slot = k % len(buffers)
                if writing[slot] is not None:
                    writing[slot].result()  # this buffer's last chunk is on disk: reuse it
                    writing[slot] = None
                out = buffers[slot]
                kernel_into(p, dropped, out, a, b, a)  # whole buffers: one compiled signature
                chunk = out.head(b - a)
                totals.add(chunk)
                if writer is not None:
                    table = claim_state_table(p.claim_id[a:b], chunk, p.as_of_day)
                    writing[slot] = pool.submit(writer.write, table, b - a)
                done += b - a
                if on_progress is not None:
                    on_progress(done, n)
            for w in writing:
                if w is not None:
                    w.result()
        if writer is not None:
            writer.close(provenance())  # and moved into place
            writer = None
    finally:
        if writer is not None:
            writer.abandon()
    return totals


def stream_state(
    claims_path: str | Path,
    events_path: str | Path,
    as_of: date,
    *,
    write_to: str | Path | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
    on_progress: Progress | None = None,
) -> tuple[StateTotals, dict]:
    """claim_state of docs/data-contract.md Parquet files, a slice at a time from the files to ``write_to``
    (Parquet, as ``write_state_parquet`` writes it): its totals and provenance. The inputs are
    never whole in memory either: each slice of claims (``parquet_io.FILE_BATCH_ROWS``) is read with the events
    of those claims, checked and packed (``prepare``) on a thread while the kernel runs over the
    slice before, run through the kernel into a reused buffer and handed to a writer thread,
    while the next slices are decoded on threads. Memory stays that of a few slices however large
    the book, and stays memory already touched.

    Sorted files stream: claims by claim_id, events by claim_id then (day, id) with increasing
    event_ids. Anything else, and any error, goes to ``prepare_files`` and ``state_totals`` (the
    whole input: sorted there, or refused with the engine's exact error: counts and first ids of
    the whole input). The file appears whole or not at all."""
    rules = rules or load_rules()
    try:
        return _stream_state(
            Path(claims_path), Path(events_path), as_of, write_to, waterfall, allow_stale_rates, rules, on_progress
        )
    except (ReadWhole, EngineInputError, StaleRulesError) as why:
        log.debug("%s, %s: not streamed (%s)", claims_path, events_path, why)
        p = prepare_files(
            claims_path, events_path, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules
        )
        return state_totals(p, write_to=write_to, on_progress=on_progress), p.provenance


def _stream_state(
    claims_path: Path,
    events_path: Path,
    as_of: date,
    write_to: str | Path | None,
    waterfall: WaterfallSetting,
    allow_stale_rates: bool,
    rules: RuleBook,
    on_progress: Progress | None,
) -> tuple[StateTotals, dict]:
    n = rows_in(claims_path)
    if n == 0:
        raise ReadWhole("no claims: the whole path checks the columns")
    no_events = pl.scan_parquet(events_path).select(engine_columns_in(events_path, "events")).head(0).collect()
    metas: list[dict] = []

    def chunks() -> Iterator[Chunk]:
        events = claims_events(slices(events_path, "events"), no_events)
        next(events)  # primed: it takes the last claim_id of each slice of claims
        last_claim = np.iinfo(np.int64).min
        for claims in slices(claims_path, "claims"):
            ids = claims.get_column("claim_id")
            if ids.null_count() or not ids.dtype.is_integer():
                raise ReadWhole("claim_id: null or not an integer")
            ids = packed(ids, np.int64)
            if ids[0] <= last_claim or not strictly_increasing(ids):
                raise ReadWhole("claims not in claim_id order, or a claim_id repeated")
            last_claim = ids[-1]
            p = prepare(
                claims,
                events.send(last_claim),
                as_of,
                waterfall=waterfall,
                allow_stale_rates=allow_stale_rates,
                rules=rules,
            )
            metas.append(p.provenance)
            yield p, np.zeros(len(p.ev_day), dtype=np.bool_), 0, len(p.claim_id)
        events.send(None)  # every event was taken by a claim of these slices

    # each slice checked and packed on a thread while the kernel runs over the one before
    totals = computed_and_written(
        ahead(chunks(), "claim-state-prepare"),
        n,
        parquet_io.FILE_BATCH_ROWS,
        write_to,
        on_progress,
        lambda: combined_provenance(metas),
    )
    return totals, combined_provenance(metas)


def claims_events(frames: Iterator[pl.DataFrame], no_events: pl.DataFrame):
    """A generator sent the last claim_id of each slice of claims, in order, and yielding the
    events of those claims (all events up to that claim_id that came after the previous slice's;
    ``no_events``, the file's columns with no rows, when there are none), read from ``frames`` as
    far as needed. Sent None at the end, it checks that no event is left. Raises ``ReadWhole``
    where the events are not in claim_id order with increasing event_ids (then the whole path
    sorts them or gives its error)."""
    held: list[pl.DataFrame] = []  # read, not yet handed out
    reading = True
    last_event = np.iinfo(np.int64).min
    last_claim = yield None
    while last_claim is not None:
        while reading and (not held or held[-1].get_column("claim_id")[-1] <= last_claim):
            frame = next(frames, None)
            if frame is None:
                reading = False
                break
            claim_id, event_id = frame.get_column("claim_id"), frame.get_column("event_id")
            if (
                claim_id.null_count()
                or event_id.null_count()
                or not claim_id.dtype.is_integer()
                or not event_id.dtype.is_integer()
            ):
                raise ReadWhole("events: a null or non-integer id")
            if frame.height == 0:
                continue
            ids = packed(event_id, np.int64)
            if ids[0] <= last_event or not strictly_increasing(ids):
                raise ReadWhole("event_ids not increasing: the whole path checks them unique")
            after = held[-1].get_column("claim_id")[-1] if held else None
            if not claim_id.is_sorted() or (after is not None and claim_id[0] < after):
                raise ReadWhole("events not in claim_id order")
            last_event = ids[-1]
            held.append(frame)
        events = pl.concat(held, rechunk=False) if len(held) > 1 else (held[0] if held else no_events)
        cut = int(np.searchsorted(packed(events.get_column("claim_id"), np.int64), last_claim, side="right"))
        held = [events.slice(cut)] if cut < events.height else []
        last_claim = yield events.slice(0, cut)
    if held or next(frames, None) is not None:
        raise ReadWhole("events of claims after the last claim")
    yield None
