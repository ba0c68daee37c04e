"""Every claim, one decision: the allocation of a day, as frames in and frames out (no store).

In this order, for every claim of the state:

1. **holds no rule overrides**: a debtor flagged deceased, bankrupt, disputed or gdpr_restricted
   holds the claim (its open placement is recalled);
2. **lifecycle** of open placements: recalled when a hold appears, when nothing is owed, when the
   agency was deactivated, after ``recall_after_days`` without a payment (agency and reminder
   queues), or at the end of the agency's term; a placement not recalled is kept (``keep``);
3. **champion/challenger**: in the challenger's segments, a claim whose ``split_hash(claim_id,
   seed)`` is below the share is decided by the challenger strategy;
4. **rules**: the first rule of its strategy that matches decides. A legal rule matches only
   claims that are not time-barred consumer claims (art. 117 § 2¹ KC), whose balance × score
   exceeds the legal costs by the margin, and (enforcement) that have a title; ``epu`` becomes
   ``court`` for a claim due more than 3 years before the filing day (art. 505²⁹ᵃ KPC) or whose
   debtor has no valid PESEL/NIP. No rule: ``leave``;
5. **legal queues** are ordered: limitation-window claims first, by limitation date, then by
   balance; a rule's ``daily_limit`` takes the first ones (the rest: ``leave``, queue full);
6. **pools**: ``allocation.pool.assign`` places claims by priority within capacity (the rest:
   ``leave``, pool full).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from dateutil.relativedelta import relativedelta

from allocation import pool as pools
from allocation.errors import AgencyError
from allocation.features import Inputs, claim_frame_lazy, rows_of, spread
from allocation.fees import legal_costs
from allocation.predicates import limitation_status
from allocation.scores import by_segment, scores_as_of
from allocation.strategy import Rule, Strategy
from engine.domain import HOLDING_FLAGS, ActionKind, PlacementQueue, RecallReason

#: EPU takes claims that became due within this many years before the filing day (art. 505²⁹ᵃ KPC)
EPU_YEARS = 3
CHAMPION, CHALLENGER = "champion", "challenger"
#: a claim's side of the split (an Enum: a 10M-row column of one string literal made categorical takes ~0.3 s)
SIDES = pl.Enum([CHAMPION, CHALLENGER])

#: the names are categorical: a few distinct values over millions of claims (a strategy's hash as a
#: string would take 80 bytes a claim)
DECISION_SCHEMA = {
    "claim_id": pl.Int64,
    "segment": pl.Categorical,
    "score": pl.Float64,
    "recovery": pl.Float64,
    "side": pl.Categorical,
    "strategy": pl.Categorical,
    "rule": pl.Categorical,
    "action": pl.Categorical,
    "agency_id": pl.Categorical,
    "queue": pl.Categorical,
    "reason": pl.Categorical,
    "priority": pl.Int64,
    "balance": pl.Int64,
    "days_past_due": pl.Int32,
}
#: the claim frame's columns deciding reads once each claim's rule is found (the legal order and
#: the pools: the others only the segments and rules read)
DECIDING_COLUMNS = (
    "claim_id",
    "segment",
    "score",
    "recovery",
    "side",
    "hold",
    "epu_allowed",
    "balance",
    "days_past_due",
    "limitation",
    "limitation_date",
    "postal_code",
    "debtor_kind",
)
OPEN_SCHEMA = {
    "placement_id": pl.Int64,
    "claim_id": pl.Int64,
    "agency_id": pl.String,
    "queue": pl.String,
    "placed_on": pl.Date,
    "balance": pl.Int64,
}
RECALLED_SCHEMA = {"claim_id": pl.Int64, "agency_id": pl.String, "recalled_on": pl.Date}
AGENCY_SCHEMA = {
    "agency_id": pl.String,
    "active": pl.Boolean,
    "capacity": pl.Int64,
    "capacity_balance": pl.Int64,
    "regions": pl.List(pl.String),
    "debtor_kinds": pl.List(pl.String),
    "balance_min": pl.Int64,
    "balance_max": pl.Int64,
    "term_days": pl.Int64,
}


@dataclass(frozen=True)
class Book:
    """What a decision needs besides the strategy: the claims' inputs, the open placements, the
    recalls within the no-replacement period, the agencies and their measured performance."""

    inputs: Inputs
    open_placements: pl.DataFrame  # OPEN_SCHEMA
    recalled: pl.DataFrame  # RECALLED_SCHEMA
    agencies: pl.DataFrame  # AGENCY_SCHEMA
    performance: dict[str, float]  # agency_id -> recovery per placed zloty (by-performance pools)


@dataclass(frozen=True)
class Allocation:
    """A day's allocation: a decision per claim, the placements it recalls and those it opens."""

    day: date
    strategy: Strategy
    decisions: pl.DataFrame  # DECISION_SCHEMA, one row per claim
    recalls: pl.DataFrame  # placement_id, claim_id, agency_id, queue, recall_reason
    placements: pl.DataFrame  # claim_id, agency_id, queue, placed_on, strategy, rule, priority, balance, days_past_due
    #: the claim frame with segment, score and the columns rules read (for explain; None unless kept)
    frame: pl.DataFrame | None
    warnings: tuple[str, ...] = ()
    stale_fee_tables: tuple[str, ...] = ()


