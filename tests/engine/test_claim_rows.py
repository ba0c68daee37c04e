"""One claim's state from its rows (engine/claim_rows.py, the HTTP API's balance) is exactly the
batch engine's (``compute_state`` over the claim's frames): the same row, or the same error; and
rows outside the data contract are left to the batch path (None), never computed."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.claim_rows import state_of_rows
from engine.errors import InputError
from engine.kernel_run import compute_state
from tests.builders import claim, event, frames
from tests.strategies import portfolios, random_portfolio, waterfall_orders

AS_OF = date(2026, 3, 1)


def batch(claim_row: dict, events: list[dict], as_of: date, **options) -> dict:
    return compute_state(*frames([claim_row], events), as_of, **options).to_pylist()[0]


def same_as_batch(claim_row: dict, events: list[dict], as_of: date, **options) -> dict | None:
    """The single-claim path's answer, checked against the batch path's (the row or the error)."""
    try:
        expected = batch(claim_row, events, as_of, **options)
    except InputError as error:
        with pytest.raises(type(error)) as raised:
            state_of_rows(claim_row, events, as_of, **options)
        assert str(raised.value) == str(error)
        return None
    got = state_of_rows(claim_row, events, as_of, **options)
    assert got == expected, {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    return got


@pytest.mark.slow  # ~10 s on a quiet machine; test_claims_with_many_events_... below runs in every pass
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(portfolios(min_claims=1, max_claims=3, max_events_per_claim=12), waterfall_orders(), st.booleans())
def test_each_claim_of_a_generated_book_as_the_batch_engine_computes_it(portfolio, order, stale):
    claims, events, as_of = portfolio
    for c in claims:
        mine = [e for e in events if e["claim_id"] == c["claim_id"]]  # in the ledger's order, not sorted
        same_as_batch(c, mine, as_of, waterfall=",".join(order), allow_stale_rates=stale)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_claims_with_many_events_as_the_batch_engine_computes_them(seed):
    claims, events, as_of = random_portfolio(seed, n_claims=12, min_events_per_claim=10, max_events_per_claim=40)
    for c in claims:
        same_as_batch(c, [e for e in events if e["claim_id"] == c["claim_id"]], as_of, allow_stale_rates=True)


def test_a_scenario_a_lawyer_can_read():
    """100 zł due 15 Jan 2024 at the statutory late rate, 50 zł paid on 1 June 2024, the payment
    reversed and paid again: the same balance both ways, and the payment counted once."""
    c = claim(7, due=date(2024, 1, 15), principal=10_000)
    events = [
        event(1, "payment", date(2024, 6, 1), 5_000, claim_id=7),
        event(2, "reversal", date(2024, 6, 3), claim_id=7, reverses=1),
        event(3, "payment", date(2024, 6, 3), 5_000, claim_id=7),
        event(4, "acknowledgment", date(2024, 6, 3), claim_id=7),
    ]
    row = same_as_batch(c, events, AS_OF, allow_stale_rates=True)
    assert row is not None and row["paid_principal"] + row["paid_interest"] + row["paid_costs"] == 5_000


def test_errors_within_the_contract_are_the_batch_engines():
    c = claim(7, due=date(2024, 1, 15))
    other = [event(1, "reversal", date(2024, 6, 3), claim_id=7, reverses=99)]  # no such event of the claim
    assert same_as_batch(c, other, AS_OF, allow_stale_rates=True) is None
    with pytest.raises(InputError):  # past the rate tables' validity, not allowed
        state_of_rows(c, [], date(2030, 1, 1))
    same_as_batch(c, [], date(2030, 1, 1))


@pytest.mark.parametrize(
    ("claim_fields", "event_fields"),
    [
        ({"principal": -1}, {}),
        ({"interest_basis": "no_such_basis"}, {}),
        ({"interest_basis": "contractual", "contractual_rate_bp": None}, {}),
        ({"interest_basis": "contractual", "contractual_rate_bp": 100_001}, {}),
        ({"limitation_kind": "own_years", "limitation_years": None}, {}),
        ({"due_date": datetime(2024, 1, 15, 12, 0)}, {}),
        ({"principal": 10.5}, {}),
        ({"principal": True}, {}),
        ({"purchase_price": None}, {}),
        ({}, {"amount": 0}),
        ({}, {"amount": None}),
        ({}, {"kind": "gift"}),
        ({}, {"claim_id": 8}),
        ({}, {"event_date": "2024-06-01"}),
    ],
)
def test_rows_outside_the_contract_are_left_to_the_batch_path(claim_fields, event_fields):
    c = claim(7, due=date(2024, 1, 15)) | claim_fields
    events = [event(1, "payment", date(2024, 6, 1), 5_000, claim_id=7) | event_fields]
    assert state_of_rows(c, events, AS_OF, allow_stale_rates=True) is None


def test_missing_columns_duplicate_ids_and_a_portfolios_own_order_are_left_to_the_batch_path():
    c = claim(7, due=date(2024, 1, 15))
    e = event(1, "payment", date(2024, 6, 1), 5_000, claim_id=7)
    assert state_of_rows({k: v for k, v in c.items() if k != "seller_ref"}, [], AS_OF, allow_stale_rates=True) is None
    assert state_of_rows(c, [{k: v for k, v in e.items() if k != "source"}], AS_OF, allow_stale_rates=True) is None
    assert state_of_rows(c, [e, e], AS_OF, allow_stale_rates=True) is None
    by_portfolio = {"P1": ("principal", "interest", "costs")}
    assert state_of_rows(c, [e], AS_OF, waterfall=by_portfolio, allow_stale_rates=True) is None
