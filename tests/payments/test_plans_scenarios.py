"""Payment plans as a collections manager follows them: a plan signed, the debtor's payments, and
what the daily update and the engine make of them (kept, broken, paid early, in one lump, in
parts, across a change of the statutory rate), on SQLite and PostgreSQL.

The plan of most tests: claim 1 (1 000,00 zł principal, statutory late interest, due 2025-01-31),
signed 2026-01-10 for 900,00 zł: a down payment of 150,00 zł that day and three monthly instalments
of 250,00 zł on 2026-01-31, 2026-02-28 and 2026-03-31; grace 5 days, broken 30 days after an
unpaid instalment's day; the rest written off if every instalment is paid on time.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from api.plans import service
from engine.errors import InputError
from tests.builders import claim
from tests.payments.helpers import events_of, load, pay, plan, state, update

D = date
SIGNED = D(2026, 1, 10)


@pytest.fixture
def book(store):
    load(store, claim(1, due=D(2025, 1, 31)))
    return store


def standard(store, **terms) -> dict:
    terms = {
        "signed_on": SIGNED,
        "total": 90_000,
        "count": 3,
        "first_due": D(2026, 1, 31),
        "down_payment": 15_000,
        "write_off_rest": True,
        "grace_days": 5,
        "break_after_days": 30,
    } | terms
    return plan(store, **terms)


def statuses(store, plan_id: int, as_of: date) -> list[str]:
    return [i["status"] for i in service.show_plan(store=store, plan_id=plan_id, as_of=as_of)["schedule"]]


def stored(store, plan_id: int, as_of: date | None = None) -> dict:
    """The plan as the last update left it (days late as of ``as_of``)."""
    return service.show_plan(store=store, plan_id=plan_id, as_of=as_of)


def test_the_schedule_as_signed(book):
    made = standard(book)
    assert [(i["number"], i["due_on"], i["amount"]) for i in made["schedule"]] == [
        (0, "2026-01-10", "150.00"),
        (1, "2026-01-31", "250.00"),
        (2, "2026-02-28", "250.00"),
        (3, "2026-03-31", "250.00"),
    ]
    assert made["status"] == "active" and made["total"] == "900.00" and made["paid"] == "0.00"


def test_kept_on_time_writes_the_rest_off_on_the_day_of_the_last_instalment(book):
    made = standard(book)
    for day, amount in ((SIGNED, 15_000), (D(2026, 2, 3), 25_000), (D(2026, 2, 27), 25_000), (D(2026, 3, 31), 25_000)):
        pay(book, 1, day, amount)
    update(book, D(2026, 3, 30))
    before = stored(book, made["plan_id"], D(2026, 3, 30))
    assert (before["status"], before["instalments_paid"], before["next_due_on"], before["days_late"]) == (
        "active",
        3,
        "2026-03-31",
        0,
    )
    assert statuses(book, made["plan_id"], D(2026, 3, 30)) == ["paid", "paid", "paid", "pending"]
    summary = update(book, D(2026, 3, 31))
    assert summary["plans"] == {"kept": 1} and summary["write_offs"] == 1
    kept = stored(book, made["plan_id"])
    assert (kept["status"], kept["status_on"], kept["paid"], kept["on_time"]) == ("kept", "2026-03-31", "900.00", True)
    [write_off] = events_of(book, 1, "write_off")
    assert write_off["event_date"] == D(2026, 3, 31) and write_off["event_id"] == kept["write_off_event_id"]
    assert write_off["idempotency_key"] == f"plan:{made['plan_id']}:write_off"
    # a later update does not look at a kept plan again, nor write anything off twice
    update(book, D(2026, 4, 30))
    assert len(events_of(book, 1, "write_off")) == 1
    # the engine: owed before the last instalment, nothing after the write-off; every grosz paid counted
    assert state(book, D(2026, 3, 30))[1]["total_due"] > 25_000
    after = state(book, D(2026, 4, 1))[1]
    assert after["total_due"] == 0 and after["overpaid"] == 0
    assert after["paid_costs"] + after["paid_interest"] + after["paid_principal"] == 90_000


def test_broken_the_day_after_break_after_days_of_an_unpaid_instalment(book):
    made = standard(book)
    pay(book, 1, SIGNED, 15_000)
    pay(book, 1, D(2026, 1, 31), 25_000)
    update(book, D(2026, 3, 30))  # 2026-02-28 + 30 days: still active, 30 days late
    late = stored(book, made["plan_id"], D(2026, 3, 30))
    assert (late["status"], late["days_late"], late["next_due_on"]) == ("active", 30, "2026-02-28")
    assert statuses(book, made["plan_id"], D(2026, 3, 30)) == ["paid", "paid", "late", "pending"]
    update(book, D(2026, 3, 31))
    broken = stored(book, made["plan_id"])
    assert (broken["status"], broken["status_on"]) == ("broken", "2026-03-31")
    assert statuses(book, made["plan_id"], D(2026, 3, 31)) == ["paid", "paid", "missed", "pending"]
    # paying the rest later does not mend a broken plan, and writes nothing off
    pay(book, 1, D(2026, 4, 2), 50_000)
    update(book, D(2026, 4, 30))
    assert stored(book, made["plan_id"])["status"] == "broken"
    assert events_of(book, 1, "write_off") == []


def test_paid_early_is_kept_on_the_day_the_last_grosz_came(book):
    made = standard(book)
    pay(book, 1, SIGNED, 15_000)
    pay(book, 1, D(2026, 1, 20), 25_000)
    pay(book, 1, D(2026, 2, 10), 50_000)  # instalments 2 and 3, weeks before their days
    update(book, D(2026, 2, 10))
    kept = stored(book, made["plan_id"])
    assert (kept["status"], kept["status_on"], kept["on_time"]) == ("kept", "2026-02-10", True)
    assert [e["event_date"] for e in events_of(book, 1, "write_off")] == [D(2026, 2, 10)]


def test_one_lump_on_the_day_signed_covers_every_instalment(book):
    made = standard(book)
    pay(book, 1, SIGNED, 90_000)
    update(book, SIGNED)
    kept = stored(book, made["plan_id"])
    assert (kept["status"], kept["status_on"], kept["instalments_paid"]) == ("kept", "2026-01-10", 4)
    assert statuses(book, made["plan_id"], SIGNED) == ["paid"] * 4
    assert len(events_of(book, 1, "write_off")) == 1


def test_one_late_lump_keeps_the_plan_but_not_its_conditional_write_off(book):
    made = standard(book)
    pay(book, 1, D(2026, 2, 5), 90_000)  # the down payment 26 days late (within the 30), the rest in time
    update(book, D(2026, 2, 5))
    kept = stored(book, made["plan_id"])
    assert (kept["status"], kept["status_on"], kept["on_time"]) == ("kept", "2026-02-05", False)
    assert statuses(book, made["plan_id"], D(2026, 2, 5)) == ["paid_late", "paid", "paid", "paid"]
    assert events_of(book, 1, "write_off") == []


def test_a_lump_after_break_after_days_comes_too_late(book):
    made = standard(book)
    pay(book, 1, D(2026, 2, 20), 90_000)  # the down payment was due 2026-01-10: broken on 2026-02-10
    update(book, D(2026, 2, 20))
    broken = stored(book, made["plan_id"])
    assert (broken["status"], broken["status_on"]) == ("broken", "2026-02-10")
    assert statuses(book, made["plan_id"], D(2026, 2, 20)) == ["missed", "paid_late", "paid", "paid"]


def test_partial_payments_fill_the_instalments_in_order(book):
    made = standard(book)
    pay(book, 1, SIGNED, 10_000)
    pay(book, 1, D(2026, 1, 12), 5_000)  # the down payment complete, on time
    pay(book, 1, D(2026, 2, 1), 10_000)  # 100,00 of 250,00
    update(book, D(2026, 2, 10))
    partial = stored(book, made["plan_id"], D(2026, 2, 10))
    assert (partial["status"], partial["paid"], partial["instalments_paid"], partial["days_late"]) == (
        "active",
        "250.00",
        1,
        10,
    )
    shown = service.show_plan(store=book, plan_id=made["plan_id"], as_of=D(2026, 2, 10))["schedule"]
    assert [(i["paid_on"], i["status"]) for i in shown[:2]] == [("2026-01-12", "paid"), (None, "late")]
    pay(book, 1, D(2026, 2, 12), 15_000)
    update(book, D(2026, 2, 12))
    assert statuses(book, made["plan_id"], D(2026, 2, 12))[:3] == ["paid", "paid_late", "pending"]
    assert stored(book, made["plan_id"])["on_time"] is False


def test_a_reversed_payment_does_not_count(book):
    made = standard(book)
    payment = pay(book, 1, SIGNED, 15_000)
    from tests.payments.helpers import post

    post(book, 1, D(2026, 1, 14), "reversal", reverses=payment)
    update(book, D(2026, 1, 20))
    found = stored(book, made["plan_id"], D(2026, 1, 20))
    assert (found["paid"], found["instalments_paid"], found["days_late"]) == ("0.00", 0, 10)


def test_a_plan_spanning_a_statutory_rate_change_agrees_with_the_engine(store):
    """Statutory late interest fell from 10.75 % to 10.50 % on 2025-07-03 (NBP reference rate cut).
    The plan is for the balance the engine gives on the day it is signed; the engine goes on
    accruing at each day's rate while it is paid, so just before the last instalment the balance
    exceeds that instalment by exactly the interest accrued since signing, and the conditional
    write-off takes exactly that. The plan's status depends on the payments only."""
    load(store, claim(2, due=D(2025, 1, 31)), claim(3, due=D(2025, 1, 31)))
    signed = D(2025, 6, 2)
    at_signing = state(store, signed)
    total = at_signing[2]["total_due"]
    days = [D(2025, 6, 30), D(2025, 7, 30), D(2025, 8, 29)]
    plans = {}
    for claim_id, write_off in ((2, True), (3, False)):
        plans[claim_id] = plan(
            store,
            claim_id,
            signed_on=signed,
            total=total,
            count=3,
            first_due=days[0],
            write_off_rest=write_off,
            grace_days=0,
            break_after_days=30,
        )
    amounts = [int(i["amount"].replace(".", "")) for i in plans[2]["schedule"]]
    assert sum(amounts) == total
    for claim_id in (2, 3):
        for day, amount in zip(days, amounts, strict=True):
            pay(store, claim_id, day, amount)
    before_last = state(store, D(2025, 8, 28))[2]
    accrued_since = before_last["interest_accrued"] - at_signing[2]["interest_accrued"]
    assert accrued_since > 0
    assert before_last["total_due"] == amounts[2] + accrued_since
    update(store, D(2025, 8, 29))
    for claim_id in (2, 3):
        assert stored(store, plans[claim_id]["plan_id"])["status"] == "kept"
    after = state(store, D(2025, 9, 30))
    assert after[2]["total_due"] == 0  # written off on 2025-08-29, nothing accrues after it
    assert after[2]["paid_costs"] + after[2]["paid_interest"] + after[2]["paid_principal"] == total
    # without the write-off the interest accrued over the rate change is still owed, and accrues on
    on_the_day = state(store, D(2025, 8, 29))[3]
    assert on_the_day["total_due"] == accrued_since + on_the_day["interest_accrued"] - before_last["interest_accrued"]
    assert after[3]["total_due"] > 0


