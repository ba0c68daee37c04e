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
#: the disjoint limitation bands, in order: (key, label for people)
BANDS = (
    ("time_barred", "time-barred"),
    ("0-90", "0-90 days"),
    ("91-180", "91-180 days"),
    ("181-365", "181-365 days"),
    ("later", "over 365 days"),
    ("no_date", "no date (suspended)"),
)
#: days past due bands (lower bound in days, label)
DPD_BANDS = (
    (0, "up to 1 year"),
    (366, "1-3 years"),
    (1096, "3-5 years"),
    (1826, "5-10 years"),
    (3653, "over 10 years"),
)
MONEY = ("principal_due", "interest_due", "costs_due", "total_due", "interest_time_barred")
#: the state summed by limitation band and by days-past-due band (``grouped``; the store sums it alike)
GROUPED_SCHEMA = {"band": pl.String, "dpd_band": pl.String, "claims": pl.Int64} | {m: pl.Int64 for m in MONEY}


def band_of(days_left: pl.Expr) -> pl.Expr:
    """The limitation band of each row (``time_barred`` and ``limitation_date`` columns)."""
    expr = pl.when(pl.col("time_barred")).then(pl.lit("time_barred"))
    expr = expr.when(pl.col("limitation_date").is_null()).then(pl.lit("no_date"))
    for (key, _), days in zip(BANDS[1:4], WITHIN, strict=True):
        expr = expr.when(days_left <= days).then(pl.lit(key))
    return expr.otherwise(pl.lit("later"))


def dpd_band_of(days: pl.Expr) -> pl.Expr:
    expr = None
    for low, label in reversed(DPD_BANDS):
        expr = (pl.when(days >= low) if expr is None else expr.when(days >= low)).then(pl.lit(label))
    return expr.otherwise(pl.lit(DPD_BANDS[0][1]))


#: the other band of a row summed by one band only (``grouped``)
ANY = "*"


def grouped(state: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """claim_state (STATE_SCHEMA) summed by limitation band (rows whose ``dpd_band`` is ``ANY``)
    and by days-past-due band (rows whose ``band`` is ``ANY``)."""
    days_left = (pl.col("limitation_date") - pl.lit(as_of)).dt.total_days()
    banded = state.with_columns(band=band_of(days_left), dpd_band=dpd_band_of(pl.col("days_past_due")))
    sums = (pl.len().cast(pl.Int64).alias("claims"), *(pl.col(m).fill_null(0).sum() for m in MONEY))
    return pl.concat(
        [
            banded.group_by("band").agg(*sums).with_columns(dpd_band=pl.lit(ANY)),
            banded.group_by("dpd_band").agg(*sums).with_columns(band=pl.lit(ANY)),
        ],
        how="diagonal",
    ).select(pl.col(c).cast(t) for c, t in GROUPED_SCHEMA.items())


def from_sums(row: dict) -> pl.DataFrame:
    """``grouped``'s frame from one row of sums named ``b<i>_<measure>`` (limitation band i of
    BANDS) and ``d<i>_<measure>`` (days-past-due band i of DPD_BANDS), measures claims and MONEY."""
    rows = [
        {"band": key, "dpd_band": ANY} | {m: int(row[f"b{i}_{m}"] or 0) for m in ("claims", *MONEY)}
        for i, (key, _) in enumerate(BANDS)
    ] + [
        {"band": ANY, "dpd_band": label} | {m: int(row[f"d{i}_{m}"] or 0) for m in ("claims", *MONEY)}
        for i, (_, label) in enumerate(DPD_BANDS)
    ]
    return pl.DataFrame(rows, schema=GROUPED_SCHEMA)


def _sums(frame: pl.DataFrame) -> dict:
    return {
        "claims": int(frame["claims"].sum() or 0),
        "total_due": int(frame["total_due"].sum() or 0),
        "principal_due": int(frame["principal_due"].sum() or 0),
    }


def by_bucket(groups: pl.DataFrame) -> dict:
    """Claims and the sums of every bucket, of the total due and of the time-barred interest."""
    groups = groups.filter(pl.col("band") != ANY)
    return {"claims": int(groups["claims"].sum() or 0)} | {
        m: int(groups[m].sum() or 0) for m in (*(f"{b.value}_due" for b in Bucket), "total_due", "interest_time_barred")
    }


def by_limitation(groups: pl.DataFrame) -> dict:
    """Claims, total due and principal due by limitation status (see the module), and the bands."""
    status = {"time_barred": _sums(groups.filter(pl.col("band") == "time_barred"))}
    for i, days in enumerate(WITHIN):
        keys = [key for key, _ in BANDS[1 : i + 2]]
        status[f"within_{days}_days"] = _sums(groups.filter(pl.col("band").is_in(keys)))
    status["later"] = _sums(groups.filter(pl.col("band") == "later"))
    status["no_date"] = _sums(groups.filter(pl.col("band") == "no_date"))
    status["bands"] = [{"band": label} | _sums(groups.filter(pl.col("band") == key)) for key, label in BANDS]
    return status


def by_days_past_due(groups: pl.DataFrame) -> list[dict]:
    """Claims and balances by days past due (``DPD_BANDS``)."""
    return [{"band": label} | _sums(groups.filter(pl.col("dpd_band") == label)) for _, label in DPD_BANDS]
