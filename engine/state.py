"""``compute_state``: claims and events (docs/data-contract.md) in, claim_state out, exactly as docs/engine.md defines.

The typed wrapper around the kernels: it checks the inputs, the rule tables' validity and the
int64 overflow budget, packs frames into arrays, runs the kernel and rebuilds an Arrow table whose
schema metadata records how it was computed (``provenance``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from engine.domain import CLAIM_LIMITATION_KINDS, EventKind, InterestBasis, LimitationKind
from engine.kernels import codes as kernel_codes
from engine.kernels.calendar import NULL_DAY, calendar_tables
from engine.kernels.claim_state import (
    DAY_COLUMNS,
    FLAG_COLUMNS,
    MONEY_COLUMNS,
    N_OUTPUTS,
    claim_one,
    claim_scratch,
    claim_states,
)
from engine.kernels.grouping import (
    balance_bounds,
    close_offsets,
    count_events,
    event_offsets,
    events_in_order,
    reversal_targets,
    strictly_increasing,
)
from engine.kernels.limitation import first_day_reaching
from engine.prefetch import ahead
from engine.rules import RuleBook, StaleRulesError, day_number, from_day_number, load_rules
from engine.schema import CLAIM_STATE, CLAIMS, EVENTS, NOT_READ_BY_ENGINE, STATE_MONEY, engine_columns
from engine.validation import (
    EngineInputError,
    as_enums,
    check_claims,
    check_events,
    check_unique,
    check_unknown_claims,
    conform,
    reversal_error,
)
from engine.waterfall import ALL_WATERFALLS, ORDER_CODES, WaterfallSetting, resolve

#: The kernel's money rows are claim_state's int64 columns (but claim_id), in order.
assert len(STATE_MONEY) == MONEY_COLUMNS

ENGINE_VERSION = "2"  # 2: limitation rule set 2026-12, interest_time_barred
METADATA_KEY = b"cession"
#: Claims per kernel call: the unit of progress reporting (the kernel is parallel inside a call).
CHUNK = 1_000_000
#: Balances must stay below this; int64 holds 2**63 - 1, the margin covers the bound's looseness.
BALANCE_LIMIT = float(2**62)

#: Which rate table decides each interest basis (engine/domain.py), and whether it caps a contractual
#: rate: a basis without a table pays its contract rate, which is 0 (zeroed but for contract-rate bases).
BASIS_TABLE: dict[InterestBasis, tuple[str | None, bool]] = {
    b: (b.rates.table, b.capped) if b.rates is not None else (None, True) for b in InterestBasis
}

Frame = pl.DataFrame | pl.LazyFrame | pa.Table
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class KernelRules:
    """The rule book as the kernel's arrays."""

    rate_day: np.ndarray
    rate_bp: np.ndarray
    rate_last: np.ndarray
    basis_first_row: np.ndarray
    basis_end_row: np.ndarray
    basis_capped: np.ndarray
    limitation: np.ndarray
    calendar_base: int
    civil: np.ndarray
    first_year: int
    month_start: np.ndarray

    @property
    def rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rate tables as ``kernels.interest.accrue`` takes them."""
        return self.rate_day, self.rate_bp, self.rate_last

    @property
    def calendar(self) -> tuple:
        """The calendar tables as ``kernels.limitation.law_end`` takes them."""
        return self.calendar_base, self.civil, self.first_year, self.month_start

    @classmethod
    def of(cls, rules: RuleBook) -> KernelRules:
        days, bps, lasts, first, end, capped = [], [], [], [], [], []
        row = 0
        for basis in InterestBasis:
            table_name, is_cap = BASIS_TABLE[basis]
            first.append(row)
            if table_name is not None:
                table = rules.rates[table_name]
                day, bp = table.days, table.bps
                if not is_cap:  # a row that repeats the rate before it starts no new piece: drop it
                    keep = np.ones(len(bp), dtype=np.bool_)
                    keep[1:] = bp[1:] != bp[:-1]
                    day, bp = day[keep], bp[keep]
                days.append(day)
                bps.append(bp)
                lasts.append(np.append(day[1:].astype(np.int64) - 1, np.iinfo(np.int32).max))
                row += len(bp)
            end.append(row)
            capped.append(is_cap)
        lim = rules.limitation

        def years(version) -> list[int]:
            return [version.years[k] or 0 for k in LimitationKind]

        limitation = np.array(
            [day_number(lim.reform_day)]
            + years(lim.before)
            + [lim.before.year_end_min_years or 0]
            + years(lim.after)
            + [lim.after.year_end_min_years or 0],
            dtype=np.int64,
        )
        # civil dates for every day of the holiday calendar's years, month starts far enough past its end
        # for any statutory run from a day in it (outside both the kernels compute the same arithmetically)
        first_year, last_year = rules.holidays.first_year, rules.holidays.last_year
        n_days = day_number(date(last_year + 1, 1, 1)) - rules.holidays.base_day
        n_years = last_year - first_year + 1 + int(limitation[1:].max()) + 1
        civil, month_start = _calendar_tables(rules.holidays.base_day, n_days, first_year, n_years)
        return cls(
            rate_day=frozen(np.concatenate(days).astype(np.int32)),
            rate_bp=frozen(np.concatenate(bps).astype(np.int32)),
            rate_last=frozen(np.concatenate(lasts).astype(np.int32)),
            basis_first_row=frozen(np.array(first, dtype=np.int64)),
            basis_end_row=frozen(np.array(end, dtype=np.int64)),
            basis_capped=frozen(np.array(capped, dtype=np.bool_)),
            limitation=frozen(limitation),
            calendar_base=rules.holidays.base_day,
            civil=civil,
            first_year=first_year,
            month_start=month_start,
        )


def _to_polars(frame: Frame, name: str) -> pl.DataFrame:
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pa.Table):
        return pl.from_arrow(frame)  # type: ignore[return-value]
    if isinstance(frame, pl.DataFrame):
        return frame
    raise TypeError(f"{name}: expected a polars DataFrame/LazyFrame or a pyarrow Table, got {type(frame).__name__}")


@cache
def _calendar_tables(first_day: int, n_days: int, first_year: int, n_years: int) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.calendar.calendar_tables``, built once per calendar rather than on every
    ``prepare``: ~13 ms each."""
    civil, month_start = calendar_tables(first_day, n_days, first_year, n_years)
    return frozen(civil), frozen(month_start)