def joined_left(frame: pl.DataFrame, other: pl.DataFrame, on: str) -> pl.DataFrame:
    """``frame`` with the columns of ``other`` (unique on the integer key ``on``) where the keys
    match, null elsewhere: a left join that gathers only ``other``'s columns into ``frame``'s rows
    (``features.rows_of``); ``frame``'s own (the wide claim frame) are kept as they are."""
    rows = rows_of(frame[on], other[on])
    return frame.with_columns(other.drop(on).select(pl.all().gather(rows)))


def segmented(strategy: Strategy):
    def segment_of(frame: pl.DataFrame, day: date) -> pl.DataFrame:
        return frame.with_columns(segment=strategy.segment_expr(day))

    return segment_of


def scored_frame(book: Book, strategy: Strategy, day: date) -> pl.DataFrame:
    """The claim frame as of ``day`` with segment, score (pay share) and recovery per zloty, the
    hold, the legal facts (EPU allowed, costs of each queue) and the side of the split. The
    columns made of other columns are one lazy query (polars computes a repeated subexpression
    once there, and runs the columns side by side)."""
    segment_of = segmented(strategy)
    learned, book_values = scores_as_of(book.inputs, segment_of, day)
    if learned.height == 0 or learned["payers"].sum() == 0:  # no payment in the horizon: nothing to learn from
        learned = learned.clear()
        book_values = {
            "pay_share": strategy.settings.score_without_history,
            "recovery": strategy.settings.recovery_without_history,
        }
    learned_at = learned["segment"].cast(strategy.segment_enum)
    settings = strategy.settings
    epu_since = day - relativedelta(years=EPU_YEARS)
    frame = (
        segment_of(claim_frame_lazy(book.inputs, day), day)
        .with_columns(
            score=by_segment(learned_at, learned["pay_share"]).fill_null(book_values["pay_share"]),
            recovery=by_segment(learned_at, learned["recovery"]).fill_null(book_values["recovery"]),
            limitation=limitation_status(day, settings.limitation_window_days),
            epu_allowed=pl.col("national_id_ok") & (pl.col("due_date") >= epu_since),
        )
        .with_columns(
            time_barred_consumer=(pl.col("limitation") == "time_barred") & (pl.col("debtor_kind") == "consumer"),
        )
        .collect()
    )
    frame = frame.with_columns(hold=holds(frame["flags"]))
    costs = legal_costs(day)
    by_epu, in_court = costs.costs(frame["principal"], frame["epu_allowed"])
    frame = frame.with_columns(by_epu.alias("costs_epu"), in_court.alias("costs_court"))
    side = pl.lit(CHAMPION, dtype=SIDES)
    if strategy.challenger is not None:
        draw = pl.Series("draw", pools.split_hash(frame["claim_id"].to_numpy(), strategy.challenger_seed))
        in_split = (
            pl.lit(True)
            if strategy.challenger_segments is None
            else pl.col("segment").is_in(list(strategy.challenger_segments))
        )
        side = (
            pl.when(in_split & (draw < strategy.challenger_share)).then(pl.lit(CHALLENGER, dtype=SIDES)).otherwise(side)
        )
    return frame.with_columns(side=side), costs.stale


