"""``compute_state``: claims and events (SCHEMA.md) in, claim_state out, exactly as ENGINE.md defines.

The typed wrapper around the kernels: it checks the inputs, the rule tables' validity and the
int64 overflow budget, packs frames into arrays, runs the kernel and rebuilds an Arrow table whose
schema metadata records how it was computed (``provenance``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from datetime import date

import numpy as np
import polars as pl
import pyarrow as pa

from engine.domain import CLAIM_LIMITATION_KINDS, EventKind, InterestBasis, LimitationKind
from engine.kernels import codes as kernel_codes
from engine.kernels.calendar import NULL_DAY, calendar_tables
from engine.kernels.claim_state import DAY_COLUMNS, FLAG_COLUMNS, MONEY_COLUMNS, N_OUTPUTS, claim_one, claim_states
from engine.kernels.grouping import (
    bad_reversals,
    balance_bounds,
    event_offsets,
    events_in_order,
    strictly_increasing,
)
from engine.rules import RuleBook, StaleRulesError, day_number, from_day_number, load_rules
from engine.schema import CLAIM_STATE, CLAIMS, EVENTS, NOT_READ_BY_ENGINE
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

ENGINE_VERSION = "1"
METADATA_KEY = b"cession"
#: Claims per kernel call: the unit of progress reporting (the kernel is parallel inside a call).
CHUNK = 1_000_000
#: Balances must stay below this; int64 holds 2**63 - 1, the margin covers the bound's looseness.
BALANCE_LIMIT = float(2**62)

#: Which rate table decides each interest basis, and whether it caps a contractual rate.
BASIS_TABLE: dict[InterestBasis, tuple[str | None, bool]] = {
    InterestBasis.NONE: (None, True),  # no table, capped at a contract rate of 0: rate 0
    InterestBasis.STATUTORY_LATE: ("statutory_late", False),
    InterestBasis.COMMERCIAL_LATE: ("commercial_late", False),
    InterestBasis.CONTRACTUAL: ("maximum_late", True),
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
    next_open: np.ndarray
    civil: np.ndarray
    first_year: int
    month_start: np.ndarray

    @property
    def rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rate tables as ``kernels.interest.accrue`` takes them."""
        return self.rate_day, self.rate_bp, self.rate_last

    @property
    def calendar(self) -> tuple:
        """The calendar as ``kernels.limitation.next_open_day`` takes it."""
        return self.calendar_base, self.next_open, self.civil, self.first_year, self.month_start

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
        # civil dates for every day of the holiday calendar, month starts far enough past its end for
        # any statutory run from a day in it (outside both the kernels compute the same arithmetically)
        first_year, n_days = rules.holidays.first_year, len(rules.holidays.next_open_day)
        n_years = rules.holidays.last_year - first_year + 1 + int(limitation[1:].max()) + 1
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
            next_open=frozen(rules.holidays.next_open_day),
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
    """``kernels.calendar.calendar_tables``, built once per calendar (as its next-open-day table is)
    rather than on every ``prepare``: ~13 ms each."""
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
    at = 0
    for chunk in series.get_chunks():
        if chunk.null_count():
            if fill is None:
                raise ValueError(f"{series.name}: nulls where none were expected")
            chunk = chunk.fill_null(fill) if not chunk.dtype.is_temporal() else chunk.to_physical().fill_null(fill)
        values = chunk.to_physical().to_numpy()
        out[at : at + len(values)] = values
        at += len(values)
    return out


def _days(series: pl.Series) -> np.ndarray:
    return _packed(series, np.int32, NULL_DAY)


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
    ev_amount: np.ndarray
    ev_id: np.ndarray
    ev_reverses: np.ndarray
    as_of_day: int
    rules: KernelRules
    provenance: dict

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(self, name, frozen(value))


