"""Recovery scores per segment, learned from the store's own history, smoothed toward the book.

For a reference day R (90 days before the day of the state), each claim is put in its segment as
of R (``features.claim_frame(inputs, R)``) and its outcome is read from the payments in (R, R+90]:
whether it paid anything, and how much per zloty of its balance at R. Per segment:

- ``pay_share``: the share of its claims that paid anything;
- ``recovery``: the amount recovered per zloty of balance (recovered / balance at R);

each smoothed toward the book's value by Bühlmann-Straub credibility (docs/allocation.md): a
segment's own value gets the weight Z = W / (W + k), the book's 1 - Z, where W is the segment's
weight (claims for the share, zloty of balance for the recovery) and k = v / a, with v the expected
variance within segments and a the variance between segments' true values, both estimated from
the same data (an empirical-Bayes estimate: no prior is chosen by hand). A segment of a few claims
scores near the book; a large one scores by its own record. When the segments differ no more
than chance would make them (a <= 0), every segment scores the book's value.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from allocation.features import Inputs, claim_frame_lazy
from engine.domain import PAYMENTS_HORIZON_DAYS

#: the store keeps each claim's payments over this horizon (engine.store.models.ClaimPayments)
HORIZON_DAYS = PAYMENTS_HORIZON_DAYS


def outcomes(inputs: Inputs, segmented_at: pl.DataFrame, day: date, horizon: int = HORIZON_DAYS) -> pl.DataFrame:
    """Per claim of ``segmented_at`` (claim_id, segment, balance as of ``day``): whether it paid in
    (day, day + horizon] and how much."""
    end = day + timedelta(days=horizon)
    kept = inputs.paid_since(day) if end == inputs.as_of else None
    if kept is not None:  # what the run kept: paid in (day, as_of], in the rows of the joined frame
        if not segmented_at["claim_id"].equals(inputs.joined()["claim_id"]):
            raise ValueError("outcomes: the segmented frame is not in the joined frame's rows")
        observed = segmented_at.lazy().select("claim_id", "segment", "balance").with_columns(recovered=kept)
    else:
        paid = (
            inputs.payments.lazy()
            .filter((pl.col("event_date") > day) & (pl.col("event_date") <= end))
            .group_by("claim_id")
            .agg(recovered=pl.col("amount").sum())
        )
        observed = (
            segmented_at.lazy()
            .select("claim_id", "segment", "balance")
            .join(paid, on="claim_id", how="left")
            .with_columns(recovered=pl.col("recovered").fill_null(0))
        )
    return (
        observed.with_columns(paid=(pl.col("recovered") > 0).cast(pl.Float64)).filter(pl.col("balance") > 0).collect()
    )


def by_segment(segments: pl.Series, values: pl.Series) -> pl.Expr:
    """Each row's value of its ``segment`` (an Enum column): ``values`` beside ``segments`` (unique,
    of that Enum), null for a segment not among them. A gather by the Enum's code, not a lookup
    of each row's name (at 10M rows ~0.01 s against ~1 s)."""
    categories = segments.dtype.categories
    table = pl.Series(values.name, [None] * categories.len(), dtype=values.dtype)
    if segments.len():
        table = table.scatter(segments.to_physical(), values)
    return pl.lit(table).gather(pl.col("segment").to_physical())


