"""The journal of a book in Parquet files, a slice of claims at a time (a 10M-claim book in a few GB).

Everything the journal computes is per claim (a claim's events, its two engine states, the
balances before its write-off, its postings); only the order of the lines (entry day first) and the
totals span claims. So the claims are read ``SLICE_CLAIMS`` at a time in claim_id order, each slice
with its events (``engine.streaming.claims_events``: the files' own order, as the engine's streamed
path reads them), measured and posted as the whole book would be (``movements.measure``,
``journal.postings``, ``journal.keyed``: every transaction checked to balance), and kept as keyed
lines (numbers and categoricals, no text per line), two slices at once on two threads. The
slices' lines, each in the journal's order and in increasing claim_ids, put in the journal's
order by a stable sort on the entry day alone.

Files that do not stream -- claims not in claim_id order, events not in claim_id order with
increasing event_ids, an event of no claim after the last, a column missing, a reversal naming an
event of another claim (or of none) -- raise ``NotStreamed``; the caller then reads the whole book
(``book.from_files``), which gives the same journal or the same error.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from engine.packing import packed
from engine.parquet_io import FILE_BATCH_ROWS, ReadWhole, rows_in
from engine.prefetch import ahead
from engine.streaming import claims_events
from engine.waterfall import WaterfallSetting
from ledger.book import CLAIM_COLUMNS, EVENT_COLUMNS, Book
from ledger.chart import Chart
from ledger.journal import KEYED_SCHEMA, keyed_journal
from ledger.movements import Period, measure

log = logging.getLogger(__name__)

#: claims per slice: ~1.5 GB of work each
SLICE_CLAIMS = 1 << 20
#: slices computed at once (each on its own thread)
SLICES_AT_ONCE = 2
#: optional event columns (a book from files may lack them: ``Book`` fills them)
OPTIONAL_EVENT_COLUMNS = ("recorded_on", "source")


class NotStreamed(Exception):
    """The files do not stream (see the module's docstring): read the whole book instead."""


def _frames(path: Path, columns: list[str], rows: int, name: str) -> Iterator[pl.DataFrame]:
    n = rows_in(path)
    scan = pl.scan_parquet(path).select(columns)
    return ahead((scan.slice(start, rows).collect() for start in range(0, n, rows)), name)


def _columns(path: Path, wanted: list[str], optional: tuple[str, ...] = ()) -> list[str]:
    if not path.exists():
        raise NotStreamed(f"{path}: no such file")
    try:
        present = pl.read_parquet_schema(path)
    except Exception as e:  # not Parquet: the whole path gives the error
        raise NotStreamed(f"{path}: {e}") from None
    missing = [c for c in wanted if c not in present and c not in optional]
    if missing:
        raise NotStreamed(f"{path}: no column {', '.join(missing)}")
    return [c for c in wanted if c in present]


def slices(
    claims_path: Path, events_path: Path, portfolio: str | None, waterfall: WaterfallSetting, rows: int = SLICE_CLAIMS
) -> Iterator[Book]:
    """The book of the files, ``rows`` claims at a time, each slice with all its claims' events
    (``portfolio``: only that portfolio's claims)."""
    claim_columns = _columns(claims_path, CLAIM_COLUMNS)
    event_columns = _columns(events_path, EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS)
    if rows_in(claims_path) == 0:
        raise NotStreamed("no claims")
    no_events = pl.scan_parquet(events_path).select(event_columns).head(0).collect()
    try:
        events = claims_events(_frames(events_path, event_columns, FILE_BATCH_ROWS, "journal-events"), no_events)
        next(events)
        last_claim = np.iinfo(np.int64).min
        for claims in _frames(claims_path, claim_columns, rows, "journal-claims"):
            ids = claims.get_column("claim_id")
            if ids.null_count() or not ids.dtype.is_integer() or claims.height == 0:
                raise NotStreamed("claim_id: null or not an integer")
            ids = packed(ids, np.int64)
            if ids[0] <= last_claim or bool(np.any(ids[1:] <= ids[:-1])):
                raise NotStreamed("claims not in claim_id order, or a claim_id repeated")
            last_claim = int(ids[-1])
            claims = claims.with_columns(pl.col("claim_id").set_sorted())  # checked: Book need not sort them
            mine = events.send(last_claim)
            _own_reversals(mine)
            if portfolio:
                claims = claims.filter(pl.col("portfolio_id") == portfolio)
                mine = mine.join(claims.select("claim_id"), on="claim_id", how="semi")
                if claims.height == 0:
                    continue
            yield Book(claims, mine, waterfall=waterfall)
        events.send(None)
    except ReadWhole as why:
        raise NotStreamed(str(why)) from None


def _own_reversals(events: pl.DataFrame) -> None:
    """Every reversal names an event of its own claim within ``events`` (else a slice could not
    see what the whole book sees)."""
    reversals = events.filter(pl.col("kind") == "reversal").select("claim_id", "reverses")
    if reversals.height == 0:
        return
    # the targets first (a hash of the few reversals, not of every event), then the join
    targets = events.select("event_id", "claim_id").filter(
        pl.col("event_id").is_in(reversals.get_column("reverses").implode())
    )
    found = reversals.join(
        targets.select(pl.col("event_id").alias("reverses"), target_claim="claim_id"), on="reverses", how="left"
    )
    if found.filter(pl.col("target_claim").is_null() | (pl.col("target_claim") != pl.col("claim_id"))).height:
        raise NotStreamed("a reversal naming an event of another claim, or of none")


def journal_of_files(
    claims_path: Path,
    events_path: Path,
    period: Period,
    chart: Chart,
    *,
    portfolio: str | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rows: int = SLICE_CLAIMS,
) -> pl.DataFrame:
    """The period's journal of the book in the files as keyed lines (``journal.KEYED_SCHEMA``, in
    the journal's order), a slice of claims at a time (``NotStreamed`` where the files do not
    stream)."""

    def journal_of(book: Book) -> pl.DataFrame:
        keyed = keyed_journal(measure(book, period, allow_stale_rates=allow_stale_rates), chart)
        log.info(
            "journal: slice of %d claims up to %d, %d lines",
            book.claims.height,
            book.claims["claim_id"][-1],
            keyed.height,
        )
        return keyed

    # SLICES_AT_ONCE slices computed on as many threads (polars and numba release the GIL: the
    # parts of a slice's work that use one core leave the other to the next slice), kept in order
    parts: list[pl.DataFrame] = []
    running: deque[Future[pl.DataFrame]] = deque()
    with ThreadPoolExecutor(max_workers=SLICES_AT_ONCE, thread_name_prefix="journal-slice") as pool:
        try:
            for book in slices(Path(claims_path), Path(events_path), portfolio, waterfall, rows):
                if len(running) == SLICES_AT_ONCE:
                    parts.append(running.popleft().result())
                running.append(pool.submit(journal_of, book))
            while running:
                parts.append(running.popleft().result())
        finally:
            for f in running:
                f.cancel()
    if not parts:
        return pl.DataFrame(schema=KEYED_SCHEMA)
    if len(parts) == 1:
        return parts[0]
    # each slice in the journal's order, the slices in increasing claim_ids: the entry day first
    return _by_day(parts)


#: past this many pieces (days x slices), the slices' lines are sorted instead
MAX_PIECES = 10_000


def _by_day(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """The lines of ``parts`` (each in the journal's order) by entry day (no day first), each
    day's lines of the parts in the parts' order: what a stable sort on the entry day gives, as
    slices of the parts (no copy of the lines)."""
    low = np.iinfo(np.int32).min
    days = [part.get_column("entry_date").cast(pl.Int32).fill_null(low).to_numpy() for part in parts]
    every = np.unique(np.concatenate([np.unique(d) for d in days]))
    if len(every) * len(parts) > MAX_PIECES:
        return pl.concat(parts, rechunk=False).sort("entry_date", maintain_order=True)
    bounds = [np.searchsorted(d, every, side="left").tolist() + [len(d)] for d in days]
    pieces = [
        part.slice(b[i], b[i + 1] - b[i])
        for i in range(len(every))
        for part, b in zip(parts, bounds, strict=True)
        if b[i + 1] > b[i]
    ]
    return pl.concat(pieces, rechunk=False) if pieces else parts[0].clear()