def frozen(array: np.ndarray) -> np.ndarray:
    """A contiguous read-only array. Every kernel input goes through here so numba sees one type
    per argument: polars hands out read-only zero-copy arrays or writable copies depending on
    nulls and chunks, and each mix would compile the kernel again."""
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _packed(series: pl.Series, dtype: type, fill: int | None = None) -> np.ndarray:
    """The column as one contiguous numpy array of ``dtype`` (dates as day numbers, Enums as codes),
    nulls as ``fill``. Chunks are copied straight into the result: no whole-column intermediates
    (``fill_null`` and a multi-chunk ``to_numpy`` each allocate a copy, and fresh memory is much of
    the cost at 10M claims). A single chunk without nulls is a view, no copy at all."""
    if series.n_chunks() == 1 and not series.null_count():
        values = series.to_physical().to_numpy()
        if values.dtype == dtype:
            return values
    out = np.empty(series.len(), dtype=dtype)
    _pack_into(series, out, 0, fill)
    return out


def _pack_into(series: pl.Series, out: np.ndarray, at: int, fill: int | None) -> None:
    """The column's values into ``out[at:]``, chunk by chunk, nulls as ``fill``."""
    for chunk in series.get_chunks():
        if chunk.null_count():
            if fill is None:
                raise ValueError(f"{series.name}: nulls where none were expected")
            chunk = chunk.fill_null(fill) if not chunk.dtype.is_temporal() else chunk.to_physical().fill_null(fill)
        values = chunk.to_physical().to_numpy()
        out[at : at + len(values)] = values
        at += len(values)


def _codes(series: pl.Series, values: list[str]) -> np.ndarray:
    """Each value's position in ``values`` (an Enum of exactly these values, see ``as_enums``;
    checked beforehand: no nulls)."""
    if series.dtype != pl.Enum(values):
        raise TypeError(f"{series.name}: expected Enum{values}, got {series.dtype}")  # a bug, not bad data
    return _packed(series, np.int8)


@dataclass
class Prepared:
    """Validated inputs as the kernel's arrays (claims by claim_id, events by claim, day, id)."""

    claim_id: np.ndarray
    principal: np.ndarray
    interest: np.ndarray
    costs: np.ndarray
    due: np.ndarray
    cutoff: np.ndarray
    contract_bp: np.ndarray
    limitation_kind: np.ndarray
    custom_years: np.ndarray
    title_day: np.ndarray
    basis: np.ndarray
    order: np.ndarray
    offsets: np.ndarray
    ev_day: np.ndarray
    ev_kind: np.ndarray
    ev_value: np.ndarray  # an event's amount, or for a reversal the index of the event it cancels
    ev_id: np.ndarray
    as_of_day: int
    rules: KernelRules
    provenance: dict

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(self, name, frozen(value))

    def at(self, as_of: date, *, allow_stale_rates: bool = False, rules: RuleBook | None = None) -> Prepared:
        """These inputs as of ``as_of``, after the checks that depend on the day: the rate tables'
        validity (``StaleRulesError`` past it unless ``allow_stale_rates``), the rates covering
        every claim's accrual, and the overflow budget. The arrays are shared, not copied: one
        ``prepare`` serves every day of a series."""
        rules = rules or load_rules()
        used = self.provenance["rate_tables_used"]
        stale = rules.stale(used, as_of)
        if stale and not allow_stale_rates:
            raise StaleRulesError(stale, as_of)

        as_of_day = day_number(as_of)
        accrual_start = np.maximum(self.due, self.cutoff) + 1
        _check_rates_cover(self.claim_id, self.basis, accrual_start, as_of_day, rules)

        is_contractual = self.basis == [b.value for b in InterestBasis].index(InterestBasis.CONTRACTUAL)
        max_table_bp = max(max(t.rate_bp) for t in rules.rates.values())
        max_bp = np.where(is_contractual, self.contract_bp, np.int32(max_table_bp))
        bound = balance_bounds(
            self.principal,
            self.interest,
            self.costs,
            accrual_start,
            max_bp,
            self.offsets,
            self.ev_kind,
            self.ev_value,
            as_of_day,
        )
        over = bound >= BALANCE_LIMIT
        if over.any():
            raise EngineInputError(
                "claims",
                "principal",
                "balances could exceed int64 grosz (overflow budget: principal, interest, costs, cost events, "
                "capitalizations and the rate over the days to as_of)",
                self.claim_id[over][:5].tolist(),
                int(over.sum()),
            )
        meta = self.provenance
        provenance = {
            "engine_version": meta["engine_version"],
            "as_of": as_of.isoformat(),
            "waterfall": meta["waterfall"],
            "waterfall_by_portfolio": meta["waterfall_by_portfolio"],
            "allow_stale_rates": allow_stale_rates,
            "stale_rate_tables": {t.name: t.last_valid.isoformat() for t in stale},
            **{k: meta[k] for k in ("rate_tables_used", "rules", "claims", "events")},
        }
        return dataclasses.replace(self, as_of_day=as_of_day, provenance=provenance)


