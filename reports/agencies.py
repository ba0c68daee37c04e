"""Placements and what they brought, per agency and per the purchaser's own queues.

A payment counts for a placement as allocation counts it (``allocation.results``): made while the
placement was open (placed_on .. recalled_on, or the as-of day), and for an agency's placement only
when its ``source`` is that agency. Recovery per placed zloty: collected during the placements /
the balances at placement. Commission: the agency's rate or tier on what it collected.

``kept_promise_rate`` (promises to pay kept, per agency) is the promises' issue's figure: the
column is here, empty (None), until the promises are stored; ``promise_rates`` is where it joins.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from allocation.results import with_commission

PLACEMENT_SCHEMA = {
    "placement_id": pl.Int64,
    "claim_id": pl.Int64,
    "agency_id": pl.String,
    "queue": pl.String,
    "placed_on": pl.Date,
    "recalled_on": pl.Date,
    "balance": pl.Int64,
    "days_past_due": pl.Int32,
}
SOURCED_PAYMENT_SCHEMA = {"claim_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64, "source": pl.String}


def promise_rates(placements: pl.DataFrame, as_of: date) -> dict[str, float]:
    """Kept-promise rate per agency: not stored yet (the promises' issue fills this in)."""
    return {}


def performance(placements: pl.DataFrame, payments: pl.DataFrame, agencies: pl.DataFrame, as_of: date) -> list[dict]:
    """One row per agency (then per own queue): placements, open now, balance placed, collected
    during the placements, recovery per placed zloty, commission, net of commission, and the
    kept-promise rate (None until promises are stored)."""
    placed = placements.filter(pl.col("placed_on") <= as_of).with_columns(
        pl.when(pl.col("recalled_on") > as_of).then(None).otherwise(pl.col("recalled_on")).alias("recalled_on")
    )
    if placed.height == 0:
        return []
    paid = with_commission(placed, payments, agencies, as_of)
    names = dict(zip(agencies["agency_id"].to_list(), agencies["name"].to_list(), strict=True))
    kept = promise_rates(placed, as_of)
    per = (
        paid.with_columns(who=pl.coalesce("agency_id", pl.lit("queue:") + pl.col("queue")))
        .group_by("who")
        .agg(
            placements=pl.len(),
            open=pl.col("recalled_on").is_null().sum(),
            balance_placed=pl.col("balance").fill_null(0).sum(),
            collected=pl.col("paid").sum(),
            commission=pl.col("commission").sum(),
            agency=pl.col("agency_id").first(),
            queue=pl.col("queue").first(),
        )
        .sort(pl.col("agency").is_null(), "who")
    )
    rows = []
    for r in per.iter_rows(named=True):  # agencies and queues: a handful of rows
        placed_balance, collected, commission = int(r["balance_placed"]), int(r["collected"]), int(r["commission"])
        rows.append(
            {
                "agency_id": r["agency"],
                "queue": r["queue"],
                "name": names.get(r["agency"]) if r["agency"] else f"own queue: {r['queue']}",
                "placements": int(r["placements"]),
                "open": int(r["open"]),
                "balance_placed": placed_balance,
                "collected": collected,
                "recovery_per_placed_zloty": collected / placed_balance if placed_balance else None,
                "commission": commission,
                "net": collected - commission,
                "kept_promise_rate": kept.get(r["agency"]) if r["agency"] else None,
            }
        )
    return rows