def holds(flags: pl.Series) -> pl.Series:
    """Each claim's hold no rule overrides: the first of HOLDING_FLAGS its debtor has, else null;
    categorical (4 bytes a claim, and what it meets stays categorical). Looked for only among the
    claims whose debtor has a flag (a few in a hundred: the lists of the others are not read)."""
    flagged = flags.list.len().fill_null(0) > 0
    rows = flagged.arg_true()
    found = (
        flags.gather(rows)
        .to_frame("flags")
        .select(
            pl.coalesce([pl.when(pl.col("flags").list.contains(f.value)).then(pl.lit(f.value)) for f in HOLDING_FLAGS])
            .cast(pl.Categorical)
            .alias("hold")
        )
        .to_series()
    )
    return spread(found, flagged)


def rule_conditions(rule: Rule, strategy: Strategy, day: date) -> dict[str, pl.Expr]:
    """Each condition of ``rule`` as a boolean expression, by name (explain shows them one by one)."""
    settings = strategy.settings
    found: dict[str, pl.Expr] = {}
    if rule.segment is not None:
        found["segment"] = pl.col("segment").is_in(rule.segment)
    found.update(rule.when.named(day, settings.limitation_window_days))
    if rule.action == ActionKind.LEGAL:
        found["not time-barred consumer (art. 117 § 2¹ KC)"] = ~pl.col("time_barred_consumer")
        costs = pl.col("costs_epu") if rule.queue == PlacementQueue.EPU else pl.col("costs_court")
        found["balance × score > costs × (1 + margin)"] = pl.col("balance").cast(pl.Float64) * pl.col(
            "score"
        ) > costs.cast(pl.Float64) * (1 + settings.legal_margin)
        if rule.queue == PlacementQueue.ENFORCEMENT:
            found["has a title"] = pl.col("title")
    return found


def rule_index(strategy: Strategy, day: date) -> pl.Expr:
    """The index of the first rule of ``strategy`` each claim matches (null: none)."""
    expr = None
    for i, rule in enumerate(strategy.rules):
        conditions = rule_conditions(rule, strategy, day)
        match = pl.all_horizontal(conditions.values()).fill_null(False) if conditions else pl.lit(True)
        expr = pl.when(match).then(pl.lit(i)) if expr is None else expr.when(match).then(pl.lit(i))
    return expr.otherwise(pl.lit(None)) if expr is not None else pl.lit(None)


def _rule_table(strategy: Strategy, side: str, first_pool: int) -> pl.DataFrame:
    """``side``'s rules, a row each: what a claim it decides is given. ``pool_row``: the rule's pool
    as its row in the weights ``_place_in_pools`` makes (the sides' pools one after the other,
    this side's from ``first_pool``, each in the strategy's order)."""
    pool_rows = {name: first_pool + i for i, name in enumerate(strategy.pools)}
    rows = [
        {
            "side": side,
            "rule_no": i,
            "rule": r.name,
            "action": r.action.value,
            "pool": f"{side}:{r.pool}" if r.pool else None,
            "pool_row": pool_rows[r.pool] if r.pool else None,
            "queue": r.queue.value if r.queue else None,
            "reason": r.reason.value if r.reason else None,
            "daily_limit": r.daily_limit,
        }
        for i, r in enumerate(strategy.rules)
    ]
    # categorical: gathered for every claim, 4 bytes a row where a string takes 16
    return pl.DataFrame(
        rows,
        schema={
            "side": pl.String,
            "rule_no": pl.Int32,
            "rule": pl.Categorical,
            "action": pl.Categorical,
            "pool": pl.Categorical,
            "pool_row": pl.Int64,
            "queue": pl.Categorical,
            "reason": pl.Categorical,
            "daily_limit": pl.Int64,
        },
    )