#: ``Prepared.as_of_day`` of inputs not yet as of a day (``Prepared.at`` gives them one).
NOT_AS_OF = NULL_DAY


#: The inputs as whole arrays (the names of CLAIM_ARRAYS and EVENT_ARRAYS), claims by claim_id and
#: events by (claim, day, id), checked row by row (docs/data-contract.md's types, enums and row rules) but
#: not yet as a whole.
Columns = dict[str, np.ndarray]


#: How each column becomes a kernel array: (dtype, the value of a null or None where none may be,
#: the Enum's values for a closed set).
CLAIM_ARRAYS: dict[str, tuple[str, type, int | None, list[str] | None]] = {
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
EVENT_ARRAYS: dict[str, tuple[str, type, int | None, list[str] | None]] = {
    "ev_claim": ("claim_id", np.int64, None, None),
    "ev_day": ("event_date", np.int32, None, None),
    "ev_id": ("event_id", np.int64, None, None),
    "ev_kind": ("kind", np.int8, None, [k.value for k in EventKind]),
    "ev_value": ("amount", np.int64, 0, None),  # a reversal's: see _put_reverses
}


def _array(series: pl.Series, dtype: type, fill: int | None, values: list[str] | None) -> np.ndarray:
    if values is not None:
        return _codes(series, values)
    return _packed(series, dtype, fill)


def _event_order(events: pl.DataFrame) -> dict[str, np.ndarray]:
    """The columns that order the events: claim, day, id."""
    return {name: _array(events.get_column(EVENT_ARRAYS[name][0]), *EVENT_ARRAYS[name][1:]) for name in ORDER_ARRAYS}


ORDER_ARRAYS = ("ev_claim", "ev_day", "ev_id")


def _put_reverses(values: np.ndarray, kinds: np.ndarray, reverses: pl.Series) -> None:
    """Each reversal's ``reverses``, the event_id it names, into ``values`` (the events' amounts)
    in place of its amount; ``reversal_targets`` then makes it that event's index."""
    at = np.flatnonzero(kinds == kernel_codes.REVERSAL)
    if len(at):
        values[at] = reverses.gather(at).to_numpy()


def _own(values: np.ndarray) -> np.ndarray:
    """``values``, or a copy where they are a frame's memory (a view, or read-only)."""
    return values if values.base is None and values.flags.writeable else values.copy()


def _checked_claims(frame: pl.DataFrame) -> pl.DataFrame:
    claims = as_enums(conform(frame, "claims", CLAIMS, NOT_READ_BY_ENGINE["claims"]), "claims", CLAIMS)
    check_claims(claims)
    return claims


def _checked_events(frame: pl.DataFrame) -> pl.DataFrame:
    events = as_enums(conform(frame, "events", EVENTS, NOT_READ_BY_ENGINE["events"]), "events", EVENTS)
    check_events(events)
    return events


def prepare(
    claims: Frame,
    events: Frame,
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> Prepared:
    """Check the inputs (docs/data-contract.md, rule validity, overflow budget) and pack them for the kernel."""
    rules = rules or load_rules()
    inputs = prepare_inputs(claims, events, waterfall=waterfall, rules=rules)
    return inputs.at(as_of, allow_stale_rates=allow_stale_rates, rules=rules)


def prepare_inputs(
    claims: Frame,
    events: Frame,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    rules: RuleBook | None = None,
) -> Prepared:
    """``prepare`` without a day: the inputs checked (docs/data-contract.md, reversals) and packed for the
    kernel, each day's own checks left to ``Prepared.at`` (a series prepares once)."""
    rules = rules or load_rules()
    claims_df = _checked_claims(_to_polars(claims, "claims"))
    events_df = _checked_events(_to_polars(events, "events"))

    claim_id = _packed(claims_df.get_column("claim_id"), np.int64)
    if not strictly_increasing(claim_id):  # else sorted and unique
        check_unique(claims_df, "claims", "claim_id")
        claims_df = claims_df.sort("claim_id")
        claim_id = _packed(claims_df.get_column("claim_id"), np.int64)
    in_order = _event_order(events_df)
    if not strictly_increasing(in_order["ev_id"]):  # increasing ids are unique: no hashing of millions of rows
        check_unique(events_df, "events", "event_id")
    if not events_in_order(in_order["ev_claim"], in_order["ev_day"], in_order["ev_id"]):
        events_df = events_df.sort("claim_id", "event_date", "event_id")
        in_order = _event_order(events_df)
    columns = {
        "claim_id": claim_id,
        **{
            name: _array(claims_df.get_column(c), *how)
            for name, (c, *how) in CLAIM_ARRAYS.items()
            if name != "claim_id"
        },
        **in_order,
        **{
            name: _array(events_df.get_column(c), *how)
            for name, (c, *how) in EVENT_ARRAYS.items()
            if name not in in_order
        },
    }

    columns["ev_value"] = _own(columns["ev_value"])
    _put_reverses(columns["ev_value"], columns["ev_kind"], events_df.get_column("reverses"))
    offsets = event_offsets(columns["claim_id"], columns.pop("ev_claim"))
    if offsets[-1] != len(columns["ev_day"]):
        check_unknown_claims(claims_df, events_df)
    return _inputs(columns, offsets, waterfall, rules, claims_df.get_column("portfolio_id"))


class _ReadWhole(Exception):
    """The files need ``prepare``'s whole-frame path (for an exact error, or to sort them)."""


#: Rows per slice when Parquet files are read a slice at a time (``stream_state``, ``prepare_files``).
#: Measured at 10M claims (BENCHMARKS.md): 2^18, 2^19 and 2^20 rows are about as quick; peak memory
#: ~0.6, ~0.9 and ~1.4 GB.
FILE_BATCH_ROWS = 1 << 19


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
        return _prepare_batches(Path(claims_path), Path(events_path), as_of, waterfall, allow_stale_rates, rules)
    except (_ReadWhole, EngineInputError):
        claims = read_engine_columns(claims_path, "claims")
        events = read_engine_columns(events_path, "events")
        return prepare(claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)


def read_engine_columns(path: str | Path, table: str) -> pl.DataFrame:
    """The columns of a docs/data-contract.md Parquet file that the engine reads."""
    return pl.read_parquet(path, columns=_engine_columns_in(path, table))


def _engine_columns_in(path: str | Path, table: str) -> list[str]:
    """The columns of ``table`` the engine reads that the file has (a missing one is left for the
    engine's own error, which names it)."""
    present = set(pl.read_parquet_schema(path))
    return [c for c in engine_columns(CLAIMS if table == "claims" else EVENTS, table) if c in present]


def _slices(path: str | Path, table: str) -> Iterator[pl.DataFrame]:
    """The engine's columns of a Parquet file, FILE_BATCH_ROWS rows at a time (polars reads only
    the row groups a slice needs, and decodes them in parallel). The next slice is decoded on a
    thread (polars, off the GIL) while this one is used."""
    import pyarrow.parquet as pq

    n = pq.read_metadata(path).num_rows
    scan = pl.scan_parquet(path).select(_engine_columns_in(path, table))
    yield from ahead(
        (scan.slice(start, FILE_BATCH_ROWS).collect() for start in range(0, n, FILE_BATCH_ROWS)), "parquet-slices"
    )


def _read_batches(
    path: Path,
    table: str,
    arrays: dict,
    checked: Callable[[pl.DataFrame], pl.DataFrame],
    each: Callable[[pl.DataFrame, int, dict[str, np.ndarray]], bool] | None = None,
) -> dict[str, np.ndarray]:
    """Each of ``arrays`` (name -> column, dtype, fill, values) filled from the file a slice at a
    time (``_slices``), every slice checked by ``checked`` first; then ``each(slice, first row,
    the arrays)`` may look at the slice and refuse it (False)."""
    import pyarrow.parquet as pq

    n = pq.read_metadata(path).num_rows
    out = {name: np.empty(n, dtype=dtype) for name, (_, dtype, _, _) in arrays.items()}
    at = 0
    for raw in _slices(path, table):
        frame = checked(raw)
        if frame.height == 0:
            break
        for name, (column, _, fill, _) in arrays.items():
            _pack_into(frame.get_column(column), out[name], at, fill)  # Enums: their codes
        if each is not None and not each(frame, at, out):
            raise _ReadWhole(f"{path}: rows {at + 1}.. refused")
        at += frame.height
    if at != n or n == 0:  # no slice, no checks (e.g. of the columns): the whole path decides
        raise _ReadWhole(f"{path}: {at} rows read of {n}")
    return out


def _prepare_batches(
    claims_path: Path,
    events_path: Path,
    as_of: date,
    waterfall: WaterfallSetting,
    allow_stale_rates: bool,
    rules: RuleBook,
) -> Prepared:
    if resolve(waterfall)[1]:
        raise _ReadWhole("a per-portfolio waterfall reads portfolio_id")
    claims = _read_batches(claims_path, "claims", CLAIM_ARRAYS, _checked_claims)
    claim_id = frozen(claims["claim_id"])
    if not strictly_increasing(claim_id):
        raise _ReadWhole("claims to sort or with a repeated claim_id")
    # the claim of each event is read a slice at a time, only to count each claim's events
    offsets = np.zeros(len(claim_id) + 1, dtype=np.int64)
    low = np.iinfo(np.int64).min
    carry = np.array([0, 0, low, low, low], dtype=np.int64)

    def count(frame: pl.DataFrame, at: int, out: dict[str, np.ndarray]) -> bool:
        ev_claim = frozen(_packed(frame.get_column("claim_id"), np.int64))  # frozen: one compiled signature
        rows = slice(at, at + len(ev_claim))
        _put_reverses(out["ev_value"][rows], out["ev_kind"][rows], frame.get_column("reverses"))
        return count_events(claim_id, ev_claim, frozen(out["ev_day"][rows]), frozen(out["ev_id"][rows]), offsets, carry)

    events = _read_batches(events_path, "events", SLICED_EVENT_ARRAYS, _checked_events, count)
    if not strictly_increasing(events["ev_id"]):
        raise _ReadWhole("a repeated event_id")
    close_offsets(offsets, carry)
    inputs = _inputs({**claims, **events}, offsets, waterfall, rules, None)
    return inputs.at(as_of, allow_stale_rates=allow_stale_rates, rules=rules)


#: The event arrays kept whole when the files are read a slice at a time (not each event's claim).
SLICED_EVENT_ARRAYS = {name: how for name, how in EVENT_ARRAYS.items() if name != "ev_claim"}


def _inputs(
    c: Columns, offsets: np.ndarray, waterfall: WaterfallSetting, rules: RuleBook, portfolio: pl.Series | None
) -> Prepared:
    """The checks over whole arrays that hold whatever the day (reversals) and the kernel's arrays,
    not yet as of a day (``Prepared.at``); ``offsets`` index each claim's events (every event's
    claim known). ``c["ev_value"]`` must be ours: ``reversal_targets`` rewrites it in place.
    ``portfolio`` (portfolio_id per claim) is read only for a per-portfolio waterfall."""
    bad = reversal_targets(offsets, frozen(c["ev_kind"]), frozen(c["ev_id"]), c["ev_value"])
    if len(bad):
        raise reversal_error(c["ev_id"][bad][:5].tolist(), len(bad))

    basis_names = [b.value for b in InterestBasis]
    present = np.flatnonzero(np.bincount(c["basis"], minlength=len(basis_names)))
    used = [BASIS_TABLE[InterestBasis(basis_names[b])][0] for b in present]

    contract_bp = _own(c["contract_bp"])
    contract_bp[c["basis"] != basis_names.index(InterestBasis.CONTRACTUAL)] = 0

    default, per_portfolio = resolve(waterfall)
    waterfall_index = {w: i for i, w in enumerate(ALL_WATERFALLS)}
    order = np.full(len(c["claim_id"]), waterfall_index[default], dtype=np.int8)
    for portfolio_id, w in per_portfolio.items():
        order[(portfolio == portfolio_id).to_numpy()] = waterfall_index[w]

    return Prepared(
        **{name: values for name, values in c.items() if name != "contract_bp"},
        contract_bp=contract_bp,
        order=order,
        offsets=offsets,
        as_of_day=NOT_AS_OF,
        rules=KernelRules.of(rules),
        provenance={
            "engine_version": ENGINE_VERSION,
            "waterfall": str(default),
            "waterfall_by_portfolio": {p: str(w) for p, w in per_portfolio.items()},
            "rate_tables_used": [name for name in used if name is not None],
            "rules": rules.versions(),
            "claims": len(c["claim_id"]),
            "events": len(c["ev_day"]),
        },
    )


@dataclass(frozen=True)
class KernelOutput:
    """claim_state's columns as the kernel writes them (one row per column, one column per claim):
    ``money`` int64 (principal, interest, costs and total due, interest accrued, interest
    time-barred, paid to costs, interest and principal, overpaid), ``days`` int32 (last payment,
    limitation with NULL_DAY for none, days past due), ``flags`` int8 (time-barred)."""

    money: np.ndarray
    days: np.ndarray
    flags: np.ndarray

    @property
    def claims(self) -> int:
        return self.money.shape[1]

    @classmethod
    def empty(cls, n: int) -> KernelOutput:
        return cls(
            money=np.empty((MONEY_COLUMNS, n), dtype=np.int64),
            days=np.empty((DAY_COLUMNS, n), dtype=np.int32),
            flags=np.empty((FLAG_COLUMNS, n), dtype=np.int8),
        )

    def head(self, n: int) -> KernelOutput:
        """The first ``n`` claims (views: a chunk buffer's rows for a shorter last chunk)."""
        return KernelOutput(money=self.money[:, :n], days=self.days[:, :n], flags=self.flags[:, :n])


def _kernel(p: Prepared, dropped: np.ndarray, out: KernelOutput, first: int, stop: int, out_first: int) -> None:
    """``claim_states`` over claims ``first:stop`` into ``out`` (claim ``i`` at ``i - out_first``)."""
    if p.as_of_day == NOT_AS_OF:
        raise ValueError("these inputs are not as of a day yet: Prepared.at(as_of)")  # a bug, not bad data
    k = p.rules
    claim_states(
        p.principal,
        p.interest,
        p.costs,
        p.due,
        p.cutoff,
        p.contract_bp,
        p.limitation_kind,
        p.custom_years,
        p.title_day,
        p.basis,
        p.order,
        p.offsets,
        p.ev_day,
        p.ev_kind,
        p.ev_value,
        p.as_of_day,
        k.rate_day,
        k.rate_bp,
        k.rate_last,
        k.basis_first_row,
        k.basis_end_row,
        k.basis_capped,
        ORDER_CODES,
        k.limitation,
        k.calendar_base,
        k.civil,
        k.first_year,
        k.month_start,
        dropped,
        out.money,
        out.days,
        out.flags,
        first,
        stop,
        out_first,
    )


def run_kernel(p: Prepared, on_progress: Progress | None = None, out: KernelOutput | None = None) -> KernelOutput:
    """The kernel over every claim, in chunks of CHUNK claims (the kernel is parallel inside one),
    into ``out`` if given (arrays for every claim, e.g. reused from an earlier call: fresh memory
    is costly, see BENCHMARKS.md) or into new arrays."""
    n = len(p.claim_id)
    out = out if out is not None else KernelOutput.empty(n)
    if out.claims != n:
        raise ValueError(f"out holds {out.claims} claims, the input {n}")
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    for a in range(0, max(n, 1), CHUNK):
        b = min(n, a + CHUNK)
        _kernel(p, dropped, out, a, b, 0)
        if on_progress is not None:
            on_progress(b, n)
    return out


@dataclass(frozen=True)
class ClaimExplained:
    """One claim through the kernel with what it did on the way (``explain_claim``).

    ``outputs``: N_OUTPUTS int64 (principal, interest, costs, accrued, interest time-barred, paid
    costs/interest/principal, overpaid, last payment day, limitation day); ``pieces``: rows of first
    day, last day, days, bp, interest; ``steps``: rows of step, day, event kind (or the first run's
    kind), end after it (NULL_DAY while suspended), how it was found, proceedings pending;
    ``tranches``: rows of first day (NULL_DAY: the interest at cut-off), last day, amount, barred by
    its days' own runs, as accrued (before payments took from them)."""

    outputs: np.ndarray
    pieces: np.ndarray
    steps: np.ndarray
    tranches: np.ndarray

    @property
    def limitation_date(self) -> date | None:
        """The claim's limitation date (None while proceedings are pending)."""
        day = int(self.outputs[10])
        return None if day == NULL_DAY else from_day_number(day)


def explain_claim(p: Prepared, index: int = 0, *, max_rows: int = 4096) -> ClaimExplained:
    """One claim through the same kernel, keeping its interest pieces, limitation steps and
    interest tranches."""
    k = p.rules
    pieces = np.zeros((max_rows, 5), dtype=np.int64)
    trace = np.zeros((max_rows, 6), dtype=np.int64)
    tranches = np.zeros((max_rows, 4), dtype=np.int64)
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    lo, hi = int(p.offsets[index]), int(p.offsets[index + 1])
    b = p.basis[index]
    w = ORDER_CODES[p.order[index]].astype(np.int64)
    r = claim_one(
        p.principal[index],
        p.interest[index],
        p.costs[index],
        p.due[index],
        p.cutoff[index],
        p.contract_bp[index],
        p.limitation_kind[index],
        p.custom_years[index],
        p.title_day[index],
        w[0] | (w[1] << 2) | (w[2] << 4),
        lo,
        hi,
        p.ev_day,
        p.ev_kind,
        p.ev_value,
        dropped,
        p.as_of_day,
        first_day_reaching(p.as_of_day, k.limitation, k.calendar),
        k.rates,
        k.basis_first_row[b],
        k.basis_end_row[b],
        k.basis_capped[b],
        k.limitation,
        k.calendar,
        claim_scratch(hi - lo),
        pieces,
        trace,
        tranches,
    )
    n_pieces, n_steps, n_tranches = r[N_OUTPUTS], r[N_OUTPUTS + 1], r[N_OUTPUTS + 2]
    if max(n_pieces, n_steps, n_tranches) > max_rows:
        raise ValueError(f"more than {max_rows} interest pieces, limitation steps or tranches: pass a larger max_rows")
    return ClaimExplained(
        np.array(r[:N_OUTPUTS], dtype=np.int64), pieces[:n_pieces], trace[:n_steps], tranches[:n_tranches]
    )


def compute_state(
    claims: Frame,
    events: Frame,
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
    on_progress: Progress | None = None,
) -> pa.Table:
    """The state of every claim as of ``as_of`` (docs/data-contract.md claim_state, one row per claim, by claim_id).

    ``waterfall``: one order for all claims ("costs,interest,principal") or a mapping
    portfolio_id -> order (key "*" for the rest). ``allow_stale_rates``: go on past a rate table's
    ``last_value_still_valid_on`` with its last rate; the result records it. Raises
    ``EngineInputError`` (table, column, rule, first ids) for input that breaks docs/data-contract.md and
    ``StaleRulesError`` for an as_of past the rules' validity."""
    started = time.perf_counter()
    rules = rules or load_rules()
    p = prepare(claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)
    return state_table(p, on_progress, started)


def state_table(p: Prepared, on_progress: Progress | None = None, started: float | None = None) -> pa.Table:
    """claim_state of inputs as of their day (``Prepared.at``), with its provenance; ``started``
    (``time.perf_counter``) is when the work began, for the provenance's seconds."""
    started = time.perf_counter() if started is None else started
    out = run_kernel(p, on_progress)
    table = _claim_state_table(p.claim_id, out, p.as_of_day)
    meta = dict(p.provenance, seconds=round(time.perf_counter() - started, 3))
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})


