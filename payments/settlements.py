"""Settlements at a discount: an offer to close a claim for ``amount`` if it is paid by ``pay_by``.

The payments counted are the claim's payments from the day of the offer (``offered_on``, inclusive),
not reversed, as for a plan (payments/plans/coverage.py). If they reach the amount on or before
``pay_by``, the settlement is **paid** on the day they do, and the rest of the claim is written off
that day (a ``write_off`` event: principal, interest and costs to 0, nothing accrues after it,
docs/engine.md); otherwise, from the day after ``pay_by``, it has **lapsed** and the claim is owed
as before (what was paid stays paid: the engine's waterfall took it). Until one or the other it is
**open**. All settlements at once, in polars.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from engine.domain import SettlementStatus
from payments.plans.coverage import by_a_day, typed

SETTLEMENT_SCHEMA = {
    "settlement_id": pl.Int64,
    "claim_id": pl.Int64,
    "offered_on": pl.Date,
    "amount": pl.Int64,
    "pay_by": pl.Date,
}
FOUND_SCHEMA = {
    "settlement_id": pl.Int64,
    "claim_id": pl.Int64,
    "status": pl.String,
    "status_on": pl.Date,
    "paid": pl.Int64,
    "write_off_on": pl.Date,
}


def settlements_as_of(settlements: pl.DataFrame, payments: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """What open ``settlements`` (SETTLEMENT_SCHEMA, offered on or before ``as_of``) are as of
    ``as_of``: FOUND_SCHEMA, one row each."""
    settlements = typed(settlements, SETTLEMENT_SCHEMA)
    found = by_a_day(
        settlements.select(
            id="settlement_id", claim_id="claim_id", since="offered_on", target="amount", until="pay_by"
        ),
        payments,
        as_of,
    ).rename({"id": "settlement_id"})
    status = (
        pl.when(pl.col("outcome") == "met")
        .then(pl.lit(SettlementStatus.PAID.value))
        .when(pl.col("outcome") == "missed")
        .then(pl.lit(SettlementStatus.LAPSED.value))
        .otherwise(pl.lit(SettlementStatus.OPEN.value))
    )
    return (
        settlements.join(found, on="settlement_id", how="left")
        .with_columns(
            status=status,
            status_on=pl.coalesce("outcome_on", "offered_on"),
            write_off_on=pl.when(pl.col("outcome") == "met").then(pl.col("outcome_on")),
        )
        .pipe(typed, FOUND_SCHEMA)
    )
