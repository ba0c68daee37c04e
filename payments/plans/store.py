"""Plans, settlements and promises in the store (models: engine/store/models.py, migration 0012).

Each write is one transaction with its audit-log row. Making a plan stores its terms, its
instalments and the debtor's ``acknowledgment`` event (art. 123 § 1 pkt 2 KC), keyed
``plan:<id>:acknowledgment`` so that it is stored once whatever is retried. The daily update
(``update``) reads every active plan, open settlement and open promise (of a portfolio, or all) with
the payments of their claims, decides what they are as of the day (``status``, ``settlements``,
``promises``: polars over all of them at once), and writes back only the rows that changed, with the
``write_off`` events of kept plans and paid settlements (keyed ``plan:<id>:write_off``,
``settlement:<id>:write_off``), in one transaction: a failed update leaves everything as it was.
A day's update starts from the last one (``plan_updates``) and reads only the rows whose result can
differ from what it stored (``update``'s docstring; docs/plans.md): O(what changed), not O(book).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import polars as pl
import sqlalchemy as sa

from engine.domain import EventKind, PlanStatus, PromiseStatus, SettlementStatus
from engine.errors import NotFound
from engine.store.bulk import exported_snapshot, is_postgres, read_frame, read_snapshot, write_frame
from engine.store.models import Event, PaymentPlan, PlanInstalment, PlanUpdate, Promise, Settlement
from engine.store.records import AuditAction, actor, audit
from payments import promises as promise_rules
from payments import settlements as settlement_rules
from payments.plans import status as plan_rules
from payments.plans.coverage import PAYMENT_SCHEMA
from payments.plans.schedule import Instalment, PlanError

log = logging.getLogger(__name__)

#: a broken plan, a lapsed settlement or a broken promise is decided anew by the updates of this many
#: days after it failed: payments dated before that day that come in late (a bank statement a few
#: days behind, a backdated correction) mend it; after that it is final
SETTLE_DAYS = 60
#: pg_advisory_xact_lock key of the daily update ("cess_pl"): one update writes at a time
UPDATE_LOCK_KEY = 0x636573735F706C


@dataclass(frozen=True)
class PlanTerms:
    """What a plan is made of (the schedule from ``payments.plans.schedule``)."""

    claim_id: int
    signed_on: date
    schedule: list[Instalment]
    write_off_rest: bool
    grace_days: int
    break_after_days: int
    agency_id: str | None = None
    note: str | None = None


# --- making and cancelling -------------------------------------------------------------------------


def _claim_exists(conn: sa.Connection, claim_id: int) -> None:
    found = conn.exec_driver_sql(f"SELECT 1 FROM claims WHERE claim_id = {int(claim_id)}").first()
    if found is None:
        raise NotFound(f"claim {claim_id} is not in the store")


def _agency_exists(conn: sa.Connection, agency_id: str | None) -> None:
    if agency_id is None:
        return
    found = conn.execute(sa.text("SELECT 1 FROM agencies WHERE agency_id = :a"), {"a": agency_id}).first()
    if found is None:
        raise NotFound(f"agency {agency_id!r} is not stored (`cession agencies list` lists them)")


def _open_one(conn: sa.Connection, table: str, key: str, claim_id: int, status: str) -> int | None:
    return conn.execute(
        sa.text(f"SELECT {key} FROM {table} WHERE claim_id = :c AND status = :s"), {"c": claim_id, "s": status}
    ).scalar()


def _replaces(conn: sa.Connection, table: str, key: str, claim_id: int, row_id: int) -> None:
    """The earlier plans (or offers) of ``claim_id`` replaced by ``row_id``, just made: final as
    they stand from now on (``_open_where``), whatever payments come in late or whatever day an
    update is for. A broken plan mended by a late payment would otherwise be active again beside
    the one made after it."""
    conn.execute(
        sa.text(f"UPDATE {table} SET replaced_by = :r WHERE claim_id = :c AND {key} < :r AND replaced_by IS NULL"),
        {"r": row_id, "c": claim_id},
    )


def _post_event(conn: sa.Connection, claim_id: int, day: date, kind: EventKind, source: str, key: str) -> int:
    """One event (no amount), stored once under ``key``; its id."""
    events = Event.__table__
    stored = conn.execute(sa.select(events.c.event_id).where(events.c.idempotency_key == key)).scalar()
    if stored is not None:
        return stored
    return conn.execute(
        sa.insert(events)
        .values(claim_id=claim_id, event_date=day, kind=kind.value, amount=None, source=source, idempotency_key=key)
        .returning(events.c.event_id)
    ).scalar_one()


def create_plan(engine: sa.Engine, terms: PlanTerms, *, who: str | None = None) -> int:
    """Store a signed plan, its instalments and the debtor's acknowledgment on the day it was
    signed, in one transaction; its id. A claim with an active plan is refused."""
    schedule = terms.schedule
    total = sum(i.amount for i in schedule)
    down = sum(i.amount for i in schedule if i.number == 0)
    if terms.grace_days < 0 or terms.break_after_days < terms.grace_days:
        raise PlanError("break_after_days: at least grace_days (and grace_days at least 0)")
    plans = PaymentPlan.__table__
    with engine.begin() as conn:
        _claim_exists(conn, terms.claim_id)
        _agency_exists(conn, terms.agency_id)
        active = _open_one(conn, "payment_plans", "plan_id", terms.claim_id, PlanStatus.ACTIVE.value)
        if active is not None:
            raise PlanError(
                f"claim {terms.claim_id} has an active plan ({active}): cancel it first (`cession plans cancel {active}`)"
            )
        plan_id = conn.execute(
            sa.insert(plans)
            .values(
                claim_id=terms.claim_id,
                signed_on=terms.signed_on,
                total=total,
                down_payment=down,
                instalments=sum(1 for i in schedule if i.number > 0),
                write_off_rest=terms.write_off_rest,
                grace_days=terms.grace_days,
                break_after_days=terms.break_after_days,
                status=PlanStatus.ACTIVE.value,
                status_on=terms.signed_on,
                paid=0,
                instalments_paid=0,
                next_due_on=schedule[0].due_on,
                on_time=True,
                agency_id=terms.agency_id,
                note=terms.note,
                created_at=datetime.now(UTC),
                created_by=who or actor(),
            )
            .returning(plans.c.plan_id)
        ).scalar_one()
        _replaces(conn, "payment_plans", "plan_id", terms.claim_id, plan_id)
        conn.execute(
            sa.insert(PlanInstalment.__table__),
            [{"plan_id": plan_id, "number": i.number, "due_on": i.due_on, "amount": i.amount} for i in schedule],
        )
        event_id = _post_event(
            conn,
            terms.claim_id,
            terms.signed_on,
            EventKind.ACKNOWLEDGMENT,
            f"plan:{plan_id}",
            f"plan:{plan_id}:acknowledgment",
        )
        conn.execute(sa.update(plans).where(plans.c.plan_id == plan_id).values(acknowledgment_event_id=event_id))
        audit(
            conn,
            AuditAction.PLAN,
            f"plan:{plan_id}",
            {
                "made": {
                    "claim_id": terms.claim_id,
                    "signed_on": terms.signed_on.isoformat(),
                    "total": total,
                    "instalments": len(schedule),
                    "acknowledgment_event_id": event_id,
                }
            },
            who,
        )
    return plan_id


def _cancel(
    engine: sa.Engine,
    table: sa.Table,
    key: str,
    row_id: int,
    open_status: str,
    on: date,
    reason: str | None,
    action: AuditAction,
    who: str | None,
) -> None:
    noun = table.name.rstrip("s").replace("payment_", "")
    with engine.begin() as conn:
        row = conn.execute(sa.select(table.c.status, table.c[_since(table)]).where(table.c[key] == row_id)).first()
        if row is None:
            raise NotFound(f"{noun} {row_id} is not stored")
        if row.status != open_status:
            raise PlanError(
                f"{noun} {row_id} is {row.status}, not {open_status}: only an {open_status} one is cancelled"
            )
        if on < row[1]:
            raise PlanError(f"--on: {on} is before the {noun} began ({row[1]})")
        values = {"status": "cancelled", "status_on": on}
        if "cancel_reason" in table.c:
            values["cancel_reason"] = reason
        conn.execute(sa.update(table).where(table.c[key] == row_id).values(**values))
        audit(conn, action, f"{noun}:{row_id}", {"cancelled": {"on": on.isoformat(), "reason": reason}}, who)


def _since(table: sa.Table) -> str:
    return {"payment_plans": "signed_on", "settlements": "offered_on", "promises": "made_on"}[table.name]


def cancel_plan(engine: sa.Engine, plan_id: int, on: date, reason: str | None, *, who: str | None = None) -> None:
    """An active plan cancelled on ``on`` (its acknowledgment stays: the debtor did acknowledge)."""
    _cancel(
        engine,
        PaymentPlan.__table__,
        "plan_id",
        plan_id,
        PlanStatus.ACTIVE.value,
        on,
        reason,
        AuditAction.PLAN,
        who,
    )


def create_settlement(
    engine: sa.Engine,
    *,
    claim_id: int,
    offered_on: date,
    amount: int,
    pay_by: date,
    agency_id: str | None = None,
    note: str | None = None,
    who: str | None = None,
) -> int:
    """Store a settlement offer; its id. A claim with an open offer is refused."""
    if amount <= 0:
        raise PlanError("amount: more than 0.00")
    if pay_by < offered_on:
        raise PlanError(f"pay_by: {pay_by} is before the offer ({offered_on})")
    table = Settlement.__table__
    with engine.begin() as conn:
        _claim_exists(conn, claim_id)
        _agency_exists(conn, agency_id)
        open_one = _open_one(conn, "settlements", "settlement_id", claim_id, SettlementStatus.OPEN.value)
        if open_one is not None:
            raise PlanError(
                f"claim {claim_id} has an open settlement ({open_one}): cancel it first "
                f"(`cession settlements cancel {open_one}`)"
            )
        settlement_id = _insert_offer(
            conn,
            table,
            AuditAction.SETTLEMENT,
            {
                "claim_id": claim_id,
                "offered_on": offered_on,
                "amount": amount,
                "pay_by": pay_by,
                "agency_id": agency_id,
                "status": SettlementStatus.OPEN.value,
                "status_on": offered_on,
                "note": note,
            },
            who,
        )
        _replaces(conn, "settlements", "settlement_id", claim_id, settlement_id)
    return settlement_id


def _insert_offer(conn: sa.Connection, table: sa.Table, action: AuditAction, values: dict, who: str | None) -> int:
    """A settlement or a promise stored (nothing paid yet), with its audit-log row; its id."""
    key = table.primary_key.columns.values()[0]
    row_id = conn.execute(
        sa.insert(table)
        .values(**values, paid=0, created_at=datetime.now(UTC), created_by=who or actor())
        .returning(key)
    ).scalar_one()
    made = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items() if k != "note"}
    audit(conn, action, f"{table.name.removesuffix('s')}:{row_id}", {"made": made}, who)
    return row_id


def cancel_settlement(
    engine: sa.Engine, settlement_id: int, on: date, reason: str | None, *, who: str | None = None
) -> None:
    _cancel(
        engine,
        Settlement.__table__,
        "settlement_id",
        settlement_id,
        SettlementStatus.OPEN.value,
        on,
        reason,
        AuditAction.SETTLEMENT,
        who,
    )


def placed_with(conn: sa.Connection, claim_id: int, day: date) -> str | None:
    """The agency the claim was placed with on ``day`` (None: none, or a queue of the purchaser's)."""
    return conn.execute(
        sa.text(
            "SELECT agency_id FROM placements WHERE claim_id = :c AND placed_on <= :d "
            "AND (recalled_on IS NULL OR recalled_on > :d) ORDER BY placed_on DESC, placement_id DESC"
        ),
        {"c": claim_id, "d": day},
    ).scalar()


def create_promise(
    engine: sa.Engine,
    *,
    claim_id: int,
    made_on: date,
    amount: int,
    pay_by: date,
    agency_id: str | None = None,
    collector: str | None = None,
    note: str | None = None,
    who: str | None = None,
) -> tuple[int, str | None]:
    """Store a promise to pay; its id and agency (given, else the agency the claim was placed with
    on ``made_on``, else none: the purchaser's own)."""
    if amount <= 0:
        raise PlanError("amount: more than 0.00")
    if pay_by < made_on:
        raise PlanError(f"pay_by: {pay_by} is before the promise was made ({made_on})")
    table = Promise.__table__
    with engine.begin() as conn:
        _claim_exists(conn, claim_id)
        _agency_exists(conn, agency_id)
        agency_id = agency_id or placed_with(conn, claim_id, made_on)
        promise_id = _insert_offer(
            conn,
            table,
            AuditAction.PROMISE,
            {
                "claim_id": claim_id,
                "made_on": made_on,
                "amount": amount,
                "pay_by": pay_by,
                "agency_id": agency_id,
                "collector": collector,
                "status": PromiseStatus.OPEN.value,
                "status_on": made_on,
                "note": note,
            },
            who,
        )
    return promise_id, agency_id


def cancel_promise(engine: sa.Engine, promise_id: int, on: date, *, who: str | None = None) -> None:
    _cancel(
        engine,
        Promise.__table__,
        "promise_id",
        promise_id,
        PromiseStatus.OPEN.value,
        on,
        None,
        AuditAction.PROMISE,
        who,
    )


# --- reading ---------------------------------------------------------------------------------------

PLAN_ROW = {
    "plan_id": pl.Int64,
    "claim_id": pl.Int64,
    "signed_on": pl.Date,
    "total": pl.Int64,
    "down_payment": pl.Int64,
    "instalments": pl.Int32,
    "write_off_rest": pl.Boolean,
    "grace_days": pl.Int32,
    "break_after_days": pl.Int32,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
    "instalments_paid": pl.Int32,
    "next_due_on": pl.Date,
    "on_time": pl.Boolean,
    "updated_as_of": pl.Date,
    "acknowledgment_event_id": pl.Int64,
    "write_off_event_id": pl.Int64,
    "agency_id": pl.String,
    "note": pl.String,
    "cancel_reason": pl.String,
    "replaced_by": pl.Int64,
}
SETTLEMENT_ROW = {
    "settlement_id": pl.Int64,
    "claim_id": pl.Int64,
    "offered_on": pl.Date,
    "amount": pl.Int64,
    "pay_by": pl.Date,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
    "updated_as_of": pl.Date,
    "write_off_event_id": pl.Int64,
    "agency_id": pl.String,
    "note": pl.String,
    "cancel_reason": pl.String,
    "replaced_by": pl.Int64,
}
PROMISE_ROW = {
    "promise_id": pl.Int64,
    "claim_id": pl.Int64,
    "made_on": pl.Date,
    "amount": pl.Int64,
    "pay_by": pl.Date,
    "agency_id": pl.String,
    "collector": pl.String,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
    "updated_as_of": pl.Date,
    "note": pl.String,
}


def listed(
    engine_or_conn,
    table: str,
    schema: dict,
    *,
    claim_id: int | None = None,
    status: str | None = None,
    portfolio: str | None = None,
    agency_id: str | None = None,
    key_is: int | None = None,
    limit: int | None = None,
) -> pl.DataFrame:
    """Rows of ``table`` (``schema``'s columns), newest first, filtered as asked."""
    key = next(iter(schema))
    where, params = ["1 = 1"], {}
    for column, value in (("claim_id", claim_id), ("status", status), ("agency_id", agency_id), (key, key_is)):
        if value is not None:
            where.append(f"t.{column} = :{column}")
            params[column] = value
    if portfolio is not None:
        where.append("t.claim_id IN (SELECT claim_id FROM claims WHERE portfolio_id = :portfolio)")
        params["portfolio"] = portfolio
    query = (
        f"SELECT {', '.join(f't.{c}' for c in schema)} FROM {table} t WHERE {' AND '.join(where)} ORDER BY t.{key} DESC"
    )
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.connect() as conn:
            return read_frame(conn, query, schema, params)
    return read_frame(engine_or_conn, query, schema, params)


def instalments_of(conn: sa.Connection, plan_ids: list[int]) -> pl.DataFrame:
    listed_ids = ", ".join(str(int(i)) for i in plan_ids) or "NULL"
    return read_frame(
        conn,
        f"SELECT plan_id, number, due_on, amount FROM plan_instalments WHERE plan_id IN ({listed_ids}) "
        "ORDER BY plan_id, number",
        plan_rules.INSTALMENT_SCHEMA,
    )


def payment_queries(
    claims_sql: str | None, params: dict, as_of: date, claims: str | None = None
) -> dict[str, tuple[str, dict, dict]]:
    """(query, schema, params) of the payments dated up to ``as_of`` of the claims ``claims_sql``
    selects (or that the condition on ``claim_id`` ``claims`` names), and of the payments reversed
    by a reversal dated up to ``as_of`` (docs/engine.md §1)."""
    within = f"e.claim_id {claims or f'IN ({claims_sql})'} AND e.event_date <= :as_of"
    params = {"as_of": as_of} if claims else params | {"as_of": as_of}
    return {
        "payments": (
            f"SELECT e.claim_id, e.event_id, e.event_date, e.amount FROM events e WHERE e.kind = 'payment' AND {within}",
            PAYMENT_SCHEMA,
            params,
        ),
        "reversed": (
            "SELECT e.reverses AS event_id FROM events e WHERE e.kind = 'reversal' AND e.reverses IS NOT NULL "
            f"AND {within}",
            {"event_id": pl.Int64},
            params,
        ),
    }


def not_reversed(read: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The payments of ``payment_queries`` read, less the reversed ones."""
    return read["payments"].join(read["reversed"], on="event_id", how="anti")


def payments_of_claims(conn: sa.Connection, claims_sql: str, params: dict, as_of: date) -> pl.DataFrame:
    """The payments (coverage.PAYMENT_SCHEMA) not reversed, dated up to ``as_of``, of the claims
    ``claims_sql`` selects."""
    queries = payment_queries(claims_sql, params, as_of)
    return not_reversed({name: read_frame(conn, q, schema, p) for name, (q, schema, p) in queries.items()})


# --- the daily update ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Updated:
    """What one daily update found and wrote."""

    as_of: date
    plans: dict[str, int]  # status -> plans looked at that now have it
    settlements: dict[str, int]
    promises: dict[str, int]
    changed: dict[str, int]  # table -> rows written
    write_offs: int  # write_off events posted
    seconds: float

    def summary(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "plans": self.plans,
            "settlements": self.settlements,
            "promises": self.promises,
            "changed": self.changed,
            "write_offs": self.write_offs,
            "seconds": round(self.seconds, 3),
        }


def _counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(sorted(frame.group_by("status").len().iter_rows()))


#: what the update last found, read with the open rows, compared with what it finds now
STORED = {
    "payment_plans": {
        c: PLAN_ROW[c]
        for c in ("status", "status_on", "paid", "instalments_paid", "next_due_on", "on_time", "write_off_event_id")
    },
    "settlements": {c: SETTLEMENT_ROW[c] for c in ("status", "status_on", "paid", "write_off_event_id")},
    "promises": {c: PROMISE_ROW[c] for c in ("status", "status_on", "paid")},
}


#: the rows the update decides, by what it calls them: (table, key, the open status, the failed
#: status, the column of the day it began)
TABLES = {
    "plans": ("payment_plans", "plan_id", PlanStatus.ACTIVE.value, PlanStatus.BROKEN.value, "signed_on"),
    "settlements": (
        "settlements",
        "settlement_id",
        SettlementStatus.OPEN.value,
        SettlementStatus.LAPSED.value,
        "offered_on",
    ),
    "promises": ("promises", "promise_id", PromiseStatus.OPEN.value, PromiseStatus.BROKEN.value, "made_on"),
}
SCHEMAS = {
    "plans": plan_rules.PLAN_SCHEMA,
    "settlements": settlement_rules.SETTLEMENT_SCHEMA,
    "promises": promise_rules.PROMISE_SCHEMA,
}
#: an incremental update that would recompute more than this share of the open rows' claims reads
#: them all at once instead (the same result: the full recompute's reads are cheaper per row)
FULL_ABOVE = 0.5


def _open_where(name: str, portfolio: str | None) -> tuple[str, dict]:
    """The condition on the rows of table ``name`` (``TABLES``) begun by ``:as_of`` (of
    ``:portfolio``) that the update decides anew: the open ones, and those that failed (broken,
    lapsed) on or after ``:settle_from`` (payments dated before the day they failed may still come
    in: a bank's statement is late), unless a later plan or offer replaced them (``replaced_by``:
    then they are final); their own parameter names, so that the three selections can be joined in
    one statement."""
    table, _, status, failed, since = TABLES[name]
    sql = f"{since} <= :as_of AND (status = :{table}_open OR (status = :{table}_failed AND status_on >= :settle_from))"
    if table != "promises":  # a claim may have many promises open at once: none replaces another
        sql += " AND replaced_by IS NULL"
    params = {f"{table}_open": status, f"{table}_failed": failed}
    if portfolio is not None:
        sql += " AND claim_id IN (SELECT claim_id FROM claims WHERE portfolio_id = :portfolio)"
        params["portfolio"] = portfolio
    return sql, params


def _open_rows_sql(name: str, columns, portfolio: str | None, claims: str | None) -> tuple[str, dict]:
    """The open rows of ``name`` (``_open_where``), ``columns`` of them; of the claims ``claims``
    (a condition on ``claim_id``) only, when given."""
    table = TABLES[name][0]
    where, params = _open_where(name, portfolio)
    if claims is not None:
        where += f" AND claim_id {claims}"
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", params


def compute(
    plans: pl.DataFrame,
    instalments: pl.DataFrame,
    settlements: pl.DataFrame,
    promises: pl.DataFrame,
    payments: pl.DataFrame,
    as_of: date,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """What the open plans, settlements and promises are as of ``as_of`` (each module's
    FOUND_SCHEMA)."""
    return (
        plan_rules.plans_as_of(plans, instalments, payments, as_of),
        settlement_rules.settlements_as_of(settlements, payments, as_of),
        promise_rules.promises_as_of(promises, payments, as_of),
    )


def today() -> date:
    """The day (UTC) an update reads the store on: the rows made, and the events recorded, on the
    day before it or later are new to the next update (tests play other days)."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class _Base:
    """The update the next one starts from (a row of plan_updates)."""

    as_of: date
    read_on: date
    last_event_id: int


def _base(engine: sa.Engine, as_of: date, portfolio: str | None) -> _Base | None:
    """The last update whose rows this one can take as they are (``None``: recompute every open
    row): the latest of every portfolio (or of ``portfolio``), if no update since it was for a day
    before it, and this one is not for a day before any of them."""
    table = PlanUpdate.__table__
    query = sa.select(table).order_by(table.c.update_id.desc()).limit(1000)
    with engine.connect() as conn:
        later_days = []
        for row in conn.execute(query):
            if row.portfolio_id is None or row.portfolio_id == portfolio:
                if all(day >= row.as_of for day in later_days) and as_of >= max([row.as_of, *later_days]):
                    return _Base(row.as_of, row.read_on, row.last_event_id)
                return None
            later_days.append(row.as_of)
    return None


def _breaks_by(engine: sa.Engine) -> str:
    """The condition: an active plan's first unpaid instalment breaks it by ``:as_of``."""
    if engine.dialect.name == "postgresql":
        return "next_due_on + break_after_days + 1 <= :as_of"
    return "julianday(next_due_on) + break_after_days + 1 <= julianday(:as_of)"


def _changed_claims_sql(engine: sa.Engine, portfolio: str | None) -> tuple[str, dict]:
    """The claims whose open rows the update recomputes when it starts from a last one (``:base_as_of``,
    ``:recorded_from``, ``:base_event_id``; see ``update``): of the claims with open rows, those
    with a payment or reversal not counted yet, or with a row made since or that turns by the day;
    every other open row is as it was left."""
    # one index each (an OR of the three is read by a scan of every event)
    touched = " UNION ".join(
        f"SELECT claim_id FROM events WHERE kind IN ('payment', 'reversal') AND event_date <= :as_of AND {new}"
        for new in ("event_date > :base_as_of", "recorded_on >= :recorded_from", "event_id > :base_event_id")
    )
    turns = {
        "plans": f"status = :payment_plans_open AND {_breaks_by(engine)}",
        "settlements": "status = :settlements_open AND pay_by < :as_of",
        "promises": "status = :promises_open AND pay_by < :as_of",
    }
    parts, params = [], {}
    for name, (table, _, _, _, since) in TABLES.items():
        where, more = _open_where(name, portfolio)
        params |= more
        parts.append(
            f"SELECT claim_id FROM {table} WHERE {where} AND ({since} > :base_as_of "
            f"OR created_at >= :recorded_from OR ({turns[name]}) OR claim_id IN (SELECT claim_id FROM touched))"
        )
    return f"WITH touched AS ({touched}) " + " UNION ".join(parts), params


def _claims_in(engine: sa.Engine, claims: pl.Series) -> str:
    """A condition on ``claim_id``: one of ``claims``."""
    listed = ",".join(str(int(c)) for c in claims.to_list())
    if engine.dialect.name == "postgresql":
        return f"= ANY('{{{listed}}}'::bigint[])"
    return f"IN ({listed or 'NULL'})"


def update(
    engine: sa.Engine,
    as_of: date,
    *,
    portfolio: str | None = None,
    who: str | None = None,
    full: bool = False,
) -> Updated:
    """The daily update as of ``as_of`` (see the module's docstring): what it reads, as of one
    moment; what it writes, in one transaction (two updates at once write the same: their events are
    keyed, their rows compared with what was read).

    It starts from the last update (``plan_updates``, ``_base``) unless ``full`` or there is none
    it can start from, and then recomputes only the open rows of the claims that have a payment or
    a reversal dated after that update's day or recorded since (``recorded_on`` on or after the
    day before it read the store, or an id above the largest it saw: a late bank statement, a
    reversal of an old payment), the rows made since, and the rows that turn by the day alone (an
    active plan whose first unpaid instalment breaks it, an open settlement or promise past its
    day); any other open row is what a full recompute would find again, as the last update left it.
    The result is the full recompute's (tests/payments/test_plans_incremental.py)."""
    started = time.perf_counter()
    read_on = today()
    base = None if full else _base(engine, as_of, portfolio)
    with_day = {"as_of": as_of, "settle_from": as_of - timedelta(days=SETTLE_DAYS)}
    with exported_snapshot(engine) as snapshot:
        first = {
            "last_event": ("SELECT coalesce(max(event_id), 0) AS event_id FROM events", {"event_id": pl.Int64}, {})
        }
        if base is not None:
            changed_sql, changed_params = _changed_claims_sql(engine, portfolio)
            since = {
                "base_as_of": base.as_of,
                "recorded_from": base.read_on - timedelta(days=1),
                "base_event_id": base.last_event_id,
            }
            first["changed"] = (changed_sql, {"claim_id": pl.Int64}, changed_params | with_day | since)
            for name, (table, *_rest) in TABLES.items():
                where, params = _open_where(name, portfolio)
                first[f"count_{name}"] = (
                    f"SELECT status, count(*) AS n FROM {table} WHERE {where} GROUP BY status",
                    {"status": pl.String, "n": pl.Int64},
                    params | with_day,
                )
        first = read_snapshot(engine, first, snapshot)
        log.info("plans update: what changed read in %.2f s", time.perf_counter() - started)
        last_event_id = int(first["last_event"].item(0, 0) or 0)
        claims = None
        if base is not None:
            changed = first["changed"].get_column("claim_id")
            open_rows = sum(int(first[f"count_{name}"].get_column("n").sum()) for name in TABLES)
            if open_rows == 0:
                return Updated(as_of, {}, {}, {}, {}, 0, time.perf_counter() - started)  # nothing open
            if changed.len() <= FULL_ABOVE * open_rows:
                claims = _claims_in(engine, changed)
            else:
                base = None
        read = read_snapshot(engine, _reads(as_of, portfolio, claims, with_day), snapshot)
    log.info(
        "plans update: rows read in %.2f s (%s)", time.perf_counter() - started, "all" if base is None else "changed"
    )
    for name, (table, key, *_rest) in TABLES.items():  # each row as read, and what the last update stored of it
        read[f"stored_{name}"] = read[name].select(key, *STORED[table])
        read[name] = read[name].select(*SCHEMAS[name])
    plans, settlements, promises = read["plans"], read["settlements"], read["promises"]
    if base is None and plans.height + settlements.height + promises.height == 0:
        return Updated(as_of, {}, {}, {}, {}, 0, time.perf_counter() - started)  # nothing open: nothing to record
    instalments, payments = read["instalments"], not_reversed(read)
    found_plans, found_settlements, found_promises = compute(plans, instalments, settlements, promises, payments, as_of)
    log.info("plans update: computed in %.2f s", time.perf_counter() - started)
    with engine.begin() as conn:
        if is_postgres(conn):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({UPDATE_LOCK_KEY})")
        found_plans, plan_write_offs = _with_write_offs(conn, found_plans, "plan", "plan_id")
        found_settlements, settlement_write_offs = _with_write_offs(
            conn, found_settlements, "settlement", "settlement_id"
        )
        write_offs = plan_write_offs + settlement_write_offs
        changed_rows = {
            "payment_plans": _write_changed(
                conn,
                "payment_plans",
                "plan_id",
                # days late are as_of - next_due_on: computed when read, never rewritten each day
                found_plans.drop("claim_id", "write_off_on", "days_late"),
                read["stored_plans"],
                as_of,
            ),
            "settlements": _write_changed(
                conn,
                "settlements",
                "settlement_id",
                found_settlements.drop("claim_id", "write_off_on"),
                read["stored_settlements"],
                as_of,
            ),
            "promises": _write_changed(
                conn, "promises", "promise_id", found_promises.drop("claim_id"), read["stored_promises"], as_of
            ),
        }
        found = {"plans": found_plans, "settlements": found_settlements, "promises": found_promises}
        if base is None:
            counts = {name: _counts(frame) for name, frame in found.items()}
        else:  # the open rows as they were, less the recomputed ones as they were, plus them as found
            counts = {
                name: _recounted(first[f"count_{name}"], read[f"stored_{name}"], frame) for name, frame in found.items()
            }
        result = Updated(
            as_of,
            counts["plans"],
            counts["settlements"],
            counts["promises"],
            changed_rows,
            write_offs,
            time.perf_counter() - started,
        )
        audit(conn, AuditAction.PLANS_UPDATE, portfolio, result.summary(), who)
        conn.execute(
            sa.insert(PlanUpdate.__table__).values(
                portfolio_id=portfolio,
                as_of=as_of,
                read_on=read_on,
                last_event_id=last_event_id,
                full_recompute=base is None,
                recomputed_claims=(
                    pl.concat([plans["claim_id"], settlements["claim_id"], promises["claim_id"]]).n_unique()
                ),
                done_at=datetime.now(UTC),
            )
        )
    return result


def _reads(as_of: date, portfolio: str | None, claims: str | None, with_day: dict) -> dict:
    """The update's reads (``read_snapshot``'s queries): the open rows (of the claims ``claims``,
    a condition on ``claim_id``, when given) with what the last update stored of them, the plans'
    instalments and the claims' payments."""
    reads, every = {}, dict(with_day)
    for name, (table, _, *_rest) in TABLES.items():
        schema = SCHEMAS[name] | STORED[table]
        sql, params = _open_rows_sql(name, schema, portfolio, claims)
        reads[name] = (sql, schema, params | with_day)
        every |= params
    where, params = _open_where("plans", portfolio)
    if claims is not None:
        where += f" AND p.claim_id {claims}"
    reads["instalments"] = (
        "SELECT i.plan_id, i.number, i.due_on, i.amount FROM plan_instalments i "
        f"JOIN payment_plans p ON p.plan_id = i.plan_id WHERE {where}",
        plan_rules.INSTALMENT_SCHEMA,
        params | with_day,
    )
    claims_sql = " UNION ".join(f"SELECT claim_id FROM ({reads[name][0]}) o{n}" for n, name in enumerate(TABLES))
    return reads | payment_queries(claims_sql, every, as_of, claims)


def _recounted(before: pl.DataFrame, stored: pl.DataFrame, found: pl.DataFrame) -> dict[str, int]:
    """Statuses of the open rows: ``before`` (status, n) of them all as stored, the recomputed ones
    ``stored`` as they were and ``found`` as they are now."""
    counts = dict(before.iter_rows())
    for status, n in _counts(stored).items():
        counts[status] -= n
    for status, n in _counts(found).items():
        counts[status] = counts.get(status, 0) + n
    return dict(sorted((s, n) for s, n in counts.items() if n))


def _with_write_offs(conn: sa.Connection, found: pl.DataFrame, noun: str, key: str) -> tuple[pl.DataFrame, int]:
    """The ``write_off`` events of the rows of ``found`` with ``write_off_on``, each stored once (by
    its key ``<noun>:<id>:write_off``); ``found`` with ``write_off_event_id`` (null: none), and how
    many events this stored."""
    rows = found.filter(pl.col("write_off_on").is_not_null())
    if rows.height == 0:
        return found.with_columns(write_off_event_id=pl.lit(None, dtype=pl.Int64)), 0
    named = pl.lit(f"{noun}:") + pl.col(key).cast(pl.String)
    events = rows.select(
        pl.col("claim_id"),
        pl.col("write_off_on").alias("event_date"),
        pl.lit(EventKind.WRITE_OFF.value).alias("kind"),
        pl.lit(None, dtype=pl.Int64).alias("amount"),
        pl.lit(None, dtype=pl.Int64).alias("reverses"),
        named.alias("source"),
        (named + pl.lit(":write_off")).alias("idempotency_key"),
    )
    columns = ", ".join(events.columns)
    conn.exec_driver_sql("DROP TABLE IF EXISTS stage_plan_events")
    conn.exec_driver_sql(f"CREATE TEMP TABLE stage_plan_events AS SELECT {columns} FROM events WHERE 1 = 0")
    write_frame(conn, "stage_plan_events", events)
    inserted = conn.exec_driver_sql(
        f"INSERT INTO events ({columns}) SELECT {columns} FROM stage_plan_events WHERE true "
        # numbered in one order, however the rows were found
        "ORDER BY idempotency_key ON CONFLICT (idempotency_key) DO NOTHING"
    ).rowcount
    ids = read_frame(
        conn,
        "SELECT s.source, e.event_id FROM stage_plan_events s JOIN events e ON e.idempotency_key = s.idempotency_key",
        {"source": pl.String, "write_off_event_id": pl.Int64},
    ).select(pl.col("source").str.strip_prefix(f"{noun}:").cast(pl.Int64).alias(key), "write_off_event_id")
    conn.exec_driver_sql("DROP TABLE stage_plan_events")
    return found.join(ids, on=key, how="left"), inserted


def _write_changed(
    conn: sa.Connection, table: str, key: str, found: pl.DataFrame, stored: pl.DataFrame, as_of: date
) -> int:
    """Write the columns of ``found`` to the rows of ``table`` (by ``key``) whose ``stored`` values
    (as read before) differ, with ``updated_as_of``; how many rows were written."""
    if found.height == 0:
        return 0
    columns = [c for c in found.columns if c != key]
    stored = stored.select(key, *(pl.col(c).cast(found.schema[c]) for c in columns))
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_stored")) for c in columns)
    changed = (
        found.join(stored, on=key, how="left", suffix="_stored")
        .filter(~same)
        .select(found.columns)
        .with_columns(updated_as_of=pl.lit(as_of))
    )
    if changed.height == 0:
        return 0
    stage = f"stage_{table}"
    names = [key, *columns, "updated_as_of"]
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} AS SELECT {', '.join(names)} FROM {table} WHERE 1 = 0")
    write_frame(conn, stage, changed.select(names))
    assignments = ", ".join(f"{c} = s.{c}" for c in names[1:])
    conn.exec_driver_sql(f"UPDATE {table} SET {assignments} FROM {stage} s WHERE {table}.{key} = s.{key}")
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return changed.height