def test_signing_records_the_acknowledgment_once_and_it_moves_the_limitation_date(store):
    """A card debt connected with business (3 years) due 2023-03-10 would be time-barred after
    2026-12-31; the debtor signs a plan on 2026-06-01: an acknowledgment (art. 123 § 1 pkt 2 KC),
    a new 3-year run from that day, to 2029-06-01, then the end of that year (docs/engine.md §3)."""
    load(store, claim(4, due=D(2023, 3, 10), limitation_kind="business"))
    assert state(store, D(2026, 6, 1))[4]["limitation_date"] == D(2026, 12, 31)
    made = plan(store, 4, signed_on=D(2026, 6, 1), total=60_000, count=6, first_due=D(2026, 7, 1))
    [ack] = events_of(store, 4, "acknowledgment")
    assert (ack["event_date"], ack["idempotency_key"], ack["event_id"]) == (
        D(2026, 6, 1),
        f"plan:{made['plan_id']}:acknowledgment",
        made["acknowledgment_event_id"],
    )
    assert state(store, D(2026, 6, 1))[4]["limitation_date"] == D(2029, 12, 31)
    # a second plan while this one is active is refused; the updates add no acknowledgment
    with pytest.raises(InputError, match="has an active plan"):
        plan(store, 4, signed_on=D(2026, 6, 2), total=60_000, count=6, first_due=D(2026, 7, 1))
    update(store, D(2026, 7, 1))
    update(store, D(2026, 7, 2))
    assert len(events_of(store, 4, "acknowledgment")) == 1