def _recalls(frame: pl.DataFrame, book: Book, strategy: Strategy, day: date) -> pl.DataFrame:
    """The open placements recalled today and why."""
    settings = strategy.settings
    agencies = book.agencies.select("agency_id", agency_active="active", term_days="term_days")
    quiet_since = day - timedelta(days=settings.recall_after_days)
    worked = pl.col("queue").is_in([PlacementQueue.AGENCY.value, PlacementQueue.REMINDER.value])
    last_activity = pl.max_horizontal(pl.col("placed_on"), pl.col("last_paid").fill_null(pl.col("placed_on")))
    reason = (
        pl.when(pl.col("hold").is_not_null())
        .then(pl.lit(f"{RecallReason.HOLD}:") + pl.col("hold").cast(pl.String))
        .when(pl.col("balance") <= 0)
        .then(pl.lit(RecallReason.PAID.value))
        .when(pl.col("agency_active").not_())
        .then(pl.lit(RecallReason.AGENCY_INACTIVE.value))
        .when(worked & (last_activity <= quiet_since))
        .then(pl.lit(RecallReason.NO_PAYMENT.value))
        .when(pl.col("term_days").is_not_null() & (pl.col("placed_on") + pl.duration(days=pl.col("term_days")) <= day))
        .then(pl.lit(RecallReason.END_OF_TERM.value))
    )
    open_ = book.open_placements.select("placement_id", "claim_id", "agency_id", "queue", "placed_on")
    rows = rows_of(open_["claim_id"], frame["claim_id"])
    return (
        open_.with_columns(frame.select(pl.col("hold", "balance", "last_paid").gather(rows)))
        # only the claims decided on (a portfolio's allocation leaves the others' placements alone)
        .filter(rows.is_not_null())
        .join(agencies, on="agency_id", how="left")
        .with_columns(pl.col("agency_active").fill_null(True))
        .with_columns(recall_reason=reason)
        .filter(pl.col("recall_reason").is_not_null())
        .select("placement_id", "claim_id", "agency_id", "queue", "recall_reason")
    )


def _eligible_bits(frame: pl.DataFrame, agencies: pl.DataFrame) -> pl.Expr:
    """A bit per agency (its row in ``agencies``) that may take each claim: active, its regions,
    debtor kinds and balance band."""
    bits = pl.lit(0, dtype=pl.Int64)
    for a, agency in enumerate(agencies.iter_rows(named=True)):
        ok = pl.lit(bool(agency["active"]))
        if agency["regions"]:
            ok = ok & pl.any_horizontal(
                pl.col("postal_code").fill_null("").str.starts_with(p) for p in agency["regions"]
            )
        if agency["debtor_kinds"]:
            ok = ok & pl.col("debtor_kind").is_in(agency["debtor_kinds"])
        if agency["balance_min"] is not None:
            ok = ok & (pl.col("balance") >= agency["balance_min"])
        if agency["balance_max"] is not None:
            ok = ok & (pl.col("balance") < agency["balance_max"])
        bits = bits | pl.when(ok).then(pl.lit(1 << a, dtype=pl.Int64)).otherwise(pl.lit(0, dtype=pl.Int64))
    return bits


