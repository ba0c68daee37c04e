"""A payment to a debtor split over the debtor's open claims by a rule (``SplitRule``), as one
set-based step over every line of a statement at once.

The lines of one debtor are taken in the order they were booked, as one stream of money: a line
takes up the balances that the lines before it left. With ``oldest_due_first`` and
``largest_balance_first`` the claims are laid end to end in the rule's order, each as long as its
balance, and a line pays the stretch of that row its money covers; money beyond the debtor's whole
balance goes to the last claim in the order (the engine shows it as ``overpaid``). ``proportional``
gives each claim its share of the line by its balance (shares floored to the grosz, the grosz left
over to the largest remainders), up to the balances; the excess again to the last claim.

The parts of a line always add up to its amount: checked here, before anything is written.
"""

from __future__ import annotations

import polars as pl

from engine.domain import SplitRule

PART_SCHEMA = {"position": pl.Int64(), "claim_id": pl.Int64(), "amount": pl.Int64()}
#: money beyond every balance: the last claim's stretch has no end
_OPEN_END = 2**62


def split(payments: pl.DataFrame, claims: pl.DataFrame, rule: SplitRule) -> pl.DataFrame:
    """``payments`` (position, group, amount, booking_date): the lines to split, each over the claims
    of its ``group`` (a debtor, or the claims a title named); ``claims`` (group, claim_id, due_date,
    balance >= 0) -> the parts (position, claim_id, amount > 0), every line's parts summing to its
    amount. A group must have claims."""
    col = pl.col
    if payments.height == 0:
        return pl.DataFrame(schema=PART_SCHEMA)
    order = {
        SplitRule.OLDEST_DUE_FIRST: (["due_date", "claim_id"], [False, False]),
        SplitRule.LARGEST_BALANCE_FIRST: (["balance", "due_date", "claim_id"], [True, False, False]),
        SplitRule.PROPORTIONAL: (["due_date", "claim_id"], [False, False]),
    }[rule]
    ranked = (
        claims.sort(["group", *order[0]], descending=[False, *order[1]])
        .with_columns(balance=col("balance").clip(lower_bound=0))
        .with_columns(
            start=col("balance").cum_sum().over("group") - col("balance"),
            last=pl.int_range(pl.len()).over("group") == pl.len().over("group") - 1,
        )
        .with_columns(end=pl.when(col("last")).then(pl.lit(_OPEN_END)).otherwise(col("start") + col("balance")))
    )
    if rule is SplitRule.PROPORTIONAL:
        parts = _proportional(payments, ranked)
    else:
        stream = payments.sort("group", "booking_date", "position").with_columns(
            paid_before=col("amount").cum_sum().over("group") - col("amount")
        )
        parts = (
            stream.join(ranked, on="group")
            .with_columns(
                amount=(
                    pl.min_horizontal(col("paid_before") + col("amount"), col("end"))
                    - pl.max_horizontal(col("paid_before"), col("start"))
                ).clip(lower_bound=0)
            )
            .select("position", "claim_id", "amount")
        )
    parts = parts.filter(col("amount") > 0).sort("position", "claim_id")
    _check_sums(payments, parts)
    return parts.select(pl.col(c).cast(t) for c, t in PART_SCHEMA.items())


def _proportional(payments: pl.DataFrame, ranked: pl.DataFrame) -> pl.DataFrame:
    col = pl.col
    total = ranked.group_by("group").agg(total=col("balance").sum())
    joined = (
        payments.select("position", "group", col("amount").alias("paid"))
        .join(ranked, on="group")
        .join(total, on="group")
    )
    within = pl.min_horizontal(col("paid"), col("total"))
    joined = joined.with_columns(
        share=pl.when(col("total") > 0).then(within * col("balance") // col("total")).otherwise(0),
        remainder=pl.when(col("total") > 0).then(within * col("balance") % col("total")).otherwise(0),
    )
    joined = joined.with_columns(
        left=(within - col("share").sum().over("position")),
        rank=col("remainder").rank("ordinal", descending=True).over("position"),
    )
    return joined.select(
        "position",
        "claim_id",
        amount=col("share")
        + (col("rank") <= col("left")).cast(pl.Int64)
        + pl.when(col("last")).then(col("paid") - within).otherwise(0),
    )


def _check_sums(payments: pl.DataFrame, parts: pl.DataFrame) -> None:
    sums = parts.group_by("position").agg(pl.col("amount").sum().alias("parts"))
    off = payments.join(sums, on="position", how="left").filter(pl.col("parts").fill_null(0) != pl.col("amount"))
    if off.height:
        raise RuntimeError(f"a split does not add up for lines {off['position'].head(5).to_list()}: a bug")
