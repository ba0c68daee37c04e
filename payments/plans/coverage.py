"""How far a claim's payments go towards what a debtor agreed to pay, for many agreements at once.

An agreement (a plan, a settlement, a promise) counts the payments of its claim from its first day
(``since``, inclusive) in the engine's order (``event_date``, then ``event_id``), reversed payments
left out, and the running sum of them. A target (an instalment's cumulative amount, a settlement's
or a promise's amount) is reached on the day of the first payment that brings the running sum to it
or past it: a polars as-of join of the targets on the running sums, per agreement. Nothing loops in
Python over agreements or payments.
"""

from __future__ import annotations

from datetime import date

import polars as pl

#: the payments an agreement counts: kind payment, not reversed, dated on or before the day of the update
PAYMENT_SCHEMA = {"claim_id": pl.Int64, "event_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64}


def running_paid(agreements: pl.LazyFrame, payments: pl.LazyFrame) -> pl.LazyFrame:
    """Per agreement (``id``, ``claim_id``, ``since``), each counted payment's day and the running
    sum ``paid`` after it, in order: columns ``id``, ``event_date``, ``paid``."""
    return (
        agreements.select("id", "claim_id", "since")
        .join(typed(payments, PAYMENT_SCHEMA), on="claim_id", how="inner")
        .filter(pl.col("event_date") >= pl.col("since"))
        .sort("id", "event_date", "event_id")
        .select("id", "event_date", paid=pl.col("amount").cum_sum().over("id"))
    )


def reached_on(targets: pl.LazyFrame, running: pl.LazyFrame) -> pl.LazyFrame:
    """``targets`` (``id``, ``target`` grosz, any other columns) with ``reached_on``: the day the
    running sum of the agreement's payments first reached ``target`` (null: not yet)."""
    right = running.select("id", "paid", reached_on="event_date").sort("id", "paid")
    return (
        targets.sort("id", "target")
        .join_asof(
            right,
            left_on="target",
            right_on="paid",
            by="id",
            strategy="forward",
            check_sortedness=False,  # sorted by (id, key): sorted within each group, which is what counts
        )
        .drop("paid")
    )


def paid_totals(running: pl.LazyFrame) -> pl.LazyFrame:
    """Per agreement with any counted payment: ``id`` and ``paid``, the sum of its payments."""
    return running.group_by("id").agg(paid=pl.col("paid").max())


def by_a_day(agreements: pl.LazyFrame, payments: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """One amount to be paid by a day, for many agreements (``id``, ``claim_id``, ``since``,
    ``target`` grosz, ``until`` day): ``id``, ``paid`` (grosz counted as of ``as_of``), ``outcome``
    ``met`` (the running sum reached ``target`` on or before ``until``: ``outcome_on`` that day),
    ``missed`` (``as_of`` is past ``until`` and it had not: ``outcome_on`` the day after ``until``)
    or ``open`` (neither yet: ``outcome_on`` null)."""
    running = running_paid(agreements, payments.filter(pl.col("event_date") <= as_of))
    reached = reached_on(agreements.select("id", "target", "until"), running)
    met = pl.col("reached_on").is_not_null() & (pl.col("reached_on") <= pl.col("until"))
    missed = ~met & (pl.lit(as_of) > pl.col("until"))
    return (
        reached.join(paid_totals(running), on="id", how="left")
        .with_columns(
            paid=pl.col("paid").fill_null(0),
            outcome=pl.when(met).then(pl.lit("met")).when(missed).then(pl.lit("missed")).otherwise(pl.lit("open")),
            outcome_on=pl.when(met).then(pl.col("reached_on")).when(missed).then(pl.col("until") + pl.duration(days=1)),
        )
        .select("id", "paid", "outcome", "outcome_on")
    )


def typed(frame: pl.LazyFrame, schema: dict) -> pl.LazyFrame:
    """``frame``'s columns of ``schema``, in its order, cast to its types."""
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())