def _pool_weights(strategy: Strategy, agencies: pl.DataFrame, performance: dict[str, float]) -> list[np.ndarray]:
    """The weights of each of ``strategy``'s pools (in its order) over ``agencies`` (a row each);
    an unknown agency is refused."""
    index = {a: i for i, a in enumerate(agencies["agency_id"].to_list())}
    rows = []
    for name, pool in strategy.pools.items():
        row = np.zeros(len(index))
        for agency, weight in pool.agencies.items():
            if agency not in index:
                raise AgencyError(
                    f"{strategy.path}: pools.{name}: agency {agency!r} is not in the store "
                    "(`cession agencies add` or `cession agencies load`)"
                )
            if pool.by == "performance":
                measured = [performance.get(a, 0.0) for a in pool.agencies]
                known = [m for m in measured if m > 0]
                floor = (min(known) / 2) if known else 1.0
                weight = max(performance.get(agency, 0.0), floor)
            row[index[agency]] = weight
        rows.append(row)
    return rows


def decide(book: Book, strategy: Strategy, day: date, *, keep_frame: bool = False) -> Allocation:
    """The allocation of ``day`` by ``strategy`` (and its challenger): see the module docstring.
    ``keep_frame``: keep the whole claim frame the decisions were made on (``Allocation.frame``)."""
    frame, stale = scored_frame(book, strategy, day)
    recalls = _recalls(frame, book, strategy, day)
    kept = book.open_placements.join(recalls.select("placement_id"), on="placement_id", how="anti")
    sides = [(CHAMPION, strategy)] + ([(CHALLENGER, strategy.challenger)] if strategy.challenger else [])
    # the first matching rule of each claim's side, as its row in the sides' rule tables one after the other
    first, offset = pl.lit(None, dtype=pl.Int64), 0
    for side, chosen in sides:
        first = pl.when(pl.col("side") == side).then(rule_index(chosen, day).cast(pl.Int64) + offset).otherwise(first)
        offset += len(chosen.rules)
    tables, first_pool = [], 0
    for side, chosen in sides:
        tables.append(_rule_table(chosen, side, first_pool))
        first_pool += len(chosen.pools)
    rules = pl.concat(tables).drop("side")
    # lazy: the rules' repeated conditions (a region, the legal costs test) are computed once
    rule_rows = frame.lazy().select(first).collect().to_series()
    if not keep_frame:  # the rules have read what they read: only what deciding still needs is kept
        frame = frame.select(DECIDING_COLUMNS)
    decided = joined_left(
        frame,
        kept.select(
            "claim_id",
            kept_agency=pl.col("agency_id").cast(pl.Categorical),
            kept_queue=pl.col("queue").cast(pl.Categorical),
        ),
        "claim_id",
    )
    del frame
    decided = decided.with_columns(rules.select(pl.all().gather(rule_rows)))
    decided = decided.with_columns(
        strategy=pl.when(pl.col("side") == CHALLENGER)
        .then(pl.lit(strategy.challenger.sha256 if strategy.challenger else None))
        .otherwise(pl.lit(strategy.sha256))
        .cast(pl.Categorical),
    )
    is_kept = pl.col("kept_queue").is_not_null()
    is_held = pl.col("hold").is_not_null()
    decided = decided.with_columns(
        action=pl.when(is_held)
        .then(pl.lit(ActionKind.HOLD.value))
        .when(is_kept)
        .then(pl.lit(ActionKind.KEEP.value))
        .otherwise(pl.col("action").fill_null(ActionKind.LEAVE.value)),
        rule=pl.when(is_held)
        .then(pl.lit("(hold)"))
        .when(is_kept)
        .then(pl.lit("(open placement)"))
        .otherwise(pl.col("rule").fill_null("(no rule)")),
        reason=pl.when(is_held).then(pl.col("hold")).when(is_kept).then(pl.lit(None)).otherwise(pl.col("reason")),
        agency_id=pl.when(is_kept & ~is_held).then(pl.col("kept_agency")),
        queue=pl.when(is_held)
        .then(pl.lit(None))
        .when(is_kept)
        .then(pl.col("kept_queue"))
        .when(pl.col("action") == ActionKind.REMINDER.value)
        .then(pl.lit(PlacementQueue.REMINDER.value))
        .when(pl.col("action") == ActionKind.PLACE.value)
        .then(pl.lit(PlacementQueue.AGENCY.value))
        .otherwise(pl.col("queue")),
    )
    # epu -> court where EPU cannot take the claim
    decided = decided.with_columns(
        queue=pl.when(
            (pl.col("action") == ActionKind.LEGAL.value)
            & (pl.col("queue") == PlacementQueue.EPU.value)
            & ~pl.col("epu_allowed")
        )
        .then(pl.lit(PlacementQueue.COURT.value))
        .otherwise(pl.col("queue")),
    )
    decided = _legal_order(decided)
    decided = _place_in_pools(decided, book, kept, recalls, sides, day)
    decisions = decided.select(*[pl.col(c).cast(t) for c, t in DECISION_SCHEMA.items()])
    if not decisions["claim_id"].is_sorted():
        decisions = decisions.sort("claim_id")
    opened = decisions.filter(pl.col("action").is_in([a.value for a in ActionKind if a.places])).select(
        "claim_id",
        pl.col("agency_id", "queue").cast(pl.String),
        pl.lit(day).alias("placed_on"),
        pl.col("strategy", "rule").cast(pl.String),
        "priority",
        "balance",
        "days_past_due",
    )
    warnings = strategy.warnings + (strategy.challenger.warnings if strategy.challenger else ())
    return Allocation(day, strategy, decisions, recalls, opened, decided if keep_frame else None, warnings, stale)


