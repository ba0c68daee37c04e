"""Payment plans, settlements and promises to pay (payments/): made, listed, shown, cancelled, and
brought up to a day by the daily update; and the kept-promise rate per agency and per collector for
the reports (``promise_rates``). One set of functions for the command line and whatever else calls
them; each takes the store explicitly and returns plain dicts (amounts as "123.45", days ISO).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
import sqlalchemy as sa

from engine.domain import Choice, PlanStatus, PromiseStatus, SettlementStatus
from engine.errors import InputError, NotFound
from engine.money import pln
from payments import promises as promise_rules
from payments.plans import schedule as schedules
from payments.plans import status as plan_rules
from payments.plans import store as repository

#: the defaults of a plan's terms (each plan may set its own; docs/plans.md)
GRACE_DAYS = 5
BREAK_AFTER_DAYS = 30
_MONEY = {"total", "down_payment", "paid", "amount", "target", "promised"}


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if k in _MONEY and v is not None:
            out[k] = pln(v)
        elif isinstance(v, date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class _Kind:
    """One of the three kinds of agreement as the store lists them."""

    table: str
    schema: dict
    statuses: type[Choice]
    noun: str
    group: str  # the command group that lists them


_PLANS = _Kind("payment_plans", repository.PLAN_ROW, PlanStatus, "plan", "plans")
_SETTLEMENTS = _Kind("settlements", repository.SETTLEMENT_ROW, SettlementStatus, "settlement", "settlements")
_PROMISES = _Kind("promises", repository.PROMISE_ROW, PromiseStatus, "promise", "promises")


def _one(store: sa.Engine | sa.Connection, kind: _Kind, row_id: int) -> dict:
    """The stored row ``row_id`` of ``kind`` (not JSON-ready); NotFound naming the command that lists them."""
    rows = repository.listed(store, kind.table, kind.schema, key_is=row_id)
    if rows.height == 0:
        raise NotFound(f"{kind.noun} {row_id} is not stored (`cession {kind.group} list` lists them)")
    return rows.row(0, named=True)


def _many(store: sa.Engine, kind: _Kind, *, status: str | None, limit: int | None, **filters) -> list[dict]:
    """The stored rows of ``kind``, newest first, JSON-ready; ``status`` one of its statuses."""
    if status is not None and status not in set(kind.statuses):
        raise InputError(f"--status: {status!r} is not one of {kind.statuses.spelled()}")
    rows = repository.listed(store, kind.table, kind.schema, status=status, limit=limit, **filters)
    return [_jsonable(r) for r in rows.iter_rows(named=True)]


def _days_late(plan: dict, as_of: date) -> int:
    """Days past the day of the plan's first unpaid instalment as of ``as_of`` (0: not late, or not active)."""
    due = plan["next_due_on"]
    return max((as_of - due).days, 0) if plan["status"] == PlanStatus.ACTIVE.value and due is not None else 0


def _not_future(day: date, today: date, field: str) -> None:
    if day > today:
        raise InputError(f"{field}: {day} is in the future (today is {today})")


