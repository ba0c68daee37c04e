"""The day's plan under the contact rules: whatever the strategies ask (every claim in a reminder or
legal queue, any history), a debtor is never contacted outside the channel's hours, above the caps
or sooner than the minimum days; flagged debtors get nothing; every contact asked for is in the
plan, queued or held with its rule."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import plan, rules
from contacts.vocabulary import Channel, ContactStatus, HoldRule
from tests.contacts.books import book, claim, debtor

RULES = rules.load()
MONDAY = date(2026, 12, 7)
SATURDAY = date(2026, 12, 12)
SUNDAY = date(2026, 12, 13)
CHRISTMAS_EVE = date(2026, 12, 24)  # a public holiday from 2025


def planned(b, day=MONDAY, r=RULES) -> pl.DataFrame:
    return plan.plan(b, r, day)


def row(p: pl.DataFrame, claim_id: int) -> dict:
    return p.filter(pl.col("claim_id") == claim_id).row(0, named=True)


def test_a_claim_never_told_of_its_assignment_gets_the_notice_by_letter_in_the_letters_window():
    p = planned(book([claim(1, 1)], [debtor(1)]))
    r = row(p, 1)
    assert (r["step"], r["channel"], r["status"], r["rule"]) == ("notice", "letter", "queued", None)
    zone = RULES.zone
    assert r["window_start"].astimezone(zone) == datetime(2026, 12, 7, 8, 0, tzinfo=zone)
    assert r["window_end"].astimezone(zone) == datetime(2026, 12, 7, 16, 0, tzinfo=zone)


def test_nothing_goes_out_on_a_sunday_or_a_public_holiday_and_each_is_held_with_the_hours_rule():
    b = book([claim(1, 1)], [debtor(1)])
    for day in (SUNDAY, CHRISTMAS_EVE):
        r = row(planned(b, day), 1)
        assert (r["status"], r["rule"], r["channel"]) == ("held", HoldRule.HOURS.value, None)


def test_a_flagged_debtor_gets_nothing_on_any_step():
    claims = [claim(i, i) for i in range(1, 5)]
    debtors = [debtor(1, flags=["deceased"]), debtor(2, flags=["bankrupt"]), debtor(3, flags=["gdpr_restricted"])]
    debtors.append(debtor(4, flags=["disputed", "vip"]))
    p = planned(book(claims, debtors, placements=[(2, "reminder", date(2026, 1, 1))], notices={2: date(2026, 1, 1)}))
    assert p["status"].to_list() == ["held"] * 4
    assert p["rule"].to_list() == ["flag"] * 4
    assert row(p, 4)["detail"] == "flag disputed"


def test_the_notice_comes_first_then_the_reminder_and_the_demand_after_their_days():
    placements = [(1, "reminder", date(2026, 11, 1)), (2, "epu", date(2026, 12, 1)), (3, "court", date(2026, 12, 1))]
    notices = {1: MONDAY - timedelta(days=13), 2: MONDAY - timedelta(days=7)}
    p = planned(book([claim(i, i) for i in (1, 2, 3)], [debtor(i) for i in (1, 2, 3)], placements, notices))
    assert (row(p, 1)["step"], row(p, 1)["rule"]) == ("reminder", HoldRule.NOTICE_FIRST.value)
    assert (row(p, 2)["step"], row(p, 2)["status"], row(p, 2)["channel"]) == ("demand", "queued", "letter")
    assert (row(p, 3)["step"], row(p, 3)["status"]) == ("notice", "queued")  # never told: the notice first


def test_a_demand_is_sent_once_per_legal_placement_and_a_reminder_every_every_days():
    placed = date(2026, 10, 1)
    notices = {1: date(2026, 9, 1), 2: date(2026, 9, 1), 3: date(2026, 9, 1)}
    p = planned(
        book(
            [claim(i, i) for i in (1, 2, 3)],
            [debtor(i) for i in (1, 2, 3)],
            [(1, "epu", placed), (2, "reminder", placed), (3, "reminder", placed)],
            notices,
            reminded={2: MONDAY - timedelta(days=13), 3: MONDAY - timedelta(days=14)},
            demanded={1: date(2026, 10, 5)},
        )
    )
    assert p["claim_id"].to_list() == [3]  # demanded in this placement; reminded 13 days ago: nothing asked
    assert row(p, 3)["channel"] == "sms"


def test_the_channel_is_the_first_the_debtor_can_be_reached_on_and_did_not_object_to():
    notices = {i: date(2026, 9, 1) for i in (1, 2, 3, 4)}
    placements = [(i, "reminder", date(2026, 10, 1)) for i in (1, 2, 3, 4)]
    debtors = [
        debtor(1, objected=["sms"]),
        debtor(2, has_sms=False, has_phone=False, has_email=False),
        debtor(3, objected=["sms", "email"], address_doubtful=True),
        debtor(4, objected=["sms", "email", "letter"]),
    ]
    p = planned(book([claim(i, i) for i in (1, 2, 3, 4)], debtors, placements, notices))
    assert [row(p, i)["channel"] for i in (1, 2, 3, 4)] == ["email", "letter", None, None]
    assert row(p, 3)["rule"] == HoldRule.OBJECTED.value
    assert row(p, 3)["detail"] == "sms: objected; email: objected; letter: address_doubtful"
    assert row(p, 4)["rule"] == HoldRule.OBJECTED.value


def test_a_letter_is_not_sent_to_a_doubtful_address_and_the_notice_waits_for_a_virtual_account():
    p = planned(book([claim(1, 1), claim(2, 2)], [debtor(1, address_doubtful=True), debtor(2, virtual_account=False)]))
    assert row(p, 1)["rule"] == HoldRule.ADDRESS_DOUBTFUL.value
    assert row(p, 2)["rule"] == HoldRule.NO_VIRTUAL_ACCOUNT.value


def test_nothing_owed_means_no_reminder():
    p = planned(
        book([claim(1, 1, total_due=0)], [debtor(1)], [(1, "reminder", date(2026, 10, 1))], {1: date(2026, 9, 1)})
    )
    assert row(p, 1)["rule"] == HoldRule.NOTHING_OWED.value


def test_a_debtor_with_many_claims_gets_one_contact_a_day_the_demand_before_the_reminder():
    notices = {i: date(2026, 9, 1) for i in (1, 2, 3)}
    placements = [(1, "reminder", date(2026, 10, 1)), (2, "epu", date(2026, 10, 1)), (3, "reminder", date(2026, 10, 1))]
    p = planned(book([claim(i, 1, total_due=i * 100) for i in (1, 2, 3)], [debtor(1)], placements, notices))
    assert p.filter(pl.col("status") == "queued")["claim_id"].to_list() == [2]
    assert row(p, 1)["rule"] == row(p, 3)["rule"] == HoldRule.PER_DAY.value


def test_the_stored_history_counts_toward_the_week_the_month_and_the_days_between():
    notices = {i: date(2026, 9, 1) for i in range(1, 5)}
    placements = [(i, "reminder", date(2026, 10, 1)) for i in range(1, 5)]
    history = [
        (1, 0, 0, MONDAY - timedelta(days=2)),  # contacted 2 days ago: min_days_between 3
        (2, 2, 2, MONDAY - timedelta(days=4)),  # 2 this week: per_week 2
        (3, 0, 5, MONDAY - timedelta(days=10)),  # 5 this month: per_month 5
        (4, 1, 4, MONDAY - timedelta(days=3)),  # room for one more
    ]
    p = planned(
        book([claim(i, i) for i in range(1, 5)], [debtor(i) for i in range(1, 5)], placements, notices, history=history)
    )
    assert [row(p, i)["rule"] for i in range(1, 5)] == ["min_days_between", "per_week", "per_month", None]


# --- whatever the strategies ask ----------------------------------------------------------------

DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 6, 30))


@st.composite
def books(draw):
    n_debtors = draw(st.integers(1, 12))
    debtors = [
        debtor(
            d,
            flags=draw(
                st.lists(st.sampled_from(["deceased", "bankrupt", "gdpr_restricted", "disputed", "vip"]), max_size=1)
            ),
            has_letter=draw(st.booleans()),
            has_email=draw(st.booleans()),
            has_sms=draw(st.booleans()),
            has_phone=draw(st.booleans()),
            objected=draw(st.lists(st.sampled_from([c.value for c in Channel]), max_size=2, unique=True)),
            address_doubtful=draw(st.booleans()),
            virtual_account=draw(st.booleans()),
        )
        for d in range(1, n_debtors + 1)
    ]
    day = draw(DAYS)
    claims, placements, notices, reminded, demanded = [], [], {}, {}, {}
    for c in range(1, draw(st.integers(1, 40)) + 1):
        claims.append(claim(c, draw(st.integers(1, n_debtors)), total_due=draw(st.integers(0, 10**7))))
        queue = draw(st.sampled_from([None, "reminder", "epu", "court", "agency", "enforcement"]))
        if queue:
            placements.append((c, queue, day - timedelta(days=draw(st.integers(0, 200)))))
        for found in (notices, reminded, demanded):
            if draw(st.booleans()):
                found[c] = day - timedelta(days=draw(st.integers(1, 400)))
    history = [
        (d["debtor_id"], w, w + draw(st.integers(0, 6)), day - timedelta(days=draw(st.integers(1, 40))))
        for d in debtors
        if draw(st.booleans())
        for w in [draw(st.integers(0, 4))]
    ]
    return day, debtors, book(claims, debtors, placements, notices, reminded, demanded, history)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_whatever_is_asked_the_rules_hold(drawn):
    day, debtors, b = drawn
    p = planned(b, day)
    caps = RULES.rules.caps
    windows = RULES.windows(day)
    flagged = {
        d["debtor_id"] for d in debtors if set(d["flags"]) & {"deceased", "bankrupt", "gdpr_restricted", "disputed"}
    }
    queued = p.filter(pl.col("status") == ContactStatus.QUEUED.value)
    # every contact asked for is in the plan once, queued or held with a rule
    assert p["claim_id"].is_unique().all()
    assert (p.filter(pl.col("status") == "held")["rule"].is_not_null()).all()
    assert queued["rule"].is_null().all()
    # flagged debtors get nothing
    assert not set(queued["debtor_id"].to_list()) & flagged
    # never outside the hours: a queued contact's window is its channel's window of the day
    for r in queued.iter_rows(named=True):
        window = windows[Channel(r["channel"])]
        assert window is not None
        assert (r["window_start"], r["window_end"]) == window
        objected = next(d for d in debtors if d["debtor_id"] == r["debtor_id"])["objected"]
        assert r["channel"] not in objected
    # never above the caps, counting the stored history
    history = {d: (w, m, last) for d, w, m, last in b.debtor_history.iter_rows()}
    for debtor_id, n in queued.group_by("debtor_id").len().iter_rows():
        week, month, last = history.get(debtor_id, (0, 0, None))
        assert n <= caps.per_day
        assert week + n <= caps.per_week
        assert month + n <= caps.per_month
        assert last is None or (day - last).days >= caps.min_days_between


def test_sparse_debtor_ids_plan_as_dense_ones_do():
    """Debtors are looked up by a direct index when their ids are dense, by binary search else."""
    far = 10**12
    notices = {i: date(2026, 9, 1) for i in (1, 2, 3, 4)}
    placements = [(i, "reminder", date(2026, 10, 1)) for i in (1, 2, 3, 4)]

    def made(offset: int) -> pl.DataFrame:
        claims = [claim(1, offset + 1), claim(2, offset + 1, total_due=5), claim(3, offset + 2), claim(4, offset + 9)]
        debtors = [debtor(offset + 1), debtor(offset + 2, flags=["bankrupt"]), debtor(offset + 3)]
        history = [(offset + 3, 1, 1, MONDAY - timedelta(days=1))]
        p = planned(book(claims, debtors, placements, notices, history=history))
        return p.with_columns(pl.col("debtor_id") - offset)

    dense, sparse = made(0), made(far)
    assert dense.equals(sparse)
    assert dense.select("claim_id", "rule").rows() == [(1, None), (2, "per_day"), (3, "flag"), (4, "no_channel")]
