"""Promises to pay, kept or broken by the payments, and the kept-promise rate per agency and per
collector that the reports read (api/plans/service.py ``promise_rates``)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from allocation.store import add_agency
from api.plans import service
from engine.errors import InputError
from engine.store.models import Placement
from tests.builders import claim
from tests.payments.helpers import TODAY, load, pay, update

D = date


@pytest.fixture
def book(store):
    load(store, *(claim(i, due=D(2025, 1, 31)) for i in (1, 2, 3, 4)))
    for agency in ("AG1", "AG2"):
        add_agency(store, agency, {"name": agency})
    with store.begin() as conn:
        conn.execute(
            sa.insert(Placement.__table__),
            [{"claim_id": 1, "agency_id": "AG1", "queue": "agency", "placed_on": D(2026, 1, 1)}],
        )
    return store


def promise(store, claim_id, amount, pay_by, made_on=date(2026, 1, 10), **who) -> dict:
    return service.create_promise(
        store=store, claim_id=claim_id, amount=amount, pay_by=pay_by, made_on=made_on, today=TODAY, **who
    )


def test_kept_broken_and_the_rates_per_agency_and_collector(book):
    kept = promise(book, 1, 20_000, D(2026, 1, 20), collector="anna")  # AG1: the claim is placed with it
    assert kept["agency_id"] == "AG1"
    broken = promise(book, 2, 30_000, D(2026, 1, 20), agency_id="AG1", collector="bartek")
    still_open = promise(book, 3, 10_000, D(2026, 2, 10), agency_id="AG2", collector="celina")
    own = promise(book, 4, 5_000, D(2026, 1, 15))  # the purchaser's own staff: no agency
    pay(book, 1, D(2026, 1, 18), 20_000)
    pay(book, 2, D(2026, 1, 19), 10_000)
    pay(book, 4, D(2026, 1, 9), 5_000)  # the day before the promise: not counted
    summary = update(book, D(2026, 1, 21))
    assert summary["promises"] == {"broken": 2, "kept": 1, "open": 1}
    found = {p["promise_id"]: (p["status"], p["status_on"], p["paid"]) for p in service.list_promises(store=book)}
    assert found == {
        kept["promise_id"]: ("kept", "2026-01-18", "200.00"),
        broken["promise_id"]: ("broken", "2026-01-21", "100.00"),
        still_open["promise_id"]: ("open", "2026-01-10", "0.00"),
        own["promise_id"]: ("broken", "2026-01-16", "0.00"),
    }
    by_agency = {r["agency_id"]: r for r in service.promise_rates(store=book, by="agency")}
    assert {k: (r["promises"], r["kept"], r["broken"], r["open"], r["kept_rate"]) for k, r in by_agency.items()} == {
        "AG1": (2, 1, 1, 0, "0.5000"),
        "AG2": (1, 0, 0, 1, None),
        None: (1, 0, 1, 0, "0.0000"),
    }
    assert (by_agency["AG1"]["promised"], by_agency["AG1"]["paid"]) == ("500.00", "300.00")
    by_collector = {
        (r["agency_id"], r["collector"]): r["kept_rate"] for r in service.promise_rates(store=book, by="collector")
    }
    assert by_collector == {
        ("AG1", "anna"): "1.0000",
        ("AG1", "bartek"): "0.0000",
        ("AG2", "celina"): None,
        (None, None): "0.0000",
    }
    # a window of days due
    assert service.promise_rates(store=book, since=D(2026, 2, 1))[0]["agency_id"] == "AG2"


def test_the_rate_is_rounded_half_up_to_four_places_without_floats():
    import polars as pl

    from payments.promises import kept_rates

    rows = pl.DataFrame(
        {
            "agency_id": ["A"] * 3 + ["B"] * 6,
            "collector": [None] * 9,
            "status": ["kept", "broken", "broken", "kept", "kept", "broken", "broken", "broken", "cancelled"],
            "amount": [1] * 9,
            "paid": [0] * 9,
        }
    )
    rates = dict(kept_rates(rows, "agency").select("agency_id", "kept_rate").iter_rows())
    assert rates == {"A": "0.3333", "B": "0.4000"}


def test_a_cancelled_promise_counts_in_no_rate_and_bad_input_is_refused(book):
    made = promise(book, 2, 10_000, D(2026, 1, 20), agency_id="AG2")
    service.cancel_promise(store=book, promise_id=made["promise_id"], on=D(2026, 1, 11))
    update(book, D(2026, 1, 25))
    assert service.show_promise(store=book, promise_id=made["promise_id"])["status"] == "cancelled"
    assert service.promise_rates(store=book) == []
    with pytest.raises(InputError, match="agency 'AG9' is not stored"):
        promise(book, 2, 10_000, D(2026, 1, 20), agency_id="AG9")
    with pytest.raises(InputError, match="--made-on: 2027-01-01 is in the future"):
        promise(book, 2, 10_000, D(2027, 1, 20), made_on=D(2027, 1, 1))
    with pytest.raises(InputError, match="--by: 'debtor' is not agency or collector"):
        service.promise_rates(store=book, by="debtor")