def prepare(
    claims: Frame,
    events: Frame,
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> Prepared:
    """Check the inputs (SCHEMA.md, rule validity, overflow budget) and pack them for the kernel."""
    rules = rules or load_rules()
    claims_df = as_enums(
        conform(_to_polars(claims, "claims"), "claims", CLAIMS, NOT_READ_BY_ENGINE["claims"]), "claims", CLAIMS
    )
    events_df = as_enums(
        conform(_to_polars(events, "events"), "events", EVENTS, NOT_READ_BY_ENGINE["events"]), "events", EVENTS
    )
    check_claims(claims_df)
    check_events(events_df)

    if not strictly_increasing(_packed(claims_df.get_column("claim_id"), np.int64)):  # else sorted and unique
        check_unique(claims_df, "claims", "claim_id")
        claims_df = claims_df.sort("claim_id")
    ev_claim = _packed(events_df.get_column("claim_id"), np.int64)
    ev_day = _days(events_df.get_column("event_date"))
    ev_id = _packed(events_df.get_column("event_id"), np.int64)
    if not strictly_increasing(ev_id):  # increasing ids are unique: no hashing of millions of rows
        check_unique(events_df, "events", "event_id")
    if not events_in_order(ev_claim, ev_day, ev_id):
        events_df = events_df.sort("claim_id", "event_date", "event_id")
        ev_claim = _packed(events_df.get_column("claim_id"), np.int64)
        ev_day = _days(events_df.get_column("event_date"))
        ev_id = _packed(events_df.get_column("event_id"), np.int64)
    claim_id = _packed(claims_df.get_column("claim_id"), np.int64)
    offsets = event_offsets(claim_id, ev_claim)
    if offsets[-1] != len(ev_claim):
        check_unknown_claims(claims_df, events_df)
    ev_kind = _codes(events_df.get_column("kind"), [k.value for k in EventKind])
    ev_reverses = _packed(events_df.get_column("reverses"), np.int64, -1)
    bad = bad_reversals(offsets, ev_kind, ev_id, ev_reverses)
    if len(bad):
        raise reversal_error(ev_id[bad][:5].tolist(), len(bad))

    as_of_day = day_number(as_of)
    basis_names = [b.value for b in InterestBasis]
    basis = _codes(claims_df.get_column("interest_basis"), basis_names)
    present = np.flatnonzero(np.bincount(basis, minlength=len(basis_names)))
    used = [BASIS_TABLE[InterestBasis(basis_names[b])][0] for b in present]
    used_tables = [name for name in used if name is not None]
    stale = rules.stale(used_tables, as_of)
    if stale and not allow_stale_rates:
        raise StaleRulesError(stale, as_of)

    due = _days(claims_df.get_column("due_date"))
    cutoff = _days(claims_df.get_column("cutoff_date"))
    accrual_start = np.maximum(due, cutoff) + 1
    _check_rates_cover(claims_df, basis, accrual_start, as_of_day, rules)

    principal = _packed(claims_df.get_column("principal"), np.int64)
    interest = _packed(claims_df.get_column("interest_at_cutoff"), np.int64)
    costs = _packed(claims_df.get_column("costs_at_cutoff"), np.int64)
    contract = claims_df.get_column("contractual_rate_bp")
    is_contractual = basis == basis_names.index(InterestBasis.CONTRACTUAL)
    contract_bp = _packed(contract, np.int32, 0)
    if contract_bp.base is not None or not contract_bp.flags.writeable:
        contract_bp = contract_bp.copy()  # a view of the frame: not ours to change
    contract_bp[~is_contractual] = 0
    ev_amount = _packed(events_df.get_column("amount"), np.int64, 0)

    max_table_bp = max(max(t.rate_bp) for t in rules.rates.values())
    max_bp = np.where(is_contractual, contract_bp, np.int32(max_table_bp))
    bound = balance_bounds(principal, interest, costs, accrual_start, max_bp, offsets, ev_kind, ev_amount, as_of_day)
    over = bound >= BALANCE_LIMIT
    if over.any():
        raise EngineInputError(
            "claims",
            "principal",
            "balances could exceed int64 grosz (overflow budget: principal, interest, costs, cost events, "
            "capitalizations and the rate over the days to as_of)",
            claim_id[over][:5].tolist(),
            int(over.sum()),
        )

    default, per_portfolio = resolve(waterfall)
    waterfall_index = {w: i for i, w in enumerate(ALL_WATERFALLS)}
    portfolio = claims_df.get_column("portfolio_id")
    order = np.full(len(claim_id), waterfall_index[default], dtype=np.int8)
    for portfolio_id, w in per_portfolio.items():
        order[(portfolio == portfolio_id).to_numpy()] = waterfall_index[w]

    return Prepared(
        claim_id=claim_id,
        principal=principal,
        interest=interest,
        costs=costs,
        due=due,
        cutoff=cutoff,
        contract_bp=contract_bp,
        # the claim kinds are the first of LimitationKind: their Enum codes are the kernel's
        limitation_kind=_codes(claims_df.get_column("limitation_kind"), [m.value for m in CLAIM_LIMITATION_KINDS]),
        custom_years=_packed(claims_df.get_column("limitation_years"), np.int64, 0),
        title_day=_days(claims_df.get_column("title_date")),
        basis=basis,
        order=order,
        offsets=offsets,
        ev_day=ev_day,
        ev_kind=ev_kind,
        ev_amount=ev_amount,
        ev_id=ev_id,
        ev_reverses=ev_reverses,
        as_of_day=as_of_day,
        rules=KernelRules.of(rules),
        provenance={
            "engine_version": ENGINE_VERSION,
            "as_of": as_of.isoformat(),
            "waterfall": str(default),
            "waterfall_by_portfolio": {p: str(w) for p, w in per_portfolio.items()},
            "allow_stale_rates": allow_stale_rates,
            "stale_rate_tables": {t.name: t.last_valid.isoformat() for t in stale},
            "rate_tables_used": used_tables,
            "rules": rules.versions(),
            "claims": len(claim_id),
            "events": len(ev_day),
        },
    )


@dataclass(frozen=True)
class KernelOutput:
    """claim_state's columns as the kernel writes them (one row per column, one column per claim):
    ``money`` int64 (principal, interest, costs and total due, interest accrued, paid to costs,
    interest and principal, overpaid), ``days`` int32 (last payment, limitation with NULL_DAY for
    none, days past due), ``flags`` int8 (time-barred, error code)."""

    money: np.ndarray
    days: np.ndarray
    flags: np.ndarray

    @property
    def claims(self) -> int:
        return self.money.shape[1]


def run_kernel(p: Prepared, on_progress: Progress | None = None) -> KernelOutput:
    """The kernel over every claim, in chunks of CHUNK claims (the kernel is parallel inside one)."""
    k = p.rules
    n = len(p.claim_id)
    out = KernelOutput(
        money=np.empty((MONEY_COLUMNS, n), dtype=np.int64),
        days=np.empty((DAY_COLUMNS, n), dtype=np.int32),
        flags=np.empty((FLAG_COLUMNS, n), dtype=np.int8),
    )
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    for a in range(0, max(n, 1), CHUNK):
        b = min(n, a + CHUNK)
        claim_states(
            p.principal, p.interest, p.costs, p.due, p.cutoff, p.contract_bp,
            p.limitation_kind, p.custom_years, p.title_day, p.basis, p.order,
            p.offsets, p.ev_day, p.ev_kind, p.ev_amount, p.ev_id, p.ev_reverses,
            p.as_of_day,
            k.rate_day, k.rate_bp, k.rate_last, k.basis_first_row, k.basis_end_row, k.basis_capped, ORDER_CODES,
            k.limitation, k.calendar_base, k.next_open, k.civil, k.first_year, k.month_start,
            dropped, out.money, out.days, out.flags, a, b,
        )  # fmt: skip
        if on_progress is not None:
            on_progress(b, n)
    return out


def explain_claim(p: Prepared, index: int = 0, *, max_rows: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One claim through the same kernel, keeping its interest pieces and limitation steps.

    Returns (outputs: N_OUTPUTS int64, pieces: rows of first day, last day, days, bp, interest,
    steps: rows of step, day, event kind or run kind, raw end, how, end)."""
    k = p.rules
    pieces = np.zeros((max_rows, 5), dtype=np.int64)
    trace = np.zeros((max_rows, 6), dtype=np.int64)
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    b = p.basis[index]
    w = ORDER_CODES[p.order[index]].astype(np.int64)
    r = claim_one(
        p.principal[index], p.interest[index], p.costs[index], p.due[index], p.cutoff[index], p.contract_bp[index],
        p.limitation_kind[index], p.custom_years[index], p.title_day[index], w[0] | (w[1] << 2) | (w[2] << 4),
        p.offsets[index], p.offsets[index + 1], p.ev_day, p.ev_kind, p.ev_amount, p.ev_id, p.ev_reverses, dropped,
        p.as_of_day,
        k.rates, k.basis_first_row[b], k.basis_end_row[b], k.basis_capped[b],
        k.limitation, k.calendar,
        pieces, trace,
    )  # fmt: skip
    n_pieces, n_steps = r[N_OUTPUTS], r[N_OUTPUTS + 1]
    if n_pieces > max_rows or n_steps > max_rows:
        raise ValueError(f"more than {max_rows} interest pieces or limitation steps: pass a larger max_rows")
    return np.array(r[:N_OUTPUTS], dtype=np.int64), pieces[:n_pieces], trace[:n_steps]


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
    """The state of every claim as of ``as_of`` (SCHEMA.md claim_state, one row per claim, by claim_id).

    ``waterfall``: one order for all claims ("costs,interest,principal") or a mapping
    portfolio_id -> order (key "*" for the rest). ``allow_stale_rates``: go on past a rate table's
    ``last_value_still_valid_on`` with its last rate; the result records it. Raises
    ``EngineInputError`` (table, column, rule, first ids) for input that breaks SCHEMA.md and
    ``StaleRulesError`` for an as_of past the rules' validity."""
    started = time.perf_counter()
    rules = rules or load_rules()
    p = prepare(claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)
    out = run_kernel(p, on_progress)
    outside = out.flags[1] != kernel_codes.ERR_NONE
    if outside.any():
        raise EngineInputError(
            "claims",
            "due_date",
            f"a limitation end falls outside the holiday calendar "
            f"({rules.holidays.first_year}-{rules.holidays.last_year}); extend holidays.csv's years",
            p.claim_id[outside][:5].tolist(),
            int(outside.sum()),
        )
    table = _claim_state_table(p.claim_id, out, p.as_of_day)
    meta = dict(p.provenance, seconds=round(time.perf_counter() - started, 3))
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()})