def test_cancelled_plans_are_left_alone(book):
    made = standard(book)
    service.cancel_plan(store=book, plan_id=made["plan_id"], on=D(2026, 1, 20), reason="debtor asked")
    pay(book, 1, D(2026, 1, 21), 90_000)
    update(book, D(2026, 2, 1))
    cancelled = stored(book, made["plan_id"])
    assert (cancelled["status"], cancelled["status_on"], cancelled["cancel_reason"]) == (
        "cancelled",
        "2026-01-20",
        "debtor asked",
    )
    assert events_of(book, 1, "write_off") == []
    with pytest.raises(InputError, match="is cancelled, not active"):
        service.cancel_plan(store=book, plan_id=made["plan_id"], on=D(2026, 2, 1))


def test_bad_terms_are_refused_naming_the_field(book):
    with pytest.raises(InputError, match="instalment 2: due 2026-01-31, not after"):
        plan(book, signed_on=SIGNED, custom=[(D(2026, 2, 1), 100), (D(2026, 1, 31), 100)])
    with pytest.raises(InputError, match="--signed-on: .* is in the future"):
        plan(book, signed_on=D(2027, 1, 1), total=100, count=1, first_due=D(2027, 2, 1))
    with pytest.raises(InputError, match="claim 99 is not in the store"):
        plan(book, 99, signed_on=SIGNED, total=100, count=1, first_due=D(2026, 2, 1))
    with pytest.raises(InputError, match="break_after_days"):
        standard(book, grace_days=10, break_after_days=5)


