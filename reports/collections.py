"""Collections: what the book's payments brought, month by month since each claim's purchase.

A collection is a ``payment`` event dated on or before the as-of day that no ``reversal`` dated on
or before that day cancels (a bounced transfer is taken out of the month it was paid in, as the
engine takes it out of the claim's balance). Payments dated before a claim's purchase (between its
cut-off and the purchase day, passed on by the seller) count in month 0, the month of purchase.

A vintage is the claims of one portfolio bought in one calendar month: most portfolios are one
vintage; claims a later file added to a portfolio make a vintage of their own, so every curve
counts months from the claims' own purchase. Months are counted in calendar months: month ``k`` of
a claim bought on 2024-06-28 is the calendar month June 2024 + k.
"""

from __future__ import annotations

import calendar
from datetime import date

import polars as pl

PAYMENT_SCHEMA = {"event_id": pl.Int64, "claim_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64}
REVERSAL_SCHEMA = {"reverses": pl.Int64, "event_date": pl.Date}
#: the claims' columns the curves read (face value: what the seller sold, at cut-off)
CLAIM_SCHEMA = {
    "claim_id": pl.Int64,
    "portfolio_id": pl.String,
    "purchase_date": pl.Date,
    "purchase_price": pl.Int64,
    "principal": pl.Int64,
    "interest_at_cutoff": pl.Int64,
    "costs_at_cutoff": pl.Int64,
}
VINTAGE = ("portfolio_id", "purchase_month")


def month_number(day: date) -> int:
    """A calendar month as one int (year * 12 + month - 1): months apart are a difference."""
    return day.year * 12 + day.month - 1


def month_of(number: int) -> date:
    """The first day of the month ``month_number`` numbers."""
    return date(number // 12, number % 12 + 1, 1)


def month_end(number: int) -> date:
    first = month_of(number)
    return date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])


def month_number_of(column: str) -> pl.Expr:
    """``month_number`` of a date column."""
    return pl.col(column).dt.year().cast(pl.Int32) * 12 + pl.col(column).dt.month().cast(pl.Int32) - 1


def last_complete_month(as_of: date) -> int:
    """The number of the last calendar month whose collections are all known as of ``as_of``."""
    return month_number(as_of) if as_of == month_end(month_number(as_of)) else month_number(as_of) - 1


def net_payments(payments: pl.DataFrame, reversals: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """``payments`` dated on or before ``as_of`` that no reversal dated on or before it cancels."""
    cancelled = reversals.filter(pl.col("event_date") <= as_of).select(pl.col("reverses").alias("event_id"))
    return payments.filter(pl.col("event_date") <= as_of).join(cancelled, on="event_id", how="anti")


#: vintages as the store sums them (``purchased``) before ``vintages`` adds what the day knows
PURCHASED_SCHEMA = {
    "portfolio_id": pl.String,
    "purchase_month": pl.Int32,
    "claims": pl.Int64,
    "price": pl.Int64,
    "face": pl.Int64,
    "purchase_date": pl.Date,
}
#: collections summed by vintage and calendar month of payment (``paid_by_month``)
PAID_SCHEMA = {"portfolio_id": pl.String, "purchase_month": pl.Int32, "paid_month": pl.Int32, "collected": pl.Int64}


def purchased(claims: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The claims bought on or before ``as_of`` summed by vintage (PURCHASED_SCHEMA): claims, price,
    face value at cut-off, first purchase day."""
    return (
        claims.filter(pl.col("purchase_date") <= as_of)
        .with_columns(purchase_month=month_number_of("purchase_date"))
        .group_by(VINTAGE)
        .agg(
            claims=pl.len().cast(pl.Int64),
            price=pl.col("purchase_price").sum(),
            face=(pl.col("principal") + pl.col("interest_at_cutoff") + pl.col("costs_at_cutoff")).sum(),
            purchase_date=pl.col("purchase_date").min(),
        )
        .select(pl.col(c).cast(t) for c, t in PURCHASED_SCHEMA.items())
    )


def vintages(bought: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per vintage (portfolio, purchase month), from claims or from ``purchased``'s sums,
    with ``last_complete``: the last development month whose collections are all known as of
    ``as_of`` (-1: none yet)."""
    sums = purchased(bought, as_of) if "claim_id" in bought.columns else bought
    last = last_complete_month(as_of)
    return sums.with_columns(last_complete=(pl.lit(last) - pl.col("purchase_month")).cast(pl.Int32)).sort(VINTAGE)


def paid_by_month(claims: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """Collections summed by vintage and calendar month of payment (PAID_SCHEMA)."""
    bought = claims.select("claim_id", "portfolio_id", purchase_month=month_number_of("purchase_date"))
    return (
        payments.select("claim_id", "amount", paid_month=month_number_of("event_date"))
        .join(bought, on="claim_id")
        .group_by(*VINTAGE, "paid_month")
        .agg(collected=pl.col("amount").sum())
        .select(pl.col(c).cast(t) for c, t in PAID_SCHEMA.items())
    )


def monthly(claims: pl.DataFrame | None, payments: pl.DataFrame) -> pl.DataFrame:
    """Collections by vintage and development month (``month``: calendar months since the claim's
    purchase, payments before it in month 0): portfolio_id, purchase_month, month, collected. From
    claims and payments, or (``claims`` None) from ``paid_by_month``'s sums."""
    paid = payments if claims is None else paid_by_month(claims, payments)
    return (
        paid.with_columns(month=pl.max_horizontal(pl.col("paid_month") - pl.col("purchase_month"), pl.lit(0)))
        .group_by(*VINTAGE, "month")
        .agg(collected=pl.col("collected").sum())
        .sort(*VINTAGE, "month")
    )


def curve(monthly_collections: pl.DataFrame, price: int, through: int) -> pl.DataFrame:
    """One portfolio's curve: month (0 .. ``through``), collected that month, cumulative, and the
    cumulative as a multiple of the price (``multiple``; null when the price is 0)."""
    months = pl.DataFrame({"month": pl.int_range(0, max(through, -1) + 1, eager=True).cast(pl.Int32)})
    per_month = monthly_collections.group_by("month").agg(collected=pl.col("collected").sum())
    out = (
        months.join(per_month.with_columns(pl.col("month").cast(pl.Int32)), on="month", how="left")
        .with_columns(pl.col("collected").fill_null(0))
        .with_columns(cumulative=pl.col("collected").cum_sum())
    )
    return out.with_columns(multiple=(pl.col("cumulative") / price) if price else pl.lit(None, pl.Float64))