def _legal_order(decided: pl.DataFrame) -> pl.DataFrame:
    """Each legal queue in order (limitation-window claims first, by limitation date, then by
    balance); a rule's daily limit takes the first ones, the others are left (queue full)."""
    legal = (
        decided.select(
            "claim_id",
            "queue",
            "rule",
            "daily_limit",
            "limitation_date",
            "balance",
            _window=(pl.col("limitation") == "window").cast(pl.Int8),
            _legal=pl.col("action") == ActionKind.LEGAL.value,
        )
        .filter("_legal")
        .drop("_legal")
    )
    ordered = legal.sort(
        ["_window", "limitation_date", "balance", "claim_id"], descending=[True, False, True, False], nulls_last=True
    ).with_columns(
        _priority=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("queue"),
        _in_rule=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("rule"),
    )
    ordered = ordered.select(
        "claim_id",
        "_priority",
        _full=pl.col("daily_limit").is_not_null() & (pl.col("_in_rule") > pl.col("daily_limit")),
    )
    out = joined_left(decided, ordered, "claim_id")
    full = pl.col("_full").fill_null(False)
    return out.with_columns(
        action=pl.when(full).then(pl.lit(ActionKind.LEAVE.value)).otherwise(pl.col("action")),
        reason=pl.when(full).then(pl.lit("queue full")).otherwise(pl.col("reason")),
        queue=pl.when(full).then(pl.lit(None)).otherwise(pl.col("queue")),
        priority=pl.when(full).then(pl.lit(None, dtype=pl.Int64)).otherwise(pl.col("_priority")),
    ).drop("_full", "_priority")


