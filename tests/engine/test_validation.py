"""Bad input is refused with the table, column, rule and first offending ids, the same on both
executors (on Ray the claims are cut into partitions: the errors of the partitions add up to the
engine's error over the whole input)."""

from datetime import date

import polars as pl
import pytest

from engine import EngineInputError, StaleRulesError
from tests.builders import claim, event, frames

D = date
AS_OF = D(2026, 3, 1)


@pytest.fixture
def _error(compute_state):
    def error(claims, events=(), **kw) -> str:
        with pytest.raises(EngineInputError) as info:
            compute_state(*frames(claims, list(events)), AS_OF, allow_stale_rates=True, **kw)
        return str(info.value)

    return error


def test_missing_column(compute_state):
    c, e = frames([claim(due=D(2025, 1, 1))])
    with pytest.raises(EngineInputError, match=r"claims.due_date: missing column"):
        compute_state(c.drop("due_date"), e, AS_OF)


def test_columns_the_engine_does_not_read_may_be_left_out_and_are_checked_when_there(compute_state):
    c, e = frames([claim(7, due=D(2025, 1, 1))], [event(1, "payment", D(2025, 6, 1), 100, claim_id=7)])
    full = compute_state(c, e, AS_OF)
    slim = compute_state(
        c.drop("seller_ref", "debtor_id", "debtor_kind", "purchase_date", "purchase_price"), e.drop("source"), AS_OF
    )
    assert slim.equals(full)
    with pytest.raises(EngineInputError, match=r"claims.purchase_price: must be >= 0"):
        compute_state(c.with_columns(pl.lit(-1).alias("purchase_price")), e, AS_OF)
    with pytest.raises(EngineInputError, match=r"claims.debtor_kind: unknown value"):
        compute_state(c.with_columns(pl.lit("alien").alias("debtor_kind")), e, AS_OF)


def test_float_money_is_refused(compute_state):
    c, e = frames([claim(due=D(2025, 1, 1))])
    with pytest.raises(EngineInputError, match=r"claims.principal: expected Int64, got Float64 \(money is int64 grosz"):
        compute_state(c.with_columns(pl.col("principal").cast(pl.Float64)), e, AS_OF)


def test_narrower_integers_and_categoricals_are_accepted(compute_state):
    c, e = frames([claim(due=D(2025, 1, 1))])
    c = c.with_columns(pl.col("claim_id").cast(pl.Int32), pl.col("interest_basis").cast(pl.Categorical))
    assert compute_state(c, e, AS_OF).num_rows == 1


def test_unknown_enum_value_names_the_allowed_ones(_error):
    msg = _error([claim(7, due=D(2025, 1, 1), interest_basis="ustawowe")])
    assert "claims.interest_basis: unknown value; allowed: none, statutory_late" in msg and "claim_id: 7" in msg


def test_negative_amount_names_first_ids_and_count(_error):
    msg = _error([claim(i, due=D(2025, 1, 1), principal=-1 if i in (3, 5) else 1) for i in range(1, 7)])
    assert "claims.principal: must be >= 0" in msg and "(2 rows; first claim_id: 3, 5)" in msg


def test_payment_without_positive_amount(_error):
    msg = _error([claim(due=D(2025, 1, 1))], [event(9, "payment", D(2025, 2, 1), 0)])
    assert "events.amount: required and > 0" in msg and "event_id: 9" in msg


def test_event_for_an_unknown_claim(_error):
    msg = _error([claim(1, due=D(2025, 1, 1))], [event(4, "payment", D(2025, 2, 1), 100, claim_id=2)])
    assert "events.claim_id: event for an unknown claim" in msg and "event_id: 4" in msg


def test_reversal_must_name_an_event_of_the_same_claim(_error):
    claims = [claim(1, due=D(2025, 1, 1)), claim(2, due=D(2025, 1, 1))]
    evs = [
        event(1, "payment", D(2025, 2, 1), 100, claim_id=1),
        event(2, "reversal", D(2025, 3, 1), claim_id=2, reverses=1),
    ]
    assert "events.reverses: must name an event_id of the same claim" in _error(claims, evs)
    assert "events.reverses: required for kind reversal" in _error(claims, [event(3, "reversal", D(2025, 3, 1))])


def test_duplicate_ids(_error):
    assert "claims.claim_id: must be unique" in _error([claim(1, due=D(2025, 1, 1)), claim(1, due=D(2025, 1, 1))])
    evs = [event(1, "acknowledgment", D(2025, 2, 1)), event(1, "acknowledgment", D(2025, 3, 1))]
    assert "events.event_id: must be unique" in _error([claim(due=D(2025, 1, 1))], evs)


def test_contractual_needs_a_rate_and_custom_needs_years(_error):
    assert "claims.contractual_rate_bp: required" in _error([claim(due=D(2025, 1, 1), interest_basis="contractual")])
    assert "claims.limitation_years: required" in _error([claim(due=D(2025, 1, 1), limitation_kind="custom")])


def test_interest_before_the_first_rate_is_refused(_error):
    assert "statutory_late has no rate before 1993-05-01" in _error([claim(due=D(1992, 1, 1))])


def test_overflow_budget(_error):
    msg = _error([claim(due=D(2000, 1, 1), principal=2**61, interest_basis="statutory_late")])
    assert "overflow budget" in msg


def test_stale_rates_refused_unless_allowed(compute_state):
    c, e = frames([claim(due=D(2025, 1, 1))])
    with pytest.raises(StaleRulesError, match="statutory_late"):
        compute_state(c, e, D(2026, 11, 22))
    # a portfolio with no interest needs no rate table
    c2, _ = frames([claim(due=D(2025, 1, 1), interest_basis="none")])
    assert compute_state(c2, e, D(2026, 11, 22)).num_rows == 1


def test_unsorted_input_gives_the_same_state(compute_state):
    claims = [claim(i, due=D(2020, 1, i)) for i in (3, 1, 2)]
    evs = [event(i, "payment", D(2021, 1, 10 - i), 1_000 * i, claim_id=1 + i % 3) for i in range(1, 7)]
    a = compute_state(*frames(claims, evs), AS_OF)
    b = compute_state(
        *frames(
            sorted(claims, key=lambda r: r["claim_id"]),
            sorted(evs, key=lambda r: (r["claim_id"], r["event_date"], r["event_id"])),
        ),
        AS_OF,
    )
    assert a.equals(b) and a.column("claim_id").to_pylist() == [1, 2, 3]


def test_empty_portfolio(compute_state):
    c, e = frames([])
    assert compute_state(c, e, AS_OF).num_rows == 0
