"""``prepare_files``: docs/data-contract.md Parquet files into ``inputs.Prepared``, read a slice at a
time straight into the kernel's arrays, so the files are never whole frames in memory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from engine.inputs import Prepared, checked_claims, checked_events, inputs_of, prepare
from engine.kernels.grouping import close_offsets, count_events, strictly_increasing
from engine.packing import CLAIM_ARRAYS, SLICED_EVENT_ARRAYS, ArraySpec, frozen, pack_into, packed, put_reverses
from engine.parquet_io import ReadWhole, read_engine_columns, rows_in, slices
from engine.rules import RuleBook, load_rules
from engine.validation import EngineInputError
from engine.waterfall import WaterfallSetting, resolve

log = logging.getLogger(__name__)


def prepare_files(
    claims_path: str | Path,
    events_path: str | Path,
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> Prepared:
    """``prepare`` for docs/data-contract.md Parquet files, read a batch at a time straight into the kernel's
    arrays: the files are never whole frames in memory (at 10M claims, ~2.7 GB less memory to
    touch, and fresh memory is what this costs most; BENCHMARKS.md). Every batch goes through
    ``prepare``'s checks. Where anything is off (a check fails, ids out of order or repeated, an
    event of an unknown claim, a per-portfolio waterfall), the files are read whole and handed to
    ``prepare``, which sorts them or raises its error with the total count and the first ids:
    the result and the errors are ``prepare``'s, only quicker on clean sorted files."""
    rules = rules or load_rules()
    try:
        return prepare_batches(Path(claims_path), Path(events_path), as_of, waterfall, allow_stale_rates, rules)
    except (ReadWhole, EngineInputError) as why:
        log.debug("%s, %s: read whole (%s)", claims_path, events_path, why)
        claims = read_engine_columns(claims_path, "claims")
        events = read_engine_columns(events_path, "events")
        return prepare(claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)


def read_batches(
    path: Path,
    table: str,
    arrays: dict[str, ArraySpec],
    checked: Callable[[pl.DataFrame], pl.DataFrame],
    each: Callable[[pl.DataFrame, int, dict[str, np.ndarray]], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Each of ``arrays`` (name -> column, dtype, fill, values) filled from the file a slice at a
    time (``parquet_io.slices``), every slice checked by ``checked`` first; then ``each(slice, first row,
    the arrays)`` may look at the slice and refuse it (False)."""
    n = rows_in(path)
    out = {name: np.empty(n, dtype=dtype) for name, (_, dtype, _, _) in arrays.items()}
    at = 0
    for raw in slices(path, table):
        frame = checked(raw)
        if frame.height == 0:
            break
        for name, (column, _, fill, _) in arrays.items():
            pack_into(frame.get_column(column), out[name], at, fill)  # Enums: their codes
        if each is not None and not each(frame, at, out):
            raise ReadWhole(f"{path}: rows {at + 1}.. refused")
        at += frame.height
    if at != n or n == 0:  # no slice, no checks (e.g. of the columns): the whole path decides
        raise ReadWhole(f"{path}: {at} rows read of {n}")
    return out


def prepare_batches(
    claims_path: Path,
    events_path: Path,
    as_of: date,
    waterfall: WaterfallSetting,
    allow_stale_rates: bool,
    rules: RuleBook,
) -> Prepared:
    if resolve(waterfall)[1]:
        raise ReadWhole("a per-portfolio waterfall reads portfolio_id")
    claims = read_batches(claims_path, "claims", CLAIM_ARRAYS, checked_claims)
    claim_id = frozen(claims["claim_id"])
    if not strictly_increasing(claim_id):
        raise ReadWhole("claims to sort or with a repeated claim_id")
    # the claim of each event is read a slice at a time, only to count each claim's events
    offsets = np.zeros(len(claim_id) + 1, dtype=np.int64)
    low = np.iinfo(np.int64).min
    carry = np.array([0, 0, low, low, low], dtype=np.int64)

    def count(frame: pl.DataFrame, at: int, out: dict[str, np.ndarray]) -> bool:
        ev_claim = frozen(packed(frame.get_column("claim_id"), np.int64))  # frozen: one compiled signature
        rows = slice(at, at + len(ev_claim))
        put_reverses(out["ev_value"][rows], out["ev_kind"][rows], frame.get_column("reverses"))
        return count_events(claim_id, ev_claim, frozen(out["ev_day"][rows]), frozen(out["ev_id"][rows]), offsets, carry)

    events = read_batches(events_path, "events", SLICED_EVENT_ARRAYS, checked_events, count)
    if not strictly_increasing(events["ev_id"]):
        raise ReadWhole("a repeated event_id")
    close_offsets(offsets, carry)
    inputs = inputs_of({**claims, **events}, offsets, waterfall, rules, None)
    return inputs.at(as_of, allow_stale_rates=allow_stale_rates, rules=rules)