def create_plan(
    *,
    store: sa.Engine,
    claim_id: int,
    signed_on: date,
    today: date,
    total: int | None = None,
    count: int | None = None,
    first_due: date | None = None,
    custom: list[tuple[date, int]] | None = None,
    down_payment: int = 0,
    down_payment_on: date | None = None,
    write_off_rest: bool = False,
    grace_days: int = GRACE_DAYS,
    break_after_days: int = BREAK_AFTER_DAYS,
    agency_id: str | None = None,
    note: str | None = None,
) -> dict:
    """A signed plan stored, with the debtor's acknowledgment on ``signed_on``: equal monthly
    instalments (``total``, ``count``, ``first_due``) or ``custom`` ones (day, grosz); the plan as
    ``show_plan`` gives it."""
    _not_future(signed_on, today, "--signed-on")
    if custom:
        if count is not None or first_due is not None:
            raise InputError("--instalment (custom instalments) goes without --instalments and --first-due")
        plan_schedule = schedules.custom_schedule(
            instalments=custom,
            signed_on=signed_on,
            down_payment=down_payment,
            down_payment_on=down_payment_on,
            total=total,
        )
    else:
        missing = [
            name for name, v in (("--total", total), ("--instalments", count), ("--first-due", first_due)) if v is None
        ]
        if missing:
            raise InputError(
                f"equal instalments need {', '.join(missing)} (or give custom ones with --instalment DAY:AMOUNT)"
            )
        plan_schedule = schedules.equal_schedule(
            total=total,  # type: ignore[arg-type]
            count=count,  # type: ignore[arg-type]
            first_due=first_due,  # type: ignore[arg-type]
            signed_on=signed_on,
            down_payment=down_payment,
            down_payment_on=down_payment_on,
        )
    plan_id = repository.create_plan(
        store,
        repository.PlanTerms(
            claim_id=claim_id,
            signed_on=signed_on,
            schedule=plan_schedule,
            write_off_rest=write_off_rest,
            grace_days=grace_days,
            break_after_days=break_after_days,
            agency_id=agency_id,
            note=note,
        ),
    )
    return show_plan(store=store, plan_id=plan_id, as_of=signed_on)


def show_plan(*, store: sa.Engine, plan_id: int, as_of: date | None = None) -> dict:
    """A plan as the last update left it, with its instalments, each with the day it was paid and
    its status as of ``as_of`` (default: today), from the claim's payments, and its days late then."""
    with store.connect() as conn:
        plan = _one(conn, _PLANS, plan_id)
        day = as_of or date.today()
        instalments = repository.instalments_of(conn, [plan_id])
        payments = repository.payments_of_claims(conn, f"SELECT {int(plan['claim_id'])}", {}, day)
    terms = pl.DataFrame([plan]).select(list(plan_rules.PLAN_SCHEMA))
    each = plan_rules.instalments_as_of(terms, instalments, payments, day)
    out = _jsonable(plan | {"days_late": _days_late(plan, day)})
    out["instalments_as_of"] = day.isoformat()
    out["schedule"] = [
        _jsonable(
            {
                "number": r["number"],
                "due_on": r["due_on"],
                "amount": r["amount"],
                "paid_on": r["paid_on"],
                "status": r["status"],
            }
        )
        for r in each.iter_rows(named=True)
    ]
    return out


def list_plans(
    *,
    store: sa.Engine,
    claim_id: int | None = None,
    status: str | None = None,
    portfolio: str | None = None,
    limit: int | None = 100,
    as_of: date | None = None,
) -> list[dict]:
    """The plans, newest first, as the last update left them, with ``days_late`` as of ``as_of``
    (default: today)."""
    if status is not None and status not in set(PlanStatus):
        raise InputError(f"--status: {status!r} is not one of {PlanStatus.spelled()}")
    rows = repository.listed(
        store, "payment_plans", repository.PLAN_ROW, claim_id=claim_id, status=status, portfolio=portfolio, limit=limit
    )
    day = as_of or date.today()
    return [_jsonable(r | {"days_late": _days_late(r, day)}) for r in rows.iter_rows(named=True)]


def cancel_plan(*, store: sa.Engine, plan_id: int, on: date, reason: str | None = None) -> dict:
    repository.cancel_plan(store, plan_id, on, reason)
    return show_plan(store=store, plan_id=plan_id)


def update(*, store: sa.Engine, as_of: date, portfolio: str | None = None, full: bool = False) -> dict:
    """The daily update of plans, settlements and promises as of ``as_of`` (payments/plans/store.py):
    from the last update's rows and what changed since, or every open row recomputed (``full``)."""
    return repository.update(store, as_of, portfolio=portfolio, full=full).summary()


# --- settlements -----------------------------------------------------------------------------------


