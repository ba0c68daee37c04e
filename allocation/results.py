"""What placements brought: the payments made during each placement, the commission on them,
each agency's measured performance, and the champion/challenger report.

A payment counts for a placement when it was made while the placement was open (placed_on ..
recalled_on, or the day asked) and, for an agency's placement, when its ``source`` is that
agency (docs/data-contract.md events.source). Commission: the agency's rate (basis points), or
the tier of its ``commission_tiers`` ([[days_past_due_from, bp], ...]) the claim's days past due
at placement fall in.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl


def paid_during(placements: pl.DataFrame, payments: pl.DataFrame, day: date) -> pl.DataFrame:
    """``placements`` with ``paid`` (grosz) during each."""
    end = pl.col("recalled_on").fill_null(day)
    during = (
        placements.select("placement_id", "claim_id", "agency_id", "placed_on", "recalled_on")
        .join(payments.select("claim_id", "event_date", "amount", "source"), on="claim_id")
        .filter((pl.col("event_date") >= pl.col("placed_on")) & (pl.col("event_date") <= end))
        .filter(pl.col("agency_id").is_null() | (pl.col("source") == pl.col("agency_id")))
        .group_by("placement_id")
        .agg(paid=pl.col("amount").sum())
    )
    return placements.join(during, on="placement_id", how="left").with_columns(pl.col("paid").fill_null(0))


def commission_bp(agencies: pl.DataFrame) -> pl.Expr:
    """The commission rate of each placement (its agency's tiers by days past due at placement)."""
    expr = pl.col("commission_bp").fill_null(0)
    tiers = {r["agency_id"]: r["commission_tiers"] for r in agencies.iter_rows(named=True) if r["commission_tiers"]}
    for agency, rows in tiers.items():
        tiered = None
        for start, bp in sorted(rows, reverse=True):
            cond = pl.col("days_past_due").fill_null(0) >= start
            tiered = pl.when(cond).then(pl.lit(bp)) if tiered is None else tiered.when(cond).then(pl.lit(bp))
        if tiered is not None:
            expr = pl.when(pl.col("agency_id") == agency).then(tiered.otherwise(expr)).otherwise(expr)
    return expr


def with_commission(
    placements: pl.DataFrame, payments: pl.DataFrame, agencies: pl.DataFrame, day: date
) -> pl.DataFrame:
    """``placements`` with ``paid`` and ``commission`` (grosz, half up)."""
    rates = agencies.select("agency_id", "commission_bp")
    out = paid_during(placements, payments, day).join(rates, on="agency_id", how="left")
    out = out.with_columns(rate_bp=commission_bp(agencies).cast(pl.Int64))
    return out.with_columns(commission=(pl.col("paid") * pl.col("rate_bp") + 5_000) // 10_000).drop("commission_bp")


def performance(placements: pl.DataFrame, payments: pl.DataFrame, day: date, days: int) -> dict[str, float]:
    """Per agency: recovery per placed zloty over the last ``days`` days (payments from the agency
    during its placements in the window / balance at placement of those placements)."""
    since = day - timedelta(days=days)
    window = placements.filter(
        pl.col("agency_id").is_not_null()
        & (pl.col("placed_on") <= day)
        & (pl.col("recalled_on").is_null() | (pl.col("recalled_on") > since))
    )
    if window.height == 0:
        return {}
    paid = paid_during(window, payments.filter(pl.col("event_date") > since), day)
    per = paid.group_by("agency_id").agg(paid=pl.col("paid").sum(), placed=pl.col("balance").fill_null(0).sum())
    return {r["agency_id"]: (r["paid"] / r["placed"] if r["placed"] else 0.0) for r in per.iter_rows(named=True)}


def sides(placements: pl.DataFrame, payments: pl.DataFrame, champion: str, challenger: str, day: date) -> list[dict]:
    """Champion and challenger side by side: placements, balance placed, paid during, recovery rate."""
    paid = paid_during(placements.filter(pl.col("strategy_hash").is_in([champion, challenger])), payments, day)
    rows = []
    for side, digest in (("champion", champion), ("challenger", challenger)):
        mine = paid.filter(pl.col("strategy_hash") == digest)
        placed = int(mine["balance"].fill_null(0).sum())
        got = int(mine["paid"].sum())
        rows.append(
            {
                "side": side,
                "strategy": digest,
                "placed": mine.height,
                "balance": placed,
                "paid": got,
                "recovery_rate": got / placed if placed else 0.0,
            }
        )
    return rows
