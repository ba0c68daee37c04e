"""The engine's inputs checked and packed: claims and events (docs/data-contract.md) in, ``Prepared``
out, the kernel's arrays with what they were computed from.

Two steps, so a valuation series checks and packs once: ``prepare_inputs`` runs the checks that
hold whatever the day (the data contract row by row, unique ids, reversals, events of known
claims) and packs; ``Prepared.at(day)`` runs each day's own (the rate tables' validity, rates
covering every claim's accrual, the int64 overflow budget). ``prepare`` is both at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from engine.domain import InterestBasis
from engine.kernel_rules import BASIS_TABLE, CONTRACT_RATE, KernelRules
from engine.kernels.calendar import NULL_DAY
from engine.kernels.grouping import (
    balance_bounds,
    event_offsets,
    events_in_order,
    reversal_targets,
    strictly_increasing,
)
from engine.metadata import ENGINE_VERSION
from engine.packing import (
    CLAIM_ARRAYS,
    EVENT_ARRAYS,
    Columns,
    Frame,
    array,
    arrays_in_one_query,
    as_polars,
    event_order,
    frozen,
    own,
    packed,
    put_reverses,
)
from engine.rules import RuleBook, StaleRulesError, day_number, load_rules
from engine.schema import CLAIMS, EVENTS, NOT_READ_BY_ENGINE
from engine.validation import (
    ONE_PASS_ROWS,
    EngineInputError,
    check_unique,
    check_unknown_claims,
    checked,
    claim_checks,
    event_checks,
    reversal_error,
)
from engine.waterfall import ALL_WATERFALLS, WaterfallSetting, resolve

#: Balances must stay below this; int64 holds 2**63 - 1, the margin covers the bound's looseness.
BALANCE_LIMIT = float(2**62)
#: ``Prepared.as_of_day`` of inputs not yet as of a day (``Prepared.at`` gives them one).
NOT_AS_OF = NULL_DAY


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
        check_rates_cover(self.claim_id, self.basis, accrual_start, as_of_day, rules)

        is_contractual = CONTRACT_RATE[self.basis]
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


def checked_claims(frame: pl.DataFrame) -> pl.DataFrame:
    """Claims with the contract's columns, dtypes and enums, every row rule checked."""
    return checked(frame, "claims", CLAIMS, NOT_READ_BY_ENGINE["claims"], claim_checks)


def checked_events(frame: pl.DataFrame) -> pl.DataFrame:
    """Events with the contract's columns, dtypes and enums, every row rule checked."""
    return checked(frame, "events", EVENTS, NOT_READ_BY_ENGINE["events"], event_checks)


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
    claims_df = checked_claims(as_polars(claims, "claims"))
    events_df = checked_events(as_polars(events, "events"))

    if claims_df.height + events_df.height <= ONE_PASS_ROWS:
        columns = _small_columns(claims_df, events_df)
        if not strictly_increasing(columns["claim_id"]):  # else sorted and unique
            check_unique(claims_df, "claims", "claim_id")
        if not strictly_increasing(columns["ev_id"]):
            check_unique(events_df, "events", "event_id")
        if not strictly_increasing(columns["claim_id"]) or not _events_in_order(columns):
            claims_df, events_df = claims_df.sort("claim_id"), events_df.sort("claim_id", "event_date", "event_id")
            columns = _small_columns(claims_df, events_df)
        return _prepared(columns, claims_df, events_df, waterfall, rules)
    claim_id = packed(claims_df.get_column("claim_id"), np.int64)
    if not strictly_increasing(claim_id):  # else sorted and unique
        check_unique(claims_df, "claims", "claim_id")
        claims_df = claims_df.sort("claim_id")
        claim_id = packed(claims_df.get_column("claim_id"), np.int64)
    in_order = event_order(events_df)
    if not strictly_increasing(in_order["ev_id"]):  # increasing ids are unique: no hashing of millions of rows
        check_unique(events_df, "events", "event_id")
    if not events_in_order(in_order["ev_claim"], in_order["ev_day"], in_order["ev_id"]):
        events_df = events_df.sort("claim_id", "event_date", "event_id")
        in_order = event_order(events_df)
    columns = {
        "claim_id": claim_id,
        **{
            name: array(claims_df.get_column(c), *how) for name, (c, *how) in CLAIM_ARRAYS.items() if name != "claim_id"
        },
        **in_order,
        **{
            name: array(events_df.get_column(c), *how)
            for name, (c, *how) in EVENT_ARRAYS.items()
            if name not in in_order
        },
    }

    return _prepared(columns, claims_df, events_df, waterfall, rules)


def _small_columns(claims_df: pl.DataFrame, events_df: pl.DataFrame) -> Columns:
    """Every array of a few claims and events, in one query a table."""
    return arrays_in_one_query(claims_df, CLAIM_ARRAYS) | arrays_in_one_query(events_df, EVENT_ARRAYS)


def _events_in_order(columns: Columns) -> bool:
    return events_in_order(columns["ev_claim"], columns["ev_day"], columns["ev_id"])


def _prepared(
    columns: Columns, claims_df: pl.DataFrame, events_df: pl.DataFrame, waterfall: WaterfallSetting, rules: RuleBook
) -> Prepared:
    """``inputs_of`` the packed arrays, the reversals' targets put in and the events' offsets found."""
    columns["ev_value"] = own(columns["ev_value"])
    put_reverses(columns["ev_value"], columns["ev_kind"], events_df.get_column("reverses"))
    offsets = event_offsets(columns["claim_id"], columns.pop("ev_claim"))
    if offsets[-1] != len(columns["ev_day"]):
        check_unknown_claims(claims_df, events_df)
    return inputs_of(columns, offsets, waterfall, rules, claims_df.get_column("portfolio_id"))


def inputs_of(
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

    contract_bp = own(c["contract_bp"])
    contract_bp[~CONTRACT_RATE[c["basis"]]] = 0

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


def check_rates_cover(
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
