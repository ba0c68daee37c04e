"""One claim's state straight from its rows (the store's claim and events as Python values): the
kernel's arrays packed without polars, for one claim's balance asked over the HTTP API, where each
polars call's fixed cost is most of the work (~2 ms of ~4 ms in ``compute_state`` for one claim).

The same engine: the same ``inputs_of`` (the reversals' checks, the waterfall), the same
``Prepared.at`` (the rate tables' validity, the rates covering the accrual, the overflow budget),
the same kernel. Only the row checks of docs/data-contract.md (``validation``) are done here in
plain Python, and only to decide that the rows are plainly within the contract: anything outside it
(a missing column, a value of another type, a rule broken, a per-portfolio waterfall) gives None,
and the caller asks ``compute_state`` instead, which gives the same state or the error the engine
gives. tests/engine/test_claim_rows.py compares the two over generated claims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import numpy as np

from engine.domain import (
    AMOUNT_EVENT_KINDS,
    CLAIM_LIMITATION_KINDS,
    CONTRACT_RATE_BASES,
    OWN_YEARS_KINDS,
    DebtorKind,
    EventKind,
    InterestBasis,
)
from engine.inputs import inputs_of
from engine.kernel_run import KernelOutput, kernel_into, one_thread_if_small
from engine.kernels.calendar import NULL_DAY
from engine.kernels.grouping import event_offsets
from engine.rules import RuleBook, day_number, from_day_number, load_rules
from engine.schema import STATE_MONEY
from engine.validation import MAX_CONTRACTUAL_RATE_BP
from engine.waterfall import WaterfallSetting, resolve

_INT64 = (-(2**63), 2**63 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_INT8 = (-128, 127)

_BASIS = {b.value: i for i, b in enumerate(InterestBasis)}
_LIMITATION_KIND = {k.value: i for i, k in enumerate(CLAIM_LIMITATION_KINDS)}
_EVENT_KIND = {k.value: i for i, k in enumerate(EventKind)}
_DEBTOR_KINDS = frozenset(k.value for k in DebtorKind)
_CONTRACTUAL = frozenset(b.value for b in CONTRACT_RATE_BASES)
_OWN_YEARS = frozenset(k.value for k in OWN_YEARS_KINDS)
_AMOUNT_KINDS = frozenset(k.value for k in AMOUNT_EVENT_KINDS)
_REVERSAL = EventKind.REVERSAL.value


def _int(value: object, bounds: tuple[int, int] = _INT64) -> bool:
    return type(value) is int and bounds[0] <= value <= bounds[1]


def _int_or_none(value: object, bounds: tuple[int, int] = _INT64) -> bool:
    return value is None or _int(value, bounds)


def _day(value: object) -> bool:
    return type(value) is date  # not a datetime (a subclass of date): the contract's dates are days


def _text(value: object) -> bool:
    return type(value) is str


def _plain_claim(c: Mapping) -> bool:
    """Whether the claim row is plainly within docs/data-contract.md (every column, type and rule of
    ``validation.claim_checks``); False is not an error, only "ask the batch path"."""
    try:
        basis, kind, rate, years = (
            c["interest_basis"],
            c["limitation_kind"],
            c["contractual_rate_bp"],
            c["limitation_years"],
        )
        return (
            _int(c["claim_id"])
            and _text(c["portfolio_id"])
            and _text(c["seller_ref"])
            and _int(c["debtor_id"])
            and c["debtor_kind"] in _DEBTOR_KINDS
            and all(_int(c[m]) and c[m] >= 0 for m in ("principal", "interest_at_cutoff", "costs_at_cutoff"))
            and _int(c["purchase_price"])
            and c["purchase_price"] >= 0
            and _day(c["due_date"])
            and _day(c["cutoff_date"])
            and _day(c["purchase_date"])
            and (c["title_date"] is None or _day(c["title_date"]))
            and basis in _BASIS
            and _int_or_none(rate, _INT32)
            and (basis not in _CONTRACTUAL or (rate is not None and 0 <= rate <= MAX_CONTRACTUAL_RATE_BP))
            and kind in _LIMITATION_KIND
            and _int_or_none(years, _INT8)
            and (kind not in _OWN_YEARS or (years is not None and 1 <= years <= 100))
        )
    except (KeyError, TypeError):
        return False


def _plain_event(e: Mapping, claim_id: int) -> bool:
    """Whether an event row is plainly within docs/data-contract.md (``validation.event_checks``)
    and of the claim."""
    try:
        kind, amount = e["kind"], e["amount"]
        return (
            _int(e["event_id"])
            and e["claim_id"] == claim_id
            and _int(e["claim_id"])
            and _day(e["event_date"])
            and kind in _EVENT_KIND
            and _int_or_none(amount)
            and (kind not in _AMOUNT_KINDS or (amount is not None and amount > 0))
            and _int_or_none(e["reverses"])
            and (kind != _REVERSAL or e["reverses"] is not None)
            and (e["source"] is None or _text(e["source"]))
        )
    except (KeyError, TypeError):
        return False


def state_of_rows(
    claim: Mapping,
    events: Sequence[Mapping],
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> dict | None:
    """The claim's claim_state row as of ``as_of`` (as ``compute_state(...).to_pylist()[0]`` gives
    it), computed from the claim's row and its events' rows (docs/data-contract.md's columns, as
    Python values: ints, strs, ``date``s, None); None when the rows are not plainly within the
    contract (then ``compute_state`` gives the state or the error). Raises what ``compute_state``
    raises for rows within the contract: a reversal of another claim's event, stale rates, no rate
    for a day, a balance past the overflow budget."""
    if not _plain_claim(claim):
        return None
    claim_id = claim["claim_id"]
    if not all(_plain_event(e, claim_id) for e in events):
        return None
    if isinstance(as_of, datetime) or not isinstance(as_of, date):
        return None
    default, per_portfolio = resolve(waterfall)
    if per_portfolio:
        return None  # the portfolio's order: left to the batch path
    if len({e["event_id"] for e in events}) != len(events):
        return None  # duplicate ids: the batch path's error
    rules = rules or load_rules()
    ordered = sorted(events, key=lambda e: (e["event_date"], e["event_id"]))
    title = claim["title_date"]
    columns = {
        "claim_id": np.array([claim_id], dtype=np.int64),
        "principal": np.array([claim["principal"]], dtype=np.int64),
        "interest": np.array([claim["interest_at_cutoff"]], dtype=np.int64),
        "costs": np.array([claim["costs_at_cutoff"]], dtype=np.int64),
        "due": np.array([day_number(claim["due_date"])], dtype=np.int32),
        "cutoff": np.array([day_number(claim["cutoff_date"])], dtype=np.int32),
        "contract_bp": np.array([claim["contractual_rate_bp"] or 0], dtype=np.int32),
        "basis": np.array([_BASIS[claim["interest_basis"]]], dtype=np.int8),
        "limitation_kind": np.array([_LIMITATION_KIND[claim["limitation_kind"]]], dtype=np.int8),
        "custom_years": np.array([claim["limitation_years"] or 0], dtype=np.int64),
        "title_day": np.array([NULL_DAY if title is None else day_number(title)], dtype=np.int32),
        "ev_claim": np.full(len(ordered), claim_id, dtype=np.int64),
        "ev_day": np.array([day_number(e["event_date"]) for e in ordered], dtype=np.int32),
        "ev_id": np.array([e["event_id"] for e in ordered], dtype=np.int64),
        "ev_kind": np.array([_EVENT_KIND[e["kind"]] for e in ordered], dtype=np.int8),
        # an event's amount (none: 0), a reversal's the event_id it cancels (``packing.put_reverses``)
        "ev_value": np.array(
            [e["reverses"] if e["kind"] == _REVERSAL else (e["amount"] or 0) for e in ordered], dtype=np.int64
        ),
    }
    offsets = event_offsets(columns["claim_id"], columns.pop("ev_claim"))
    with one_thread_if_small(1):
        p = inputs_of(columns, offsets, default, rules, None).at(
            as_of, allow_stale_rates=allow_stale_rates, rules=rules
        )
        out = KernelOutput.empty(1)
        kernel_into(p, np.zeros(len(p.ev_day), dtype=np.bool_), out, 0, 1, 0)
    return _row(claim_id, out, p.as_of_day)


def _row(claim_id: int, out: KernelOutput, as_of_day: int) -> dict:
    """The kernel's one claim as ``state.claim_state_table(...).to_pylist()[0]`` gives it."""

    def day(n) -> date | None:
        return None if n == NULL_DAY else from_day_number(n)

    return {
        "claim_id": claim_id,
        "as_of": from_day_number(as_of_day),
        **{name: int(out.money[k, 0]) for k, name in enumerate(STATE_MONEY)},
        "last_payment_date": day(out.days[0, 0]),
        "limitation_date": day(out.days[1, 0]),
        "time_barred": bool(out.flags[0, 0]),
        "days_past_due": int(out.days[2, 0]),
    }
