"""Settlements at a discount: claim 1 (1 000,00 zł, statutory late interest, due 2025-01-31) is
offered on 2026-01-10 to be closed for 600,00 zł if paid by 2026-02-28."""

from __future__ import annotations

from datetime import date

import pytest

from api.plans import service
from engine.errors import InputError
from tests.builders import claim
from tests.payments.helpers import TODAY, events_of, load, pay, state, update

D = date


@pytest.fixture
def offer(store):
    load(store, claim(1, due=D(2025, 1, 31)))
    made = service.create_settlement(
        store=store, claim_id=1, amount=60_000, pay_by=D(2026, 2, 28), offered_on=D(2026, 1, 10), today=TODAY
    )
    return store, made["settlement_id"]


def shown(store, settlement_id: int) -> dict:
    return service.show_settlement(store=store, settlement_id=settlement_id)


def test_paid_in_full_by_the_day_the_rest_is_written_off_that_day(offer):
    store, settlement_id = offer
    pay(store, 1, D(2026, 1, 5), 10_000)  # before the offer: not counted
    pay(store, 1, D(2026, 1, 15), 30_000)
    pay(store, 1, D(2026, 2, 20), 30_000)
    update(store, D(2026, 2, 19))
    assert (shown(store, settlement_id)["status"], shown(store, settlement_id)["paid"]) == ("open", "300.00")
    summary = update(store, D(2026, 2, 20))
    assert summary["settlements"] == {"paid": 1} and summary["write_offs"] == 1
    paid = shown(store, settlement_id)
    assert (paid["status"], paid["status_on"], paid["paid"]) == ("paid", "2026-02-20", "600.00")
    [write_off] = events_of(store, 1, "write_off")
    assert (write_off["event_date"], write_off["idempotency_key"], write_off["event_id"]) == (
        D(2026, 2, 20),
        f"settlement:{settlement_id}:write_off",
        paid["write_off_event_id"],
    )
    after = state(store, D(2026, 3, 1))[1]
    assert after["total_due"] == 0
    assert after["paid_costs"] + after["paid_interest"] + after["paid_principal"] == 70_000


def test_not_paid_by_the_day_it_lapses_the_day_after(offer):
    store, settlement_id = offer
    pay(store, 1, D(2026, 2, 1), 30_000)
    update(store, D(2026, 2, 28))
    assert shown(store, settlement_id)["status"] == "open"
    update(store, D(2026, 3, 1))
    lapsed = shown(store, settlement_id)
    assert (lapsed["status"], lapsed["status_on"], lapsed["paid"]) == ("lapsed", "2026-03-01", "300.00")
    pay(store, 1, D(2026, 3, 2), 30_000)  # too late: the claim is owed as before
    update(store, D(2026, 3, 3))
    assert shown(store, settlement_id)["status"] == "lapsed"
    assert events_of(store, 1, "write_off") == []
    assert state(store, D(2026, 3, 3))[1]["total_due"] > 0


def test_one_open_offer_per_claim_and_a_cancelled_one_is_left_alone(offer):
    store, settlement_id = offer
    with pytest.raises(InputError, match="has an open settlement"):
        service.create_settlement(
            store=store, claim_id=1, amount=50_000, pay_by=D(2026, 3, 31), offered_on=D(2026, 1, 11), today=TODAY
        )
    service.cancel_settlement(store=store, settlement_id=settlement_id, on=D(2026, 1, 12), reason="withdrawn")
    pay(store, 1, D(2026, 1, 20), 60_000)
    update(store, D(2026, 1, 20))
    assert shown(store, settlement_id)["status"] == "cancelled"
    assert events_of(store, 1, "write_off") == []
    again = service.create_settlement(
        store=store, claim_id=1, amount=50_000, pay_by=D(2026, 3, 31), offered_on=D(2026, 1, 21), today=TODAY
    )
    assert [s["settlement_id"] for s in service.list_settlements(store=store, claim_id=1)] == [
        again["settlement_id"],
        settlement_id,
    ]
    with pytest.raises(InputError, match="pay_by: 2026-01-01 is before the offer"):
        service.create_settlement(
            store=store, claim_id=1, amount=1, pay_by=D(2026, 1, 1), offered_on=D(2026, 1, 2), today=TODAY
        )


def test_a_payment_in_time_that_comes_in_late_turns_a_lapsed_settlement_paid(offer):
    store, settlement_id = offer
    update(store, D(2026, 3, 2))
    assert shown(store, settlement_id)["status"] == "lapsed"
    pay(store, 1, D(2026, 2, 27), 60_000)  # paid in time, on the statement of 2026-03-03
    update(store, D(2026, 3, 3))
    paid = shown(store, settlement_id)
    assert (paid["status"], paid["status_on"]) == ("paid", "2026-02-27")
    assert [e["event_date"] for e in events_of(store, 1, "write_off")] == [D(2026, 2, 27)]
