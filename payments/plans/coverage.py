"""How far a claim's payments go towards what a debtor agreed to pay, for many agreements at once.

An agreement (a plan, a settlement, a promise) counts the payments of its claim from its first day
(``since``, inclusive) in the engine's order (``event_date``, then ``event_id``), reversed payments
left out, and the running sum of them. A target (an instalment's cumulative amount, a settlement's
or a promise's amount) is reached on the day of the first payment that brings the running sum to it
or past it. Nothing loops in Python over agreements or payments:

- running sums per agreement are one cumulative sum over rows sorted by agreement, less the sum
  before each agreement's first row (``running_sum``: no group-by);
- the search is one ``numpy.searchsorted`` of the targets in the running sums, both keyed by
  ``(agreement id << bits) | grosz`` so that one sorted array holds every agreement; when the ids
  and the amounts do not fit 62 bits, a polars as-of join by agreement does the same.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

#: the payments an agreement counts: kind payment, not reversed, dated on or before the day of the update
PAYMENT_SCHEMA = {"claim_id": pl.Int64, "event_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64}
#: bits of a search key: agreement rank and grosz side by side in a non-negative int64
KEY_BITS = 62


def typed(frame: pl.DataFrame, schema: dict) -> pl.DataFrame:
    """``frame``'s columns of ``schema``, in its order, cast to its types."""
    return frame.select(pl.col(c).cast(t) for c, t in schema.items())


def running_sum(value: str, group: str) -> pl.Expr:
    """The running sum of ``value`` within each run of equal ``group`` (rows sorted by ``group``)."""
    total = pl.col(value).cum_sum()
    starts = pl.col(group) != pl.col(group).shift(1)
    before = pl.when(starts.fill_null(True)).then(total - pl.col(value)).forward_fill()
    return total - before


def running_paid(agreements: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """Per agreement (``id``, ``claim_id``, ``since``), each counted payment's day and the running
    sum ``paid`` after it, in order: ``id``, ``event_date``, ``paid``, sorted by ``id`` and ``paid``."""
    ordered = sorted_by(typed(payments, PAYMENT_SCHEMA), "claim_id", "event_date", "event_id")
    return (
        ordered.lazy()
        .join(agreements.lazy().select("id", "claim_id", "since"), on="claim_id", how="inner", maintain_order="left")
        .filter(pl.col("event_date") >= pl.col("since"))
        .sort("id", maintain_order=True)  # stable: each agreement's payments stay in the engine's order
        .select("id", "event_date", paid=running_sum("amount", "id"))
        .collect()
    )


def reached_on(targets: pl.DataFrame, running: pl.DataFrame) -> pl.DataFrame:
    """``targets`` (``id``, ``target`` grosz > 0, any other columns) with ``reached_on``: the day the
    running sum of the agreement's payments (``running_paid``) first reached ``target`` (null: not yet)."""
    if running.height == 0 or targets.height == 0:
        return targets.with_columns(reached_on=pl.lit(None, dtype=pl.Date))
    amount_bits = int(max(targets.get_column("target").max(), running.get_column("paid").max())).bit_length()
    id_bits = int(max(targets.get_column("id").max(), running.get_column("id").max())).bit_length()
    if min(targets.get_column("id").min(), running.get_column("id").min()) < 0 or amount_bits + id_bits > KEY_BITS:
        return _reached_by_join(targets, running)

    def keyed(frame: pl.DataFrame, amount: str) -> np.ndarray:
        return (frame.get_column("id").to_numpy() << amount_bits) | frame.get_column(amount).to_numpy()

    paid_keys = keyed(running, "paid")  # sorted: running is sorted by id, then paid
    target_keys = keyed(targets, "target")
    at = np.minimum(np.searchsorted(paid_keys, target_keys, side="left"), len(paid_keys) - 1)
    same = (paid_keys[at] >> amount_bits) == (target_keys >> amount_bits)
    found = np.where(same & (paid_keys[at] >= target_keys), at, -1)
    days = running.get_column("event_date").gather(pl.Series(np.maximum(found, 0)))
    return targets.with_columns(reached_on=pl.when(pl.Series(found >= 0)).then(days))


def sorted_by(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """``frame`` sorted by ``columns`` (non-negative integers or dates); as it is when it already is
    (one linear check: the store gives rows in key order)."""
    if frame.height < 2:
        return frame
    keys = frame.select(pl.col(c).cast(pl.Int64) for c in columns).to_numpy()
    step = np.diff(keys, axis=0)
    # in order: each row's first differing key is larger (lexicographic), or all keys equal
    first = np.argmax(step != 0, axis=1)
    ahead = step[np.arange(len(step)), first] >= 0
    return frame if bool(ahead.all()) else frame.sort(*columns, maintain_order=True)


def _reached_by_join(targets: pl.DataFrame, running: pl.DataFrame) -> pl.DataFrame:
    """``reached_on`` by a polars as-of join per agreement (for keys too wide for ``reached_on``)."""
    right = running.select("id", "paid", reached_on="event_date").sort("id", "paid")
    order = targets.with_row_index("_row")
    joined = order.sort("id", "target").join_asof(
        right, left_on="target", right_on="paid", by="id", strategy="forward", check_sortedness=False
    )
    return joined.sort("_row").drop("_row", "paid")


def paid_totals(running: pl.DataFrame) -> pl.DataFrame:
    """Per agreement with any counted payment: ``id`` and ``paid``, the sum of its payments."""
    return running.filter(pl.col("id") != pl.col("id").shift(-1).fill_null(-1)).select("id", "paid")


def by_a_day(agreements: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
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
