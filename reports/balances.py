"""A portfolio's balances as of its claim_state's day: by bucket (costs, interest, principal: what a
payment goes to, art. 451 § 1 KC), by limitation status, and by days past due.

Limitation status, from claim_state's ``time_barred`` and ``limitation_date`` (docs/engine.md):
``time_barred``; ``within_90_days``, ``within_180_days``, ``within_365_days`` (not time-barred, the
limitation ends in at most that many days: each includes the shorter ones, as the question "what
expires within 180 days" does); ``later``; ``no_date`` (not time-barred and no end computed: the
run is suspended by pending proceedings). ``bands`` are the disjoint ranges (for a chart).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from engine.domain import Bucket

STATE_SCHEMA = {
    "claim_id": pl.Int64,
    "principal_due": pl.Int64,
    "interest_due": pl.Int64,
    "costs_due": pl.Int64,
    "total_due": pl.Int64,
    "interest_time_barred": pl.Int64,
    "limitation_date": pl.Date,
    "time_barred": pl.Boolean,
    "days_past_due": pl.Int32,
}
WITHIN = (90, 180, 365)
#: days past due bands (lower bound in days, label)
DPD_BANDS = (
    (0, "up to 1 year"),
    (366, "1-3 years"),
    (1096, "3-5 years"),
    (1826, "5-10 years"),
    (3653, "over 10 years"),
)


def _sums(frame: pl.DataFrame) -> dict:
    row = frame.select(
        claims=pl.len(),
        total_due=pl.col("total_due").sum(),
        principal_due=pl.col("principal_due").sum(),
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def by_bucket(state: pl.DataFrame) -> dict:
    """Claims and the sums of every bucket and of the total due."""
    sums = state.select(
        pl.len().alias("claims"),
        *(pl.col(f"{b.value}_due").sum() for b in Bucket),
        pl.col("total_due").sum(),
        pl.col("interest_time_barred").fill_null(0).sum(),
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in sums.items()}


def by_limitation(state: pl.DataFrame, as_of: date) -> dict:
    """Claims, total due and principal due by limitation status (see the module)."""
    days_left = (pl.col("limitation_date") - pl.lit(as_of)).dt.total_days()
    open_ = state.filter(~pl.col("time_barred"))
    status = {"time_barred": _sums(state.filter(pl.col("time_barred")))}
    for days in WITHIN:
        status[f"within_{days}_days"] = _sums(
            open_.filter(pl.col("limitation_date").is_not_null() & (days_left <= days))
        )
    status["later"] = _sums(open_.filter(days_left > WITHIN[-1]))
    status["no_date"] = _sums(open_.filter(pl.col("limitation_date").is_null()))
    bands, low = [], None
    for high in WITHIN:
        ends = pl.col("limitation_date").is_not_null() & (days_left <= high)
        part = open_.filter(ends if low is None else ends & (days_left > low))
        bands.append({"band": f"{0 if low is None else low + 1}-{high} days"} | _sums(part))
        low = high
    status["bands"] = [{"band": "time-barred"} | status["time_barred"], *bands]
    status["bands"].append({"band": f"over {WITHIN[-1]} days"} | status["later"])
    status["bands"].append({"band": "no date (suspended)"} | status["no_date"])
    return status


def by_days_past_due(state: pl.DataFrame) -> list[dict]:
    """Claims and balances by days past due (``DPD_BANDS``)."""
    bounds = [low for low, _ in DPD_BANDS]
    rows = []
    for i, (low, label) in enumerate(DPD_BANDS):
        cond = pl.col("days_past_due") >= low
        if i + 1 < len(bounds):
            cond &= pl.col("days_past_due") < bounds[i + 1]
        rows.append({"band": label} | _sums(state.filter(cond)))
    return rows
