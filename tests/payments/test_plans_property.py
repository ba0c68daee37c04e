"""The daily update's polars (every plan at once) against a plain reference written from
docs/plans.md, one plan and one payment at a time, on generated plans and payments: several plans
on one claim, payments on the same day, before signing, after the day of the update, lumps and
dribbles."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.plans import coverage
from payments.plans.status import plans_as_of

WIDE = coverage.KEY_BITS

START = date(2026, 1, 1)


def reference(plan: dict, instalments: list[dict], payments: list[dict], as_of: date) -> dict:
    """One plan as of ``as_of``, by the rules of docs/plans.md, step by step."""
    counted = sorted(
        (p for p in payments if p["claim_id"] == plan["claim_id"] and plan["signed_on"] <= p["event_date"] <= as_of),
        key=lambda p: (p["event_date"], p["event_id"]),
    )
    paid_on, target, running, k = [], 0, 0, 0
    for inst in instalments:
        target += inst["amount"]
        while running < target and k < len(counted):
            running += counted[k]["amount"]
            k += 1
            day = counted[k - 1]["event_date"]
        paid_on.append(day if running >= target and (k > 0) else None)
    g, b = timedelta(days=plan["grace_days"]), timedelta(days=plan["break_after_days"])
    breaks = [
        i["due_on"] + b + timedelta(days=1)
        for i, on in zip(instalments, paid_on, strict=True)
        if (on is None or on > i["due_on"] + b) and i["due_on"] + b + timedelta(days=1) <= as_of
    ]
    on_time = all(on is None or on <= i["due_on"] + g for i, on in zip(instalments, paid_on, strict=True))
    unpaid = [i["due_on"] for i, on in zip(instalments, paid_on, strict=True) if on is None]
    if breaks:
        status, status_on = "broken", min(breaks)
    elif not unpaid:
        status, status_on = "kept", max(paid_on)
    else:
        status, status_on = "active", plan["signed_on"]
    return {
        "plan_id": plan["plan_id"],
        "status": status,
        "status_on": status_on,
        "paid": sum(p["amount"] for p in counted),
        "instalments_paid": sum(on is not None for on in paid_on),
        "next_due_on": min(unpaid) if unpaid else None,
        "days_late": max((as_of - min(unpaid)).days, 0) if unpaid and status == "active" else 0,
        "on_time": on_time,
        "write_off_on": status_on if status == "kept" and on_time and plan["write_off_rest"] else None,
    }


@st.composite
def books(draw):
    plans, instalments = [], []
    for plan_id in range(1, draw(st.integers(1, 6)) + 1):
        signed = START + timedelta(days=draw(st.integers(0, 30)))
        grace = draw(st.integers(0, 5))
        plans.append(
            {
                "plan_id": plan_id,
                "claim_id": draw(st.integers(1, 3)),
                "signed_on": signed,
                "grace_days": grace,
                "break_after_days": grace + draw(st.integers(0, 15)),
                "write_off_rest": draw(st.booleans()),
            }
        )
        day = signed
        for number in range(draw(st.integers(1, 6))):
            day += timedelta(days=draw(st.integers(0 if number == 0 else 1, 20)))
            instalments.append(
                {"plan_id": plan_id, "number": number, "due_on": day, "amount": draw(st.integers(1, 500))}
            )
    terms = {p["plan_id"]: p for p in plans}
    turning = [
        i["due_on"] + timedelta(days=terms[i["plan_id"]][days] + extra)
        for i in instalments
        for days in ("grace_days", "break_after_days")
        for extra in (0, 1)
    ]
    any_day = st.dates(START, START + timedelta(days=150))
    payments = [
        {
            "claim_id": draw(st.integers(1, 3)),
            "event_id": event_id,
            "event_date": draw(st.one_of(st.sampled_from(turning), any_day)),
            "amount": draw(st.integers(1, 600)),
        }
        for event_id in draw(st.lists(st.integers(1, 10_000), unique=True, max_size=40))
    ]
    # the days of payments and of the update: often one where a rule turns (the end of a grace or a break)
    turning += [p["event_date"] for p in payments]
    as_of = draw(st.one_of(st.sampled_from(turning), st.dates(START + timedelta(days=20), START + timedelta(days=170))))
    return plans, instalments, payments, as_of


@settings(max_examples=300, deadline=None)
@given(books(), st.booleans())
def test_the_vectorised_update_equals_the_reference(book, narrow_keys):
    """Also with the as-of join that takes over when search keys do not fit 62 bits."""
    plans, instalments, payments, as_of = book
    if narrow_keys:
        coverage.KEY_BITS = 0
    try:
        check(plans, instalments, payments, as_of)
    finally:
        coverage.KEY_BITS = WIDE


def check(plans, instalments, payments, as_of):
    found = plans_as_of(
        pl.DataFrame(plans),
        pl.DataFrame(instalments),
        pl.DataFrame(
            payments, schema={"claim_id": pl.Int64, "event_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64}
        ),
        as_of,
    )
    got = {r["plan_id"]: {k: v for k, v in r.items() if k != "claim_id"} for r in found.iter_rows(named=True)}
    for plan in plans:
        own = [i for i in instalments if i["plan_id"] == plan["plan_id"]]
        assert got[plan["plan_id"]] == reference(plan, own, payments, as_of), plan