def write_state_parquet(table: pa.Table, path) -> None:
    """claim_state (with its provenance) to a Parquet file: integer columns delta-encoded, zstd
    level 1, no dictionaries. Of the settings measured on 10M claims (BENCHMARKS.md) the smallest
    file (about 26 bytes a claim) and among the quickest to write."""
    import pyarrow.parquet as pq

    integers = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    pq.write_table(
        table, path, compression="zstd", compression_level=1, use_dictionary=False,
        column_encoding=dict.fromkeys(integers, "DELTA_BINARY_PACKED"),
    )  # fmt: skip


def provenance(table: pa.Table) -> dict:
    """How a claim_state table was computed (as_of, rule tables, stale tables, waterfall, ...)."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def _check_rates_cover(claims_df: pl.DataFrame, basis: np.ndarray, start: np.ndarray, as_of_day: int, rules: RuleBook) -> None:
    """Interest cannot be computed for a day before a table's first row (no rate is known)."""
    for code, b in enumerate(InterestBasis):
        table_name, capped = BASIS_TABLE[b]
        if table_name is None or capped:
            continue  # 'none' has no table; a contractual rate simply has no cap before the table
        first = rules.rates[table_name].effective_from[0]
        bad = (basis == code) & (start < day_number(first)) & (start <= as_of_day)
        if bad.any():
            ids = claims_df.get_column("claim_id").to_numpy()[bad]
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
