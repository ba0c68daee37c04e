"""The daily update that starts from the last one (payments/plans/store.py ``update``: only the open
rows of claims with payments or reversals not yet counted, new rows and rows that turn by the day
are recomputed) against the full recompute (``full=True``): two stores made alike step by step,
with payments dated since the last update, recorded late (dated before it), dated ahead of the
update's day, reversals of old payments, plans, settlements and promises made and cancelled on
the way; after every update both stores hold the same rows and the updates said the same."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.plans import service
from engine.errors import InputError
from engine.store.database import open_store
from engine.store.models import PaymentPlan, Promise, Settlement
from payments.plans import store as plans_store
from tests.builders import claim
from tests.payments.helpers import TODAY, load, post

START = date(2026, 1, 1)
CLAIMS = 8
#: the columns compared (``created_at`` is the moment each store wrote the row: not the update's)
COMPARED = {
    "payment_plans": "plan_id, claim_id, status, status_on, paid, instalments_paid, next_due_on, on_time, "
    "updated_as_of, write_off_event_id",
    "settlements": "settlement_id, claim_id, status, status_on, paid, updated_as_of, write_off_event_id",
    "promises": "promise_id, claim_id, status, status_on, paid, updated_as_of",
    "events": "event_id, claim_id, event_date, kind, amount, reverses, idempotency_key",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A migrated SQLite store with CLAIMS claims, copied for each example."""
    path = tmp_path_factory.mktemp("incremental") / "template.db"
    engine = open_store(f"sqlite:///{path}")
    load(engine, *(claim(i, due=date(2025, 1, 31)) for i in range(1, CLAIMS + 1)))
    engine.dispose()
    return path


def rows(engine: sa.Engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY 1")]
            for table, columns in COMPARED.items()
        }


def made_on(engine: sa.Engine, day: date) -> None:
    """The rows just made (now) taken as made at noon of ``day``, the day the test plays."""
    with engine.begin() as conn:
        for table in (PaymentPlan.__table__, Settlement.__table__, Promise.__table__):
            conn.execute(
                sa.update(table)
                .where(table.c.created_at > datetime(2026, 11, 1, tzinfo=UTC))
                .values(created_at=datetime.combine(day, time(12), UTC))
            )


def apply(engine: sa.Engine, day: date, step: tuple, posted: list[int]) -> str:
    """One thing done on ``day`` to the store; what came of it (the same in both stores)."""
    kind, claim_id, lag, amount, extra = step
    try:
        return _apply(engine, day, kind, claim_id, lag, amount, extra, posted)
    finally:
        made_on(engine, day)


def _apply(engine: sa.Engine, day: date, kind: str, claim_id: int, lag: int, amount: int, extra: int, posted) -> str:
    try:
        if kind == "pay":  # dated lag days before the day it is recorded (ahead of it when lag < 0);
            # now and then with an older recorded day (a file's): numbered after the last update all the same
            recorded = day if extra % 3 else day - timedelta(days=30)
            posted.append(post(engine, claim_id, day - timedelta(days=lag), "payment", amount, recorded_on=recorded))
        elif kind == "reverse" and posted:
            target = posted[extra % len(posted)]
            with engine.connect() as conn:
                of = conn.exec_driver_sql(f"SELECT claim_id FROM events WHERE event_id = {target}").scalar_one()
            post(engine, of, day - timedelta(days=lag % 5), "reversal", reverses=target, recorded_on=day)
        elif kind == "plan":
            service.create_plan(
                store=engine,
                claim_id=claim_id,
                signed_on=day - timedelta(days=lag % 40),
                today=TODAY,
                total=amount * 4,
                count=1 + extra % 4,
                first_due=day - timedelta(days=lag % 40) + timedelta(days=1 + extra % 20),
                down_payment=amount // 2 if extra % 3 == 0 else 0,
                write_off_rest=extra % 2 == 0,
                grace_days=extra % 4,
                break_after_days=extra % 4 + lag % 15,
            )
        elif kind == "settle":
            offered = day - timedelta(days=lag % 20)
            service.create_settlement(
                store=engine,
                claim_id=claim_id,
                amount=amount,
                pay_by=offered + timedelta(days=extra % 25),
                offered_on=offered,
                today=TODAY,
            )
        elif kind == "promise":
            made = day - timedelta(days=lag % 20)
            service.create_promise(
                store=engine,
                claim_id=claim_id,
                amount=amount,
                pay_by=made + timedelta(days=extra % 15),
                made_on=made,
                today=TODAY,
            )
        elif kind == "cancel":
            with engine.connect() as conn:
                active = conn.exec_driver_sql(
                    f"SELECT plan_id, signed_on FROM payment_plans WHERE status = 'active' AND claim_id = {claim_id}"
                ).first()
            if active is not None:
                service.cancel_plan(store=engine, plan_id=active[0], on=max(day, date.fromisoformat(str(active[1]))))
    except InputError as refused:
        return f"refused: {refused}"
    return "done"


