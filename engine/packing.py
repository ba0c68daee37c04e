"""Frames into the kernel's arrays: each column as one contiguous numpy array (dates as day
numbers, enums as codes, nulls as a fill value), and which column becomes which array.

No checks here beyond dtypes (``inputs`` checks the data contract first); these are the
primitives ``inputs.prepare_inputs`` (whole frames) and ``file_inputs.prepare_files`` (Parquet
slices written into arrays for the whole file) share.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine.domain import CLAIM_LIMITATION_KINDS, EventKind, InterestBasis
from engine.kernels import codes as kernel_codes
from engine.kernels.calendar import NULL_DAY

#: What the engine takes as a table: a polars frame (eager or lazy) or an Arrow table.
Frame = pl.DataFrame | pl.LazyFrame | pa.Table

#: The inputs as whole arrays (the names of CLAIM_ARRAYS and EVENT_ARRAYS), claims by claim_id and
#: events by (claim, day, id), checked row by row (docs/data-contract.md's types, enums and row rules) but
#: not yet as a whole.
Columns = dict[str, np.ndarray]

#: How each column becomes a kernel array: (the column, dtype, the value of a null or None where
#: none may be, the Enum's values for a closed set).
ArraySpec = tuple[str, type, int | None, list[str] | None]

CLAIM_ARRAYS: dict[str, ArraySpec] = {
    "claim_id": ("claim_id", np.int64, None, None),
    "principal": ("principal", np.int64, None, None),
    "interest": ("interest_at_cutoff", np.int64, None, None),
    "costs": ("costs_at_cutoff", np.int64, None, None),
    "due": ("due_date", np.int32, None, None),
    "cutoff": ("cutoff_date", np.int32, None, None),
    "contract_bp": ("contractual_rate_bp", np.int32, 0, None),
    "basis": ("interest_basis", np.int8, None, [b.value for b in InterestBasis]),
    # the claim kinds are the first of LimitationKind: their Enum codes are the kernel's
    "limitation_kind": ("limitation_kind", np.int8, None, [m.value for m in CLAIM_LIMITATION_KINDS]),
    "custom_years": ("limitation_years", np.int64, 0, None),
    "title_day": ("title_date", np.int32, NULL_DAY, None),
}
EVENT_ARRAYS: dict[str, ArraySpec] = {
    "ev_claim": ("claim_id", np.int64, None, None),
    "ev_day": ("event_date", np.int32, None, None),
    "ev_id": ("event_id", np.int64, None, None),
    "ev_kind": ("kind", np.int8, None, [k.value for k in EventKind]),
    "ev_value": ("amount", np.int64, 0, None),  # a reversal's: see put_reverses
}
#: The event arrays that order the events: claim, day, id.
ORDER_ARRAYS = ("ev_claim", "ev_day", "ev_id")
#: The event arrays kept whole when the files are read a slice at a time (not each event's claim).
SLICED_EVENT_ARRAYS = {name: how for name, how in EVENT_ARRAYS.items() if name != "ev_claim"}


def as_polars(frame: Frame, name: str) -> pl.DataFrame:
    """``frame`` as an eager polars frame (a LazyFrame collected, an Arrow table converted)."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pa.Table):
        return pl.from_arrow(frame)  # type: ignore[return-value]
    if isinstance(frame, pl.DataFrame):
        return frame
    raise TypeError(f"{name}: expected a polars DataFrame/LazyFrame or a pyarrow Table, got {type(frame).__name__}")


