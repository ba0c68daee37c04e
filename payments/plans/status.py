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
from payments.plans.coverage import paid_totals, reached_on, running_paid, typed

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


def _days(column: str) -> pl.Expr:
    return pl.duration(days=pl.col(column))


def instalments_as_of(
    plans: pl.LazyFrame, instalments: pl.LazyFrame, payments: pl.LazyFrame, as_of: date
) -> pl.LazyFrame:
    """Every instalment of ``plans`` with ``target`` (cumulative grosz), ``paid_on`` (the day it
    was covered, null: not yet) and ``status`` (``InstalmentStatus``) as of ``as_of``."""
    agreements = plans.select(id="plan_id", claim_id="claim_id", since="signed_on")
    running = running_paid(agreements, payments.filter(pl.col("event_date") <= as_of))
    targets = (
        typed(instalments, INSTALMENT_SCHEMA)
        .sort("plan_id", "number")
        .with_columns(target=pl.col("amount").cum_sum().over("plan_id"))
        .rename({"plan_id": "id"})
    )
    covered = reached_on(targets, running).rename({"id": "plan_id", "reached_on": "paid_on"})
    terms = plans.select("plan_id", "grace_days", "break_after_days")
    grace_end = pl.col("due_on") + _days("grace_days")
    break_end = pl.col("due_on") + _days("break_after_days")
    paid_on = pl.col("paid_on")
    status = (
        pl.when(paid_on.is_not_null() & (paid_on <= grace_end))
        .then(pl.lit(InstalmentStatus.PAID.value))
        .when(paid_on.is_not_null() & (paid_on <= break_end))
        .then(pl.lit(InstalmentStatus.PAID_LATE.value))
        .when(paid_on.is_not_null() | (pl.lit(as_of) > break_end))
        .then(pl.lit(InstalmentStatus.MISSED.value))
        .when(pl.lit(as_of) > grace_end)
        .then(pl.lit(InstalmentStatus.LATE.value))
        .otherwise(pl.lit(InstalmentStatus.PENDING.value))
    )
    return (
        covered.join(terms, on="plan_id", how="left")
        .with_columns(
            status=status,
            breaks_on=pl.when(paid_on.is_null() | (paid_on > break_end)).then(break_end + pl.duration(days=1)),
        )
        .sort("plan_id", "number")
    )


def plans_as_of(plans: pl.LazyFrame, instalments: pl.LazyFrame, payments: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """What ``plans`` (PLAN_SCHEMA, signed on or before ``as_of``) are as of ``as_of``: FOUND_SCHEMA,
    one row per plan. ``payments``: coverage.PAYMENT_SCHEMA, not reversed, dated up to ``as_of``."""
    plans = typed(plans, PLAN_SCHEMA)
    each = instalments_as_of(plans, instalments, payments, as_of)
    paid_on = pl.col("paid_on")
    per_plan = each.group_by("plan_id").agg(
        count=pl.len().cast(pl.Int32),
        instalments_paid=paid_on.is_not_null().sum().cast(pl.Int32),
        last_paid_on=paid_on.max(),
        next_due_on=pl.col("due_on").filter(paid_on.is_null()).min(),
        broken_on=pl.col("breaks_on").filter(pl.col("breaks_on") <= as_of).min(),
        on_time=(paid_on.is_null() | (pl.col("status") == InstalmentStatus.PAID.value)).all(),
    )
    counted = payments.filter(pl.col("event_date") <= as_of)
    running = running_paid(plans.select(id="plan_id", claim_id="claim_id", since="signed_on"), counted)
    totals = paid_totals(running).rename({"id": "plan_id"})
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
        plans.join(per_plan, on="plan_id", how="left")
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
        .pipe(typed, FOUND_SCHEMA)
    )
