"""Promises to pay: a debtor says they will pay ``amount`` by ``pay_by`` (to an agency's collector,
or to the purchaser's own staff). The claim's payments from the day the promise was made
(``made_on``, inclusive), not reversed, are counted as for a plan (payments/plans/coverage.py): the
promise is **kept** on the day they reach the amount, if that is on or before ``pay_by``; **broken**
from the day after ``pay_by`` otherwise; **open** until then.

The kept-promise rate of an agency or a collector is kept / (kept + broken) of their promises that
have come to an end (open and cancelled ones are not counted), as a fraction to four places.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import polars as pl

from engine.domain import PromiseStatus
from payments.plans.coverage import by_a_day, typed

PROMISE_SCHEMA = {
    "promise_id": pl.Int64,
    "claim_id": pl.Int64,
    "made_on": pl.Date,
    "amount": pl.Int64,
    "pay_by": pl.Date,
}
FOUND_SCHEMA = {
    "promise_id": pl.Int64,
    "claim_id": pl.Int64,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
}
RateBy = Literal["agency", "collector"]
RATE_SCHEMA = {
    "agency_id": pl.String,
    "collector": pl.String,
    "promises": pl.Int64,
    "open": pl.Int64,
    "kept": pl.Int64,
    "broken": pl.Int64,
    "kept_rate": pl.String,  # "0.6667": kept / (kept + broken), null when none ended
    "promised": pl.Int64,  # grosz promised in the promises that ended
    "paid": pl.Int64,  # grosz paid towards them
}


def promises_as_of(promises: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """What open ``promises`` (PROMISE_SCHEMA, made on or before ``as_of``) are as of ``as_of``:
    FOUND_SCHEMA, one row each."""
    promises = typed(promises, PROMISE_SCHEMA)
    found = by_a_day(
        promises.select(id="promise_id", claim_id="claim_id", since="made_on", target="amount", until="pay_by"),
        payments,
        as_of,
    ).rename({"id": "promise_id"})
    status = (
        pl.when(pl.col("outcome") == "met")
        .then(pl.lit(PromiseStatus.KEPT.value))
        .when(pl.col("outcome") == "missed")
        .then(pl.lit(PromiseStatus.BROKEN.value))
        .otherwise(pl.lit(PromiseStatus.OPEN.value))
    )
    return (
        promises.join(found, on="promise_id", how="left")
        .with_columns(status=status, status_on=pl.coalesce("outcome_on", "made_on"))
        .pipe(typed, FOUND_SCHEMA)
    )


def kept_rates(promises: pl.DataFrame, by: RateBy) -> pl.DataFrame:
    """The kept-promise rate per agency (``by="agency"``) or per agency and collector: RATE_SCHEMA
    (``collector`` null when by agency), from stored promises (``agency_id``, ``collector``,
    ``status``, ``amount``, ``paid``); the purchaser's own (no agency) under agency_id null."""
    keys = ["agency_id"] if by == "agency" else ["agency_id", "collector"]
    status = pl.col("status")
    ended = status.is_in([PromiseStatus.KEPT.value, PromiseStatus.BROKEN.value])
    counted = promises.filter(status != PromiseStatus.CANCELLED.value)
    grouped = counted.group_by(keys).agg(
        promises=pl.len().cast(pl.Int64),
        open=(status == PromiseStatus.OPEN.value).sum().cast(pl.Int64),
        kept=(status == PromiseStatus.KEPT.value).sum().cast(pl.Int64),
        broken=(status == PromiseStatus.BROKEN.value).sum().cast(pl.Int64),
        promised=pl.col("amount").filter(ended).sum().cast(pl.Int64),
        paid=pl.col("paid").filter(ended).sum().cast(pl.Int64),
    )
    ended_count = pl.col("kept") + pl.col("broken")
    # integer arithmetic, rounded half up to 1/10000: no float decides a printed rate
    basis_points = (pl.col("kept") * 20_000 + ended_count) // (2 * ended_count)
    rate = pl.when(ended_count > 0).then(
        (basis_points // 10_000).cast(pl.String) + "." + (basis_points % 10_000).cast(pl.String).str.zfill(4)
    )
    if by == "agency":
        grouped = grouped.with_columns(collector=pl.lit(None, dtype=pl.String))
    return grouped.with_columns(kept_rate=rate).select(list(RATE_SCHEMA)).sort(keys, nulls_last=True)