def segments_as_enum(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its ``segment`` an Enum (as a strategy's segments are; otherwise of the names in it)."""
    if isinstance(frame.schema["segment"], pl.Enum):
        return frame
    names = frame["segment"].cast(pl.String).unique().drop_nulls().sort()
    return frame.with_columns(pl.col("segment").cast(pl.String).cast(pl.Enum(names)))


def credibility(frame: pl.DataFrame, x: str, w: str, prefix: str) -> pl.DataFrame:
    """Bühlmann-Straub per segment (an Enum column) of observations ``x`` with weights ``w``: the
    raw segment mean ``{prefix}_raw``, the credibility ``{prefix}_z`` and the smoothed ``{prefix}``."""
    frame = segments_as_enum(frame)
    groups = frame.group_by("segment").agg(n=pl.len(), W=pl.col(w).sum(), XW=(pl.col(x) * pl.col(w)).sum())
    return _smoothed(groups, frame.select(_within(x, w, groups)).item(), prefix)


def _within(x: str, w: str, groups: pl.DataFrame) -> pl.Expr:
    """The weighted sum of squares of ``x`` about its segment's mean (``groups``: segment, W, XW)."""
    return (pl.col(w) * (pl.col(x) - by_segment(groups["segment"], groups["XW"] / groups["W"])) ** 2).sum()


def _smoothed(groups: pl.DataFrame, within: float, prefix: str) -> pl.DataFrame:
    """``credibility`` from each segment's count ``n``, weight ``W`` and weighted sum ``XW``, and the
    weighted sum of squares within the segments."""
    groups = groups.select("segment", "n", "W", X=pl.col("XW") / pl.col("W"))
    total_w = groups["W"].sum()
    book = float((groups["W"] * groups["X"]).sum() / total_w) if total_w else 0.0
    dof = int((groups["n"] - 1).clip(lower_bound=0).sum())
    v = within / dof if dof else 0.0
    m = groups.height
    spread = float((groups["W"] * (groups["X"] - book) ** 2).sum()) if m else 0.0
    denominator = total_w - float((groups["W"] ** 2).sum()) / total_w if total_w else 0.0
    a = (spread - v * (m - 1)) / denominator if denominator > 0 else 0.0
    if a <= 0:
        z = pl.lit(0.0)
    elif v <= 0:
        z = pl.lit(1.0)
    else:
        z = pl.col("W") / (pl.col("W") + v / a)
    return groups.select(
        "segment",
        pl.col("X").alias(f"{prefix}_raw"),
        z.alias(f"{prefix}_z"),
        (z * pl.col("X") + (1 - z) * book).alias(prefix),
    ).with_columns(pl.lit(book).alias(f"{prefix}_book"))


def learn(observed: pl.DataFrame) -> pl.DataFrame:
    """Per segment: claims, balance, payers, recovered, and the smoothed pay_share and recovery
    (``credibility`` of whether a claim paid, each claim weighing one, and of what it paid per
    zloty, weighed by its balance): every sum in one pass over the claims, and one more for both
    sums of squares."""
    if observed.height == 0:
        return pl.DataFrame(
            schema={
                "segment": pl.String,
                "claims": pl.UInt32,
                "balance": pl.Int64,
                "payers": pl.Int64,
                "recovered": pl.Int64,
                "pay_share": pl.Float64,
                "recovery": pl.Float64,
            }
        )
    observed = segments_as_enum(observed).with_columns(one=pl.lit(1.0), ratio=pl.col("recovered") / pl.col("balance"))
    sums = observed.group_by("segment").agg(
        claims=pl.len(),
        balance=pl.col("balance").sum(),
        payers=pl.col("paid").sum().cast(pl.Int64),
        recovered=pl.col("recovered").sum(),
        W_share=pl.col("one").sum(),
        XW_share=(pl.col("paid") * pl.col("one")).sum(),
        XW_recovery=(pl.col("ratio") * pl.col("balance")).sum(),
    )
    share = sums.select("segment", n="claims", W="W_share", XW="XW_share")
    recovery = sums.select("segment", n="claims", W="balance", XW="XW_recovery")
    within = observed.select(share=_within("paid", "one", share), recovery=_within("ratio", "balance", recovery)).row(0)
    learned = (
        sums.select("segment", "claims", "balance", "payers", "recovered")
        .join(_smoothed(share, within[0], "pay_share"), on="segment")
        .join(_smoothed(recovery, within[1], "recovery"), on="segment")
    )
    return learned.with_columns(pl.col("segment").cast(pl.String)).sort("segment")


def segmented_at(inputs: Inputs, segment_of, day: date) -> pl.DataFrame:
    """claim_id, segment and balance of every claim as of ``day`` (only what the segments read is
    computed: the claim frame stays lazy until then)."""
    return segment_of(claim_frame_lazy(inputs, day), day).select("claim_id", "segment", "balance").collect()


def scores_as_of(inputs: Inputs, segment_of, day: date) -> tuple[pl.DataFrame, dict[str, float]]:
    """The segment scores learned on the latest whole horizon before ``day``: (per segment, book
    values). ``segment_of(frame, day)`` gives each claim its segment as of a day."""
    reference = day - timedelta(days=HORIZON_DAYS)
    learned = learn(outcomes(inputs, segmented_at(inputs, segment_of, reference), reference))
    book = {"pay_share": 0.0, "recovery": 0.0}
    if learned.height:
        book = {"pay_share": learned["pay_share_book"][0], "recovery": learned["recovery_book"][0]}
    return learned, book


def calibration(inputs: Inputs, segment_of, day: date) -> pl.DataFrame:
    """How well last quarter's scores predicted this quarter: the scores learned on the horizon
    ending 90 days before ``day``, applied to the segments as of that day, against what the claims
    then paid by ``day``. Per segment: claims, predicted and actual pay share and recovery."""
    reference = day - timedelta(days=HORIZON_DAYS)
    learned, book = scores_as_of(inputs, segment_of, reference)
    actual = outcomes(inputs, segmented_at(inputs, segment_of, reference), reference)
    per = (
        actual.group_by("segment")
        .agg(
            claims=pl.len(),
            balance=pl.col("balance").sum(),
            actual_pay_share=pl.col("paid").mean(),
            actual_recovery=pl.col("recovered").sum() / pl.col("balance").sum(),
        )
        .with_columns(pl.col("segment").cast(pl.String))
    )
    predicted = learned.select("segment", predicted_pay_share="pay_share", predicted_recovery="recovery")
    return (
        per.join(predicted, on="segment", how="left")
        .with_columns(
            pl.col("predicted_pay_share").fill_null(book["pay_share"]),
            pl.col("predicted_recovery").fill_null(book["recovery"]),
        )
        .sort("segment")
    )