def frozen(array: np.ndarray) -> np.ndarray:
    """A contiguous read-only array. Every kernel input goes through here so numba sees one type
    per argument: polars hands out read-only zero-copy arrays or writable copies depending on
    nulls and chunks, and each mix would compile the kernel again."""
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def packed(series: pl.Series, dtype: type, fill: int | None = None) -> np.ndarray:
    """The column as one contiguous numpy array of ``dtype`` (dates as day numbers, Enums as codes),
    nulls as ``fill``. Chunks are copied straight into the result: no whole-column intermediates
    (``fill_null`` and a multi-chunk ``to_numpy`` each allocate a copy, and fresh memory is much of
    the cost at 10M claims). A single chunk without nulls is a view, no copy at all."""
    if series.n_chunks() == 1 and not series.null_count():
        values = series.to_physical().to_numpy()
        if values.dtype == dtype:
            return values
    out = np.empty(series.len(), dtype=dtype)
    pack_into(series, out, 0, fill)
    return out


def pack_into(series: pl.Series, out: np.ndarray, at: int, fill: int | None) -> None:
    """The column's values into ``out[at:]``, chunk by chunk, nulls as ``fill``."""
    for chunk in series.get_chunks():
        if chunk.null_count():
            if fill is None:
                raise ValueError(f"{series.name}: nulls where none were expected")
            chunk = chunk.fill_null(fill) if not chunk.dtype.is_temporal() else chunk.to_physical().fill_null(fill)
        values = chunk.to_physical().to_numpy()
        out[at : at + len(values)] = values
        at += len(values)


def codes(series: pl.Series, values: list[str]) -> np.ndarray:
    """Each value's position in ``values`` (an Enum of exactly these values, see
    ``validation.as_enums``; checked beforehand: no nulls)."""
    if series.dtype != pl.Enum(values):
        raise TypeError(f"{series.name}: expected Enum{values}, got {series.dtype}")  # a bug, not bad data
    return packed(series, np.int8)


def array(series: pl.Series, dtype: type, fill: int | None, values: list[str] | None) -> np.ndarray:
    """The column as the kernel array its ``ArraySpec`` describes."""
    if values is not None:
        return codes(series, values)
    return packed(series, dtype, fill)


#: polars' integer type of each array dtype
_POLARS_INT = {np.int64: pl.Int64, np.int32: pl.Int32, np.int8: pl.Int8}


def arrays_in_one_query(frame: pl.DataFrame, specs: dict[str, ArraySpec]) -> Columns:
    """Every array of ``specs`` (as ``array`` makes each) from one query over ``frame``: for a frame
    of a few rows (one claim's balance), where each polars call's fixed cost (~50 µs) is most of
    the work, instead of two or three calls a column."""
    schema = frame.schema
    exprs = []
    for name, (column, dtype, fill, values) in specs.items():
        if values is not None and schema[column] != pl.Enum(values):
            raise TypeError(f"{column}: expected Enum{values}, got {schema[column]}")  # a bug, not bad data
        value = pl.col(column).to_physical()
        if fill is not None:
            value = value.fill_null(fill)
        exprs.append(value.cast(_POLARS_INT[dtype]).alias(name))
    out = frame.select(exprs)
    columns = {}
    for name in specs:
        series = out.get_column(name)
        if series.null_count():
            raise ValueError(f"{specs[name][0]}: nulls where none were expected")
        columns[name] = series.to_numpy()
    return columns


def event_order(events: pl.DataFrame) -> Columns:
    """The arrays that order the events: claim, day, id."""
    return {name: array(events.get_column(EVENT_ARRAYS[name][0]), *EVENT_ARRAYS[name][1:]) for name in ORDER_ARRAYS}


def put_reverses(values: np.ndarray, kinds: np.ndarray, reverses: pl.Series) -> None:
    """Each reversal's ``reverses``, the event_id it names, into ``values`` (the events' amounts)
    in place of its amount; ``kernels.grouping.reversal_targets`` then makes it that event's index."""
    at = np.flatnonzero(kinds == kernel_codes.REVERSAL)
    if len(at):
        values[at] = reverses.gather(at).to_numpy()


def own(values: np.ndarray) -> np.ndarray:
    """``values``, or a copy where they are a frame's memory (a view, or read-only)."""
    return values if values.base is None and values.flags.writeable else values.copy()