def exact_sum(values: np.ndarray) -> int:
    """The sum of int64 values as a Python int, exact however large (numpy's and polars' sums wrap
    around at 2**63): high and low 31 bits summed apart, each far below the limit."""
    if not len(values):
        return 0
    high = int(np.sum(values >> 31, dtype=np.int64))
    low = int(np.sum(values & (2**31 - 1), dtype=np.int64))
    return (high << 31) + low


@dataclass
class StateTotals:
    """What a claim_state adds up to: claims, the sum of each money column (STATE_MONEY, grosz),
    time-barred claims and claims whose clock is suspended (no limitation date)."""

    claims: int = 0
    money: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATE_MONEY, 0))
    time_barred: int = 0
    suspended: int = 0

    def add(self, out: KernelOutput) -> None:
        """Add a chunk of the kernel's output."""
        self.claims += out.claims
        for k, name in enumerate(STATE_MONEY):
            self.money[name] += exact_sum(out.money[k])
        self.time_barred += int(np.count_nonzero(out.flags[0]))
        self.suspended += int(np.count_nonzero(out.days[1] == NULL_DAY))

    def merge(self, other: StateTotals) -> None:
        """Add the totals of other claims (another partition's)."""
        self.claims += other.claims
        for name in STATE_MONEY:
            self.money[name] += other.money[name]
        self.time_barred += other.time_barred
        self.suspended += other.suspended

    @classmethod
    def of_table(cls, table: pa.Table) -> StateTotals:
        """The totals of a claim_state table (e.g. one an executor put together)."""
        totals = cls(claims=table.num_rows)
        for name in STATE_MONEY:
            for chunk in table.column(name).chunks:
                totals.money[name] += exact_sum(chunk.to_numpy(zero_copy_only=False))
        import pyarrow.compute as pc

        totals.time_barred = int(pc.sum(table.column("time_barred").cast(pa.int64())).as_py() or 0)
        totals.suspended = table.column("limitation_date").null_count
        return totals