def _place_in_pools(decided, book: Book, kept, recalls, sides, day: date) -> pl.DataFrame:
    """The place decisions given their agency (capacity, eligibility, weights), or left: pool full."""
    agencies = book.agencies.sort("agency_id")
    placing = pl.col("action") == ActionKind.PLACE.value
    if agencies.height == 0:
        return decided.with_columns(
            action=pl.when(placing).then(pl.lit(ActionKind.LEAVE.value)).otherwise(pl.col("action")),
            reason=pl.when(placing).then(pl.lit("pool full")).otherwise(pl.col("reason")),
        )
    rows = []  # the sides' pools one after the other, as _rule_table numbers them (pool_row)
    for _side, chosen in sides:
        rows += _pool_weights(chosen, agencies, book.performance)
    index = {a: i for i, a in enumerate(agencies["agency_id"].to_list())}
    # room: capacity less the kept placements (cases, and their balance at placement)
    held = kept.group_by("agency_id").agg(cases=pl.len(), volume=pl.col("balance").fill_null(0).sum())
    room = agencies.join(held, on="agency_id", how="left").with_columns(pl.col("cases", "volume").fill_null(0))
    big = np.iinfo(np.int64).max // 4
    room_cases = (room["capacity"].fill_null(big) - room["cases"]).to_numpy()
    room_balance = (room["capacity_balance"].fill_null(big) - room["volume"]).to_numpy()
    # the agencies each claim may not go back to (recalled within the period, today's recalls included)
    excluded = (
        pl.concat([book.recalled.select("claim_id", "agency_id"), recalls.select("claim_id", "agency_id")])
        .drop_nulls()
        .unique()
        .with_columns(
            bit=pl.col("agency_id").replace_strict(
                {a: 1 << i for a, i in index.items()}, default=None, return_dtype=pl.Int64
            )
        )
        .drop_nulls("bit")
        .group_by("claim_id")
        .agg(excluded=pl.col("bit").sum())
    )
    # the columns first, then the rows (filtering the wide frame would copy every column)
    placed_ones = (
        decided.select("claim_id", "pool_row", "balance", "recovery", "postal_code", "debtor_kind", _placing=placing)
        .filter("_placing")
        .drop("_placing")
    )
    candidates = (
        placed_ones.with_columns(excluded["excluded"].gather(rows_of(placed_ones["claim_id"], excluded["claim_id"])))
        .lazy()
        .select(
            "claim_id",
            "balance",
            "pool_row",
            eligible=_eligible_bits(decided, agencies) & ~pl.col("excluded").fill_null(0),
            expected=pl.col("balance").cast(pl.Float64) * pl.col("recovery"),
        )
        .collect()
    )
    if candidates.height == 0:
        return decided
    # by expected recovery, the lower claim_id first among equals: the claims come in claim_id
    # order (the state's), so a stable sort on the one key gives that (half a two-key sort's
    # time); only the order is sorted, and only the three arrays the loop reads are put in it
    if candidates["claim_id"].is_sorted():
        by = pl.arg_sort_by("expected", descending=True, maintain_order=True)
    else:
        by = pl.arg_sort_by(["expected", "claim_id"], descending=[True, False])
    order = candidates.select(by).to_series().to_numpy()
    in_order = pools.assign(
        candidates["pool_row"].to_numpy()[order],
        candidates["eligible"].to_numpy()[order],
        candidates["balance"].to_numpy()[order],
        np.array(rows),
        room_cases,
        room_balance,
    )
    # back into the decided frame's rows: the candidates are its placing rows, in its order
    at = decided.select(placing.fill_null(False)).to_series().arg_true().to_numpy()[order]
    agency_at = np.full(decided.height, -1, dtype=np.int64)
    agency_at[at] = in_order
    priority_at = np.zeros(decided.height, dtype=np.int64)
    priority_at[at] = np.arange(1, order.shape[0] + 1, dtype=np.int64)
    chosen = pl.Series("i", agency_at).to_frame().select(pl.when(pl.col("i") >= 0).then(pl.col("i"))).to_series()
    out = decided.with_columns(
        agencies["agency_id"].cast(pl.Categorical).gather(chosen).alias("_agency"),
        pl.Series("_priority", priority_at),
    )
    full = placing & pl.col("_agency").is_null()
    return out.with_columns(
        agency_id=pl.when(placing).then(pl.col("_agency")).otherwise(pl.col("agency_id")),
        priority=pl.when(placing & ~full).then(pl.col("_priority")).otherwise(pl.col("priority")),
        action=pl.when(full).then(pl.lit(ActionKind.LEAVE.value)).otherwise(pl.col("action")),
        reason=pl.when(full).then(pl.lit("pool full")).otherwise(pl.col("reason")),
        queue=pl.when(full).then(pl.lit(None)).otherwise(pl.col("queue")),
    ).drop("_agency", "_priority")