def test_payments_that_come_in_late_mend_a_plan_broken_for_want_of_them(book):
    """An update ran before the bank's statement with the payments was loaded: the plan broke for
    want of them. When they come (dated before it broke), the next update decides it anew: a plan
    that failed within the last SETTLE_DAYS is looked at again; after that it is final."""
    from payments.plans.store import SETTLE_DAYS

    made = standard(book)
    update(book, D(2026, 2, 10))
    assert (stored(book, made["plan_id"])["status"], stored(book, made["plan_id"])["status_on"]) == (
        "broken",
        "2026-02-10",
    )
    pay(book, 1, SIGNED, 15_000)
    pay(book, 1, D(2026, 1, 30), 25_000)
    update(book, D(2026, 2, 12))
    mended = stored(book, made["plan_id"])
    assert (mended["status"], mended["status_on"], mended["paid"]) == ("active", "2026-01-10", "400.00")
    # broken again (instalment 2 unpaid), and long enough ago: final
    update(book, D(2026, 3, 31))
    assert stored(book, made["plan_id"])["status_on"] == "2026-03-31"
    pay(book, 1, D(2026, 2, 27), 50_000)
    update(book, D(2026, 3, 31) + timedelta(days=SETTLE_DAYS + 1))
    assert stored(book, made["plan_id"])["status"] == "broken"


def test_a_plan_replaced_by_a_later_one_stays_as_it_stood(book):
    """The plan broke for want of payments not loaded yet, and a new plan was signed: the old one is
    replaced (``replaced_by``) and final. The late payments then mend nothing, and an update for a
    day before it broke leaves it broken: never two active plans of one claim. The same for an
    offer lapsed and made again."""
    first = standard(book)
    update(book, D(2026, 2, 10))
    assert stored(book, first["plan_id"])["status"] == "broken"
    second = standard(book, signed_on=D(2026, 2, 11), first_due=D(2026, 3, 31), down_payment=0)
    assert stored(book, first["plan_id"])["replaced_by"] == second["plan_id"]
    assert stored(book, second["plan_id"])["replaced_by"] is None
    pay(book, 1, SIGNED, 15_000)  # what would have mended the first plan
    pay(book, 1, D(2026, 1, 30), 25_000)
    for day in (D(2026, 2, 12), D(2026, 1, 31)):  # the day's update, then one for a day before it broke
        update(book, day)
        assert (stored(book, first["plan_id"])["status"], stored(book, first["plan_id"])["status_on"]) == (
            "broken",
            "2026-02-10",
        )
        assert stored(book, second["plan_id"])["status"] == "active"
    offer = service.create_settlement(
        store=book, claim_id=1, amount=10_000, pay_by=D(2026, 2, 20), offered_on=D(2026, 2, 1), today=D(2026, 12, 1)
    )
    update(book, D(2026, 2, 21))
    assert service.show_settlement(store=book, settlement_id=offer["settlement_id"])["status"] == "lapsed"
    again = service.create_settlement(
        store=book, claim_id=1, amount=10_000, pay_by=D(2026, 3, 20), offered_on=D(2026, 2, 22), today=D(2026, 12, 1)
    )
    update(book, D(2026, 2, 19))  # the first offer open again as of then, had it not been replaced
    lapsed = service.show_settlement(store=book, settlement_id=offer["settlement_id"])
    assert (lapsed["status"], lapsed["replaced_by"]) == ("lapsed", again["settlement_id"])


def test_the_upgrade_to_0021_marks_the_plans_made_before_another(book):
    """Plans made before 0021 knew nothing of ``replaced_by``: the upgrade marks each plan that has
    a later one on its claim with the next one's id; the downgrade takes the column away."""
    from alembic import command

    from engine.store.database import alembic_config, upgrade_schema

    plans = [standard(book)["plan_id"]]
    for signed in (D(2026, 2, 11), D(2026, 3, 11)):
        service.cancel_plan(store=book, plan_id=plans[-1], on=signed)
        plans.append(standard(book, signed_on=signed, first_due=signed + timedelta(days=30), down_payment=0)["plan_id"])
    command.downgrade(alembic_config(book), "0020")
    upgrade_schema(book)
    assert [stored(book, p)["replaced_by"] for p in plans] == [plans[1], plans[2], None]