steps = st.tuples(
    st.sampled_from(["pay", "pay", "pay", "reverse", "plan", "plan", "settle", "promise", "cancel"]),
    st.integers(1, CLAIMS),
    st.integers(-8, 45),  # how many days before the day it is dated (payments recorded late, or ahead)
    st.integers(1, 30_000),
    st.integers(0, 1_000),
)
days = st.lists(
    st.tuples(st.integers(-3, 25), st.lists(steps, max_size=6)),  # the next update's day, what came before it
    min_size=2,
    max_size=6,
)


#: what the first day brings: a plan on each claim, a settlement and a promise on some
openings = st.lists(
    st.tuples(
        st.sampled_from(["plan", "plan", "plan", "settle", "promise"]),
        st.integers(0, 45),
        st.integers(1, 30_000),
        st.integers(0, 1_000),
    ),
    min_size=CLAIMS,
    max_size=CLAIMS + 4,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(openings, days)
def test_the_update_from_the_last_one_equals_the_full_recompute(template, tmp_path_factory, opened, history):
    folder = tmp_path_factory.mktemp("pair")
    stores = []
    for name in ("incremental", "full"):
        shutil.copy(template, folder / f"{name}.db")
        stores.append(open_store(f"sqlite:///{folder / name}.db"))
    incremental, full = stores
    every, clock = plans_store.FULL_ABOVE, plans_store.today
    plans_store.FULL_ABOVE = float("inf")  # never fall back to the full read: the test is of the other path
    try:
        day, posted, played = START + timedelta(days=40), ([], []), 0
        first = [(kind, n % CLAIMS + 1, lag, amount, extra) for n, (kind, lag, amount, extra) in enumerate(opened)]
        for step_days, done in [(0, first), *history]:
            for step in done:
                assert apply(incremental, day, step, posted[0]) == apply(full, day, step, posted[1])
            day += timedelta(days=step_days)  # now and then a day before the last update's: recomputed whole
            played = max(played, day.toordinal())
            plans_store.today = lambda: date.fromordinal(played)  # noqa: B023 (called in this round only)
            found = [
                plans_store.update(store, day, full=store is full).summary() | {"seconds": None} for store in stores
            ]
            assert found[0] == found[1]
            assert rows(incremental) == rows(full)
            day = date.fromordinal(played)  # what comes next is recorded on the day played, not before
    finally:
        plans_store.FULL_ABOVE, plans_store.today = every, clock
        for store in stores:
            store.dispose()


def test_the_update_recomputes_only_what_changed(store, monkeypatch):
    """On SQLite and PostgreSQL: a plan and a settlement on claims 1 and 2; from the second update
    on, only the claims with something new are recomputed; a payment recorded late (dated before
    the last update) numbered after what it saw, one numbered below it but recorded that day, a
    reversal of an old payment and an instalment missed by the day alone are each seen; a full
    recompute after each update finds nothing to change."""
    load(store, *(claim(i, due=date(2025, 1, 31)) for i in (1, 2, 3)))
    signed = date(2026, 1, 10)
    service.create_plan(
        store=store,
        claim_id=1,
        signed_on=signed,
        today=TODAY,
        total=60_000,
        count=3,
        first_due=date(2026, 1, 31),
        grace_days=5,
        break_after_days=20,
    )
    service.create_settlement(
        store=store, claim_id=2, amount=50_000, pay_by=date(2026, 3, 31), offered_on=signed, today=TODAY
    )
    made_on(store, signed)
    first = post(store, 1, date(2026, 1, 30), "payment", 20_000, recorded_on=date(2026, 1, 30))
    post(store, 3, date(2026, 1, 30), "payment", 1_000, recorded_on=date(2026, 1, 30))

    def updated(day: date) -> tuple[dict, int | None]:
        """The update as of ``day``, read that day, and how many claims it recomputed (None: all)."""
        monkeypatch.setattr(plans_store, "today", lambda: day)
        summary = plans_store.update(store, day).summary()
        with store.connect() as conn:
            latest = conn.exec_driver_sql(
                "SELECT full_recompute, recomputed_claims FROM plan_updates ORDER BY update_id DESC"
            ).first()
        again = plans_store.update(store, day, full=True).summary()
        assert again["changed"] == {"payment_plans": 0, "settlements": 0, "promises": 0}
        assert (again["plans"], again["settlements"]) == (summary["plans"], summary["settlements"])
        return summary, (None if latest.full_recompute else latest.recomputed_claims)

    def plan() -> tuple:
        shown = service.show_plan(store=store, plan_id=1)
        return shown["status"], shown["status_on"], shown["paid"], shown["instalments_paid"]

    monkeypatch.setattr(plans_store, "FULL_ABOVE", float("inf"))
    assert updated(date(2026, 2, 1))[1] is None  # the first one: everything
    summary, recomputed = updated(date(2026, 2, 2))
    assert (summary["plans"], summary["changed"]["payment_plans"], recomputed) == ({"active": 1}, 0, 0)
    post(store, 2, date(2026, 2, 3), "payment", 10_000, recorded_on=date(2026, 2, 3))
    summary, recomputed = updated(date(2026, 2, 3))
    assert (summary["changed"]["settlements"], recomputed) == (1, 1)  # claim 2 (claim 3 has nothing open)
    # what was recorded on the day of the last update, or the day before, is looked at once more
    assert updated(date(2026, 2, 10))[1] == 1 and updated(date(2026, 2, 11))[1] == 0
    post(store, 1, date(2026, 2, 1), "payment", 20_000, recorded_on=date(2026, 1, 5))
    assert updated(date(2026, 2, 12))[1] == 1
    assert plan() == ("active", "2026-01-10", "400.00", 2)
    post(store, 1, date(2026, 1, 31), "payment", 5_000, event_id=0, recorded_on=date(2026, 2, 12))
    assert updated(date(2026, 2, 12))[1] == 1
    assert plan() == ("active", "2026-01-10", "450.00", 2)
    post(store, 1, date(2026, 2, 13), "reversal", reverses=first, recorded_on=date(2026, 2, 13))
    assert updated(date(2026, 2, 13))[1] == 1
    assert plan() == ("active", "2026-01-10", "250.00", 1)
    # nothing new, but the instalment of 2026-02-28 unpaid breaks the plan on 2026-03-21
    assert updated(date(2026, 3, 20))[0]["plans"] == {"active": 1} and updated(date(2026, 3, 20))[1] == 0
    summary, recomputed = updated(date(2026, 3, 21))
    assert (summary["plans"], recomputed, plan()) == ({"broken": 1}, 1, ("broken", "2026-03-21", "250.00", 1))