def state_totals(
    p: Prepared, *, write_to: str | Path | None = None, on_progress: Progress | None = None
) -> StateTotals:
    """claim_state's totals, and the table itself written to ``write_to`` (Parquet, as
    ``write_state_parquet`` writes it, provenance in its metadata) without ever holding it whole:
    CHUNK claims at a time (``_computed_and_written``)."""
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    n = len(p.claim_id)
    chunks = ((p, dropped, a, min(n, a + CHUNK)) for a in range(0, n, CHUNK))
    return _computed_and_written(chunks, n, CHUNK, write_to, on_progress, lambda: p.provenance)


#: A chunk of work for the kernel: inputs, their scratch (one False per event), claims first:stop.
Chunk = tuple[Prepared, np.ndarray, int, int]


def _computed_and_written(
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
                _kernel(p, dropped, out, a, b, a)  # whole buffers: one compiled signature
                chunk = out.head(b - a)
                totals.add(chunk)
                if writer is not None:
                    table = _claim_state_table(p.claim_id[a:b], chunk, p.as_of_day)
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
    never whole in memory either: each slice of claims (FILE_BATCH_ROWS) is read with the events
    of those claims, checked and packed (``prepare``), run through the kernel into a reused
    buffer and handed to a writer thread, while the next slices are decoded on threads. Memory
    stays that of a few slices however large the book, and stays memory already touched.

    Sorted files stream: claims by claim_id, events by claim_id then (day, id) with increasing
    event_ids. Anything else, and any error, goes to ``prepare_files`` and ``state_totals`` (the
    whole input: sorted there, or refused with the engine's exact error: counts and first ids of
    the whole input). The file appears whole or not at all."""
    rules = rules or load_rules()
    try:
        return _stream_state(
            Path(claims_path), Path(events_path), as_of, write_to, waterfall, allow_stale_rates, rules, on_progress
        )
    except (_ReadWhole, EngineInputError, StaleRulesError):
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
    import pyarrow.parquet as pq

    n = pq.read_metadata(claims_path).num_rows
    if n == 0:
        raise _ReadWhole("no claims: the whole path checks the columns")
    no_events = pl.scan_parquet(events_path).select(_engine_columns_in(events_path, "events")).head(0).collect()
    metas: list[dict] = []

    def chunks() -> Iterator[Chunk]:
        events = _claims_events(_slices(events_path, "events"), no_events)
        next(events)  # primed: it takes the last claim_id of each slice of claims
        last_claim = np.iinfo(np.int64).min
        for claims in _slices(claims_path, "claims"):
            ids = claims.get_column("claim_id")
            if ids.null_count() or not ids.dtype.is_integer():
                raise _ReadWhole("claim_id: null or not an integer")
            ids = _packed(ids, np.int64)
            if ids[0] <= last_claim or not strictly_increasing(ids):
                raise _ReadWhole("claims not in claim_id order, or a claim_id repeated")
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

    totals = _computed_and_written(
        chunks(), n, FILE_BATCH_ROWS, write_to, on_progress, lambda: combined_provenance(metas)
    )
    return totals, combined_provenance(metas)


def _claims_events(slices: Iterator[pl.DataFrame], no_events: pl.DataFrame):
    """A generator sent the last claim_id of each slice of claims, in order, and yielding the
    events of those claims (all events up to that claim_id that came after the previous slice's;
    ``no_events``, the file's columns with no rows, when there are none), read from ``slices`` as
    far as needed. Sent None at the end, it checks that no event is left. Raises ``_ReadWhole``
    where the events are not in claim_id order with increasing event_ids (then the whole path
    sorts them or gives its error)."""
    held: list[pl.DataFrame] = []  # read, not yet handed out
    reading = True
    last_event = np.iinfo(np.int64).min
    last_claim = yield None
    while last_claim is not None:
        while reading and (not held or held[-1].get_column("claim_id")[-1] <= last_claim):
            frame = next(slices, None)
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
                raise _ReadWhole("events: a null or non-integer id")
            if frame.height == 0:
                continue
            ids = _packed(event_id, np.int64)
            if ids[0] <= last_event or not strictly_increasing(ids):
                raise _ReadWhole("event_ids not increasing: the whole path checks them unique")
            after = held[-1].get_column("claim_id")[-1] if held else None
            if not claim_id.is_sorted() or (after is not None and claim_id[0] < after):
                raise _ReadWhole("events not in claim_id order")
            last_event = ids[-1]
            held.append(frame)
        events = pl.concat(held, rechunk=False) if len(held) > 1 else (held[0] if held else no_events)
        cut = int(np.searchsorted(_packed(events.get_column("claim_id"), np.int64), last_claim, side="right"))
        held = [events.slice(cut)] if cut < events.height else []
        last_claim = yield events.slice(0, cut)
    if held or next(slices, None) is not None:
        raise _ReadWhole("events of claims after the last claim")
    yield None


def parquet_options(schema: pa.Schema) -> dict:
    """How claim_state is written to Parquet: see ``write_state_parquet``."""
    integers = [f.name for f in schema if pa.types.is_integer(f.type)]
    return dict(
        compression="zstd",
        compression_level=1,
        use_dictionary=False,
        column_encoding=dict.fromkeys(integers, "DELTA_BINARY_PACKED"),
    )


class ClaimStateWriter:
    """claim_state written to a Parquet file a part at a time, its provenance added when it is
    closed (so a table put together from parts, whose provenance is known only at the end, is
    written as it arrives). The format is ``write_state_parquet``'s: the provenance is the file's
    key-value metadata, which readers give back as the schema's metadata (the Arrow schema itself
    is not stored: every column of claim_state is a plain Parquet type)."""

    def __init__(self, path: str | Path, final: str | Path | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.final = Path(final) if final is not None else None
        self._file = pq.ParquetWriter(self.path, CLAIM_STATE, store_schema=False, **parquet_options(CLAIM_STATE))

    @classmethod
    def beside(cls, final: str | Path | None) -> ClaimStateWriter | None:
        """A writer on a file staged beside ``final`` and moved there by ``close`` (so ``final``
        appears complete or not at all); None where there is no file to write."""
        if final is None:
            return None
        final = Path(final)
        return cls(final.with_name(f".{final.name}.{os.getpid()}.partial"), final)

    def write(self, table: pa.Table, row_group_size: int = CHUNK) -> None:
        self._file.write_table(table.replace_schema_metadata(None), row_group_size=row_group_size)

    def close(self, provenance: dict) -> None:
        self._file.add_key_value_metadata({METADATA_KEY: json.dumps(provenance)})
        self._file.close()
        if self.final is not None:
            os.replace(self.path, self.final)

    def abandon(self) -> None:
        """Close without finishing (after a failure) and remove the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def write_state_parquet(table: pa.Table, path) -> None:
    """claim_state (with its provenance) to a Parquet file: integer columns delta-encoded, zstd
    level 1, no dictionaries. Of the settings measured on 10M claims (BENCHMARKS.md) the smallest
    file (about 26 bytes a claim) and among the quickest to write."""
    writer = ClaimStateWriter(path)
    try:
        writer.write(table)
    except BaseException:
        writer.abandon()
        raise
    writer.close(provenance(table))


def combined_provenance(metas: list[dict]) -> dict:
    """The provenance of a claim_state put together from parts' (slices, partitions): the first's,
    with the rate tables used and stale of all, and their claims and events summed."""
    meta = dict(metas[0])
    used = {name for m in metas for name in m.get("rate_tables_used", [])}
    tables = [table for table, _ in BASIS_TABLE.values() if table is not None]
    meta["rate_tables_used"] = [name for name in tables if name in used]
    meta["stale_rate_tables"] = {k: v for m in metas for k, v in m.get("stale_rate_tables", {}).items()}
    meta["claims"] = sum(m.get("claims", 0) for m in metas)
    meta["events"] = sum(m.get("events", 0) for m in metas)
    return meta


def provenance(table: pa.Table) -> dict:
    """How a claim_state table was computed (as_of, rule tables, stale tables, waterfall, ...)."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def _check_rates_cover(
    claim_id: np.ndarray, basis: np.ndarray, start: np.ndarray, as_of_day: int, rules: RuleBook
) -> None:
    """Interest cannot be computed for a day before a table's first row (no rate is known)."""
    for code, b in enumerate(InterestBasis):
        table_name, capped = BASIS_TABLE[b]
        if table_name is None or capped:
            continue  # 'none' has no table; a contractual rate simply has no cap before the table
        first = rules.rates[table_name].effective_from[0]
        bad = (basis == code) & (start < day_number(first)) & (start <= as_of_day)
        if bad.any():
            ids = claim_id[bad]
            raise EngineInputError(
                "claims",
                "due_date",
                f"interest_basis {b.value}: {table_name} has no rate before {first} (its first row); "
                "interest from an earlier day cannot be computed",
                ids[:5].tolist(),
                int(bad.sum()),
            )


def _claim_state_table(claim_id: np.ndarray, out: KernelOutput, as_of_day: int) -> pa.Table:
    """The kernel's columns as claim_state, without copying them (only the null masks are new)."""
    n = len(claim_id)

    def date_column(days: np.ndarray) -> pa.Array:
        return pa.array(days, type=pa.int32(), mask=days == NULL_DAY).view(pa.date32())

    money = [pa.array(out.money[k]) for k in range(MONEY_COLUMNS)]
    columns = [
        pa.array(claim_id, type=pa.int64()),
        pa.array(np.full(n, as_of_day, dtype=np.int32)).view(pa.date32()),
        *money,
        date_column(out.days[0]),
        date_column(out.days[1]),
        pa.array(out.flags[0].view(np.bool_)),
        pa.array(out.days[2]),
    ]
    return pa.Table.from_arrays(columns, schema=CLAIM_STATE)