def create_settlement(
    *,
    store: sa.Engine,
    claim_id: int,
    amount: int,
    pay_by: date,
    offered_on: date,
    today: date,
    agency_id: str | None = None,
    note: str | None = None,
) -> dict:
    _not_future(offered_on, today, "--offered-on")
    settlement_id = repository.create_settlement(
        store, claim_id=claim_id, offered_on=offered_on, amount=amount, pay_by=pay_by, agency_id=agency_id, note=note
    )
    return show_settlement(store=store, settlement_id=settlement_id)


def show_settlement(*, store: sa.Engine, settlement_id: int) -> dict:
    return _jsonable(_one(store, _SETTLEMENTS, settlement_id))


def list_settlements(
    *,
    store: sa.Engine,
    claim_id: int | None = None,
    status: str | None = None,
    portfolio: str | None = None,
    limit: int | None = 100,
) -> list[dict]:
    return _many(store, _SETTLEMENTS, status=status, limit=limit, claim_id=claim_id, portfolio=portfolio)


def cancel_settlement(*, store: sa.Engine, settlement_id: int, on: date, reason: str | None = None) -> dict:
    repository.cancel_settlement(store, settlement_id, on, reason)
    return show_settlement(store=store, settlement_id=settlement_id)


# --- promises --------------------------------------------------------------------------------------


def create_promise(
    *,
    store: sa.Engine,
    claim_id: int,
    amount: int,
    pay_by: date,
    made_on: date,
    today: date,
    agency_id: str | None = None,
    collector: str | None = None,
    note: str | None = None,
) -> dict:
    _not_future(made_on, today, "--made-on")
    promise_id, _ = repository.create_promise(
        store,
        claim_id=claim_id,
        made_on=made_on,
        amount=amount,
        pay_by=pay_by,
        agency_id=agency_id,
        collector=collector,
        note=note,
    )
    return show_promise(store=store, promise_id=promise_id)


def show_promise(*, store: sa.Engine, promise_id: int) -> dict:
    return _jsonable(_one(store, _PROMISES, promise_id))


def list_promises(
    *,
    store: sa.Engine,
    claim_id: int | None = None,
    status: str | None = None,
    agency_id: str | None = None,
    portfolio: str | None = None,
    limit: int | None = 100,
) -> list[dict]:
    return _many(
        store, _PROMISES, status=status, limit=limit, claim_id=claim_id, agency_id=agency_id, portfolio=portfolio
    )


def cancel_promise(*, store: sa.Engine, promise_id: int, on: date) -> dict:
    repository.cancel_promise(store, promise_id, on)
    return show_promise(store=store, promise_id=promise_id)


def promise_rates(
    *,
    store: sa.Engine,
    by: promise_rules.RateBy = "agency",
    since: date | None = None,
    until: date | None = None,
    portfolio: str | None = None,
) -> list[dict]:
    """The kept-promise rate per agency (``by="agency"``) or per agency and collector
    (``by="collector"``), of the promises due (``pay_by``) in [``since``, ``until``] (either open),
    as the last daily update left them: one dict per agency (or collector) with ``agency_id`` (null:
    the purchaser's own), ``collector``, ``promises``, ``open``, ``kept``, ``broken``, ``kept_rate``
    (kept / (kept + broken), a decimal string to four places, null when none has ended), and
    ``promised`` and ``paid`` (PLN strings) of the promises that ended. For the reports."""
    if by not in ("agency", "collector"):
        raise InputError(f"--by: {by!r} is not agency or collector")
    rows = repository.listed(store, "promises", repository.PROMISE_ROW, portfolio=portfolio)
    if since is not None:
        rows = rows.filter(pl.col("pay_by") >= since)
    if until is not None:
        rows = rows.filter(pl.col("pay_by") <= until)
    return [_jsonable(r) for r in promise_rules.kept_rates(rows, by).iter_rows(named=True)]
