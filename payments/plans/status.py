"""What the claims' payments make of payment plans as of a day, for every plan at once (polars).

Payments counted towards a plan: the claim's ``payment`` events dated from the day the plan was
signed to the day of the update, reversed ones left out (a reversal dated on or before that day),
in the engine's order (``event_date``, ``event_id``). They cover the instalments in order (the down
payment first): instalment k is paid on the day the running sum first reaches the sum of the
instalments 0..k (``coverage``). Then, as of day D, with the plan's ``grace_days`` (g) and
``break_after_days`` (b >= g), instalment k due on day d is:

| status | when |
|---|---|
| paid | paid on or before d + g (early counts, one lump covering many counts for each) |
| paid_late | paid after d + g, and not after d + b |
| pending | not paid, D <= d + g |
| late | not paid, d + g < D <= d + b |
| missed | not paid by d + b (paid later or not at all) |

The plan is **broken** on the first day d + b + 1 of a missed instalment, if that day is on or before
D; otherwise **kept** on the day its last instalment was paid, if all are; otherwise **active**. A
kept plan whose every instalment was ``paid`` (on time) and whose terms say ``write_off_rest`` has
the rest of the claim written off on the day it was kept.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from engine.domain import InstalmentStatus, PlanStatus
from payments.plans.coverage import paid_totals, reached_on, running_paid, running_sum, sorted_by, typed

PLAN_SCHEMA = {
    "plan_id": pl.Int64,
    "claim_id": pl.Int64,
    "signed_on": pl.Date,
    "grace_days": pl.Int32,
    "break_after_days": pl.Int32,
    "write_off_rest": pl.Boolean,
}
INSTALMENT_SCHEMA = {"plan_id": pl.Int64, "number": pl.Int32, "due_on": pl.Date, "amount": pl.Int64}
#: what the daily update finds of each plan (the columns of payment_plans it keeps)
FOUND_SCHEMA = {
    "plan_id": pl.Int64,
    "claim_id": pl.Int64,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
    "instalments_paid": pl.Int32,
    "next_due_on": pl.Date,
    "days_late": pl.Int32,
    "on_time": pl.Boolean,
    "write_off_on": pl.Date,
}


#: an instalment's status as a polars Enum (its physical form is a small integer: cheap over millions)
INSTALMENT_STATUS = pl.Enum([s.value for s in InstalmentStatus])


def _status(value: InstalmentStatus) -> pl.Expr:
    return pl.lit(value.value, dtype=INSTALMENT_STATUS)


def instalments_as_of(
    plans: pl.DataFrame,
    instalments: pl.DataFrame,
    payments: pl.DataFrame,
    as_of: date,
    running: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every instalment of ``plans`` with ``target`` (cumulative grosz), ``paid_on`` (the day it
    was covered, null: not yet), ``status`` (``InstalmentStatus``, an Enum) and ``breaks_on`` (the
    day it breaks the plan, when it does) as of ``as_of``, sorted by plan and number.
    ``running``: ``running_paid`` of the plans, when the caller has it already."""
    if running is None:
        running = _running(plans, payments, as_of)
    terms = plans.select("plan_id", "grace_days", "break_after_days")
    targets = (
        sorted_by(typed(instalments, INSTALMENT_SCHEMA), "plan_id", "number")
        .join(terms, on="plan_id", how="left", maintain_order="left")
        .with_columns(target=running_sum("amount", "plan_id"))
        .rename({"plan_id": "id"})
    )
    covered = reached_on(targets, running).rename({"id": "plan_id", "reached_on": "paid_on"})
    # days as integers (days since 1970-01-01): the arithmetic of dates without durations
    day = pl.col("due_on").cast(pl.Int32)
    paid = pl.col("paid_on").cast(pl.Int32)
    grace_end, break_end = day + pl.col("grace_days"), day + pl.col("break_after_days")
    today = (as_of - date(1970, 1, 1)).days
    status = (
        pl.when(paid <= grace_end)
        .then(_status(InstalmentStatus.PAID))
        .when(paid <= break_end)
        .then(_status(InstalmentStatus.PAID_LATE))
        .when(paid.is_not_null() | (today > break_end))
        .then(_status(InstalmentStatus.MISSED))
        .when(today > grace_end)
        .then(_status(InstalmentStatus.LATE))
        .otherwise(_status(InstalmentStatus.PENDING))
    )
    breaks_on = pl.when(paid.is_null() | (paid > break_end)).then(break_end + 1).cast(pl.Date)
    return covered.with_columns(status=status, breaks_on=breaks_on).drop("grace_days", "break_after_days")


def _running(plans: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    agreements = plans.select(id="plan_id", claim_id="claim_id", since="signed_on")
    return running_paid(agreements, payments.filter(pl.col("event_date") <= as_of))


def plans_as_of(plans: pl.DataFrame, instalments: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """What ``plans`` (PLAN_SCHEMA, signed on or before ``as_of``) are as of ``as_of``: FOUND_SCHEMA,
    one row per plan. ``payments``: coverage.PAYMENT_SCHEMA, not reversed (later ones are left out)."""
    plans = typed(plans, PLAN_SCHEMA)
    running = _running(plans, payments, as_of)
    each = instalments_as_of(plans, instalments, payments, as_of, running)
    paid_on = pl.col("paid_on")
    # instalments are covered in order: the unpaid ones of a plan are its last ones
    per_plan = (
        each.lazy()
        .with_columns(
            unpaid_due=pl.when(paid_on.is_null()).then(pl.col("due_on")),
            breaks_by_now=pl.when(pl.col("breaks_on") <= as_of).then(pl.col("breaks_on")),
            not_on_time=(paid_on.is_not_null() & (pl.col("status") != InstalmentStatus.PAID.value)).cast(pl.Int32),
        )
        .group_by("plan_id")
        .agg(
            count=pl.len().cast(pl.Int32),
            instalments_paid=paid_on.count().cast(pl.Int32),
            last_paid_on=paid_on.max(),
            next_due_on=pl.col("unpaid_due").min(),
            broken_on=pl.col("breaks_by_now").min(),
            on_time=pl.col("not_on_time").sum() == 0,
        )
    )
    totals = paid_totals(running).lazy().rename({"id": "plan_id"})
    kept = pl.col("instalments_paid") == pl.col("count")
    broken = pl.col("broken_on").is_not_null()
    status = (
        pl.when(broken)
        .then(pl.lit(PlanStatus.BROKEN.value))
        .when(kept)
        .then(pl.lit(PlanStatus.KEPT.value))
        .otherwise(pl.lit(PlanStatus.ACTIVE.value))
    )
    late = (pl.lit(as_of) - pl.col("next_due_on")).dt.total_days()
    return (
        plans.lazy()
        .join(per_plan, on="plan_id", how="left")
        .join(totals, on="plan_id", how="left")
        .with_columns(status=status)
        .with_columns(
            status_on=pl.when(broken)
            .then(pl.col("broken_on"))
            .when(kept)
            .then(pl.col("last_paid_on"))
            .otherwise(pl.col("signed_on")),
            paid=pl.col("paid").fill_null(0),
            days_late=pl.when(pl.col("status") == PlanStatus.ACTIVE.value)
            .then(pl.max_horizontal(late.fill_null(0), pl.lit(0)))
            .otherwise(0)
            .cast(pl.Int32),
            write_off_on=pl.when(
                (pl.col("status") == PlanStatus.KEPT.value) & pl.col("on_time") & pl.col("write_off_rest")
            ).then(pl.col("last_paid_on")),
        )
        .select(pl.col(c).cast(t) for c, t in FOUND_SCHEMA.items())
        .collect()
    )
