"""A day's contacts, planned under the rules: frames in, one frame out (no store, no I/O).

For every claim, the first step of the rules that applies to it (``StepWhen``) asks for a
contact; the rules then refuse it or let it go, in this order, and a refused contact keeps the rule
that refused it (``HoldRule``): nothing is dropped silently.

1. the debtor has a flag of ``forbid_flags`` (deceased, bankrupt, GDPR restriction, disputed);
2. nothing is owed on the claim (every step but the notice);
3. the notice of assignment was not sent ``after_notice_days`` before (every step but the notice);
4. the notice needs the debtor's virtual account (the account it tells the debtor to pay to);
5. the channel: the first of the step's channels that reaches the debtor (an address for it), that
   the debtor did not object to, not a doubtful address for a letter, and with a window that day;
6. the caps per debtor, counting the stored contacts and the day's own: ``min_days_between`` since
   the last one, at most ``per_day`` that day, ``per_week`` in the 7 days and ``per_month`` in the
   30 days ending on it. Within a debtor the steps go first in the rules' order, then by balance.

Everything is polars expressions over the whole book: no Python runs per claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from contacts.rules import Rules
from contacts.vocabulary import Channel, ContactStatus, HoldRule, StepWhen, Template

#: the claims planned for: the current state's balance and limitation, the claim's debtor
CLAIM_SCHEMA = {
    "claim_id": pl.Int64,
    "debtor_id": pl.Int64,
    "debtor_kind": pl.String,
    "total_due": pl.Int64,
    "time_barred": pl.Boolean,
}
#: the debtors: flags, whether each channel has an address, objections, doubtful address, virtual account
DEBTOR_SCHEMA = {
    "debtor_id": pl.Int64,
    "flags": pl.List(pl.String),
    "has_letter": pl.Boolean,
    "has_email": pl.Boolean,
    "has_sms": pl.Boolean,
    "has_phone": pl.Boolean,
    "objected": pl.List(pl.String),
    "address_doubtful": pl.Boolean,
    "virtual_account": pl.Boolean,
}
#: the open placements (one per claim at most)
PLACEMENT_SCHEMA = {"claim_id": pl.Int64, "queue": pl.String, "placed_on": pl.Date}
#: per claim, from the stored contacts that count: the first notice, the last reminder and demand
CLAIM_HISTORY_SCHEMA = {
    "claim_id": pl.Int64,
    "notice_on": pl.Date,
    "reminded_on": pl.Date,
    "demanded_on": pl.Date,
}
#: per debtor, the stored contacts that count before the day: in the last 7 and 30 days, the last day
DEBTOR_HISTORY_SCHEMA = {"debtor_id": pl.Int64, "week": pl.Int64, "month": pl.Int64, "last_on": pl.Date}

PLAN_SCHEMA = {
    "claim_id": pl.Int64,
    "debtor_id": pl.Int64,
    "step": pl.String,
    "template": pl.String,
    "channel": pl.String,
    "status": pl.String,
    "rule": pl.String,
    "detail": pl.String,
    "window_start": pl.Datetime("us", "UTC"),
    "window_end": pl.Datetime("us", "UTC"),
    "total_due": pl.Int64,
    "time_barred": pl.Boolean,
    "debtor_kind": pl.String,
}


@dataclass(frozen=True)
class Book:
    """What a day's plan reads (each frame in its schema above)."""

    claims: pl.DataFrame
    debtors: pl.DataFrame
    placements: pl.DataFrame
    claim_history: pl.DataFrame
    debtor_history: pl.DataFrame


def _days_since(column: str, day: date) -> pl.Expr:
    return (pl.lit(day) - pl.col(column)).dt.total_days()


def _applies(step, day: date) -> pl.Expr:
    if step.when == StepWhen.NO_NOTICE:
        return pl.col("notice_on").is_null()
    in_queue = pl.col("queue").is_in([q.value for q in step.queues]).fill_null(False)
    done_on = "demanded_on" if step.when == StepWhen.LEGAL_QUEUE else "reminded_on"
    not_yet = pl.col(done_on).is_null() | (pl.col(done_on) < pl.col("placed_on"))
    if step.every_days is not None:
        not_yet = not_yet | (_days_since(done_on, day) >= step.every_days)
    return in_queue & not_yet


def _by_step(rules: Rules, value, dtype) -> pl.Expr:
    """An expression choosing, per row, ``value(step)`` of the row's step (its index ``step_no``)."""
    expr = pl.lit(None, dtype=dtype)
    for i, step in reversed(list(enumerate(rules.rules.steps))):
        expr = pl.when(pl.col("step_no") == i).then(pl.lit(value(step), dtype=dtype)).otherwise(expr)
    return expr


#: a rule as the int8 the plan computes with (its position in HoldRule; 0 = none: it goes out)
RULE_CODES = {rule: i + 1 for i, rule in enumerate(HoldRule)}
_NONE = 0


def _code(rule: HoldRule) -> pl.Expr:
    return pl.lit(RULE_CODES[rule], dtype=pl.Int8)


def _channel_problem(channel: Channel, windows: dict) -> pl.Expr:
    """Why ``channel`` cannot carry the debtor's contact (0: it can), per debtor: the first of
    objected, no address, a doubtful address (letters), no window on the day."""
    problem = pl.when(pl.col("objected").list.contains(channel.value)).then(_code(HoldRule.OBJECTED))
    problem = problem.when(~pl.col(f"has_{channel.value}")).then(_code(HoldRule.NO_CHANNEL))
    if channel == Channel.LETTER:
        problem = problem.when(pl.col("address_doubtful")).then(_code(HoldRule.ADDRESS_DOUBTFUL))
    if windows.get(channel) is None:
        return problem.otherwise(_code(HoldRule.HOURS))
    return problem.otherwise(pl.lit(_NONE, dtype=pl.Int8))


def _by_id(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """``frame`` sorted by its int64 ``key`` (as is when it already is), marked sorted: polars then
    joins it by merging, not hashing."""
    ids = frame.get_column(key)
    if ids.len() > 1 and not bool((ids.diff().drop_nulls() > 0).all()):
        frame = frame.sort(key)
    return frame.with_columns(pl.col(key).set_sorted())


def _positions(keys: pl.Series, wanted: pl.Series) -> np.ndarray:
    """For each of ``wanted``, the row of ``keys`` (sorted, unique int64) that holds it, or
    ``len(keys)`` where none does: a direct index when the keys are dense enough (ids numbered by the
    store are), else a binary search."""
    n = keys.len()
    want = wanted.to_numpy(allow_copy=True)
    if n == 0:
        return np.full(len(want), 0, dtype=np.int64)
    low, high = int(keys[0]), int(keys[-1])
    if low >= 0 and high <= 4 * n + 1_000_000:
        where = np.full(high + 2, n, dtype=np.int64)
        where[keys.to_numpy()] = np.arange(n, dtype=np.int64)
        at = where[np.clip(want, 0, high + 1)]
        at[want < 0] = n
        return at
    at = np.clip(np.searchsorted(keys.to_numpy(), want), 0, n - 1)
    return np.where(keys.to_numpy()[at] == want, at, n)


def _attach(frame: pl.DataFrame, table: pl.DataFrame, key: str) -> tuple[pl.DataFrame, np.ndarray]:
    """``frame`` with the columns of ``table`` (unique ``key``, sorted) of its ``key`` (nulls where
    ``table`` has no row), gathered by position, not hash-joined; and the positions (``len(table)``:
    none)."""
    columns = table.drop(key)
    at = _positions(table.get_column(key), frame.get_column(key))
    padded = pl.concat([columns, pl.DataFrame(schema=columns.schema).clear(1)])  # a row of nulls
    return frame.hstack(padded[at].get_columns()), at


def _ranks(frame: pl.DataFrame, debtor: np.ndarray, debtors: int) -> pl.Series:
    """The place of each contact still going out among its debtor's that day (0 first), by step,
    then balance (largest first), then claim; 0 for the rest. ``debtor``: each row's debtor as a
    dense number (its row among the debtors; ``debtors`` for one not among them). Only debtors with
    more than one such contact are sorted (most have one)."""
    going = (frame.get_column("rule") == _NONE).to_numpy()
    counts = np.bincount(debtor[going], minlength=debtors + 1)
    shared = np.flatnonzero(going & (counts[debtor] > 1))
    rank = np.zeros(frame.height, dtype=np.int32)
    if len(shared):
        order = np.lexsort(
            (
                frame.get_column("claim_id").to_numpy()[shared],
                -frame.get_column("total_due").fill_null(0).to_numpy()[shared],
                frame.get_column("step_no").to_numpy()[shared],
                debtor[shared],
            )
        )
        rows = shared[order]
        group = debtor[rows]
        starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
        first = np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
        rank[rows] = np.arange(len(rows)) - first
    return pl.Series("rank", rank)


def plan(book: Book, rules: Rules, day: date) -> pl.DataFrame:
    """The day's contacts (PLAN_SCHEMA): one row per claim that a step asks a contact for, ``queued``
    with its channel and window, or ``held`` with the rule that refused it."""
    steps = rules.rules.steps
    caps = rules.rules.caps
    windows = rules.windows(day)
    forbidden = [f.value for f in rules.rules.forbid_flags]
    channels = list(Channel)
    used = sorted({c for s in steps for c in s.channels}, key=channels.index)

    # per debtor, once: the forbidding flags, each channel's problem (objected, no address, doubtful, hours)
    flagged = (
        pl.col("flags")
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
        .list.set_intersection(pl.lit(forbidden, dtype=pl.List(pl.String)))
    )
    debtors = _by_id(
        book.debtors.with_columns(
            pl.col("objected").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("address_doubtful").fill_null(False),
            *(pl.col(f"has_{c.value}").fill_null(False) for c in Channel),
        ).select(
            "debtor_id",
            flag=pl.when(flagged.list.len() > 0).then(flagged.list.join(", ")),
            no_account=~pl.col("virtual_account").fill_null(False),
            **{f"problem_{c.value}": _channel_problem(c, windows) for c in used},
        ),
        "debtor_id",
    )

    # the step each claim is asked for (the first that applies), as its index; claims sorted by id
    # are joined with their placement and history by merging
    frame = (
        _by_id(book.claims, "claim_id")
        .join(_by_id(book.placements, "claim_id"), on="claim_id", how="left", maintain_order="left")
        .join(_by_id(book.claim_history, "claim_id"), on="claim_id", how="left", maintain_order="left")
    )
    step = pl.lit(None, dtype=pl.Int8)
    for i, s in reversed(list(enumerate(steps))):
        step = pl.when(_applies(s, day)).then(pl.lit(i, dtype=pl.Int8)).otherwise(step)
    frame = frame.with_columns(step_no=step).filter(pl.col("step_no").is_not_null())
    frame, debtor_at = _attach(frame, debtors, "debtor_id")
    frame = frame.with_columns(
        no_account=pl.col("no_account").fill_null(True),
        **{f"problem_{c.value}": pl.col(f"problem_{c.value}").fill_null(RULE_CODES[HoldRule.NO_CHANNEL]) for c in used},
    )

    # 1-4: the holds that do not depend on the channel
    notice = _by_step(rules, lambda s: s.template == Template.NOTICE, pl.Boolean)
    after_notice = _by_step(rules, lambda s: s.after_notice_days, pl.Int32)
    too_early = pl.col("notice_on").is_null() | (_days_since("notice_on", day) < after_notice)
    rule = (
        pl.when(pl.col("flag").is_not_null())
        .then(_code(HoldRule.FLAG))
        .when(~notice & (pl.col("total_due").fill_null(0) <= 0))
        .then(_code(HoldRule.NOTHING_OWED))
        .when(~notice & too_early)
        .then(_code(HoldRule.NOTICE_FIRST))
        .when(notice & pl.col("no_account"))
        .then(_code(HoldRule.NO_VIRTUAL_ACCOUNT))
        .otherwise(pl.lit(_NONE, dtype=pl.Int8))
    )

    # 5: the channel, the first of the step's that can carry the contact; else the first one's problem
    channel = pl.lit(None, dtype=pl.Int8)
    first_problem = pl.lit(_NONE, dtype=pl.Int8)
    for i, s in enumerate(steps):
        chosen = pl.lit(None, dtype=pl.Int8)
        for c in reversed(s.channels):
            chosen = (
                pl.when(pl.col(f"problem_{c.value}") == _NONE)
                .then(pl.lit(channels.index(c), dtype=pl.Int8))
                .otherwise(chosen)
            )
        channel = pl.when(pl.col("step_no") == i).then(chosen).otherwise(channel)
        first_problem = (
            pl.when(pl.col("step_no") == i).then(pl.col(f"problem_{s.channels[0].value}")).otherwise(first_problem)
        )
    frame = frame.with_columns(rule=rule, channel_no=channel).with_columns(
        rule=pl.when((pl.col("rule") == _NONE) & pl.col("channel_no").is_null()).then(first_problem).otherwise("rule")
    )

    # 6: the caps per debtor, counting the stored contacts, then the day's own: steps first, then balance
    frame, _ = _attach(frame, _by_id(book.debtor_history, "debtor_id"), "debtor_id")
    frame = frame.with_columns(week=pl.col("week").fill_null(0), month=pl.col("month").fill_null(0))
    too_soon = (pl.col("rule") == _NONE) & pl.col("last_on").is_not_null()
    too_soon = too_soon & (_days_since("last_on", day) < caps.min_days_between)
    frame = frame.with_columns(rule=pl.when(too_soon).then(_code(HoldRule.MIN_DAYS_BETWEEN)).otherwise("rule"))
    frame = frame.with_columns(rank=_ranks(frame, debtor_at, debtors.height))
    over = (
        pl.when(pl.col("rule") != _NONE)
        .then("rule")
        .when(pl.col("rank") >= caps.per_day)
        .then(_code(HoldRule.PER_DAY))
        .when(pl.col("rank") >= caps.per_week - pl.col("week"))
        .then(_code(HoldRule.PER_WEEK))
        .when(pl.col("rank") >= caps.per_month - pl.col("month"))
        .then(_code(HoldRule.PER_MONTH))
        .otherwise(pl.lit(_NONE, dtype=pl.Int8))
    )
    frame = frame.with_columns(rule=over)

    # the names, the window of the chosen channel on the day, and why each held contact is held
    going = pl.col("rule") == _NONE

    def bound(i: int) -> pl.Expr:
        expr = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
        for c, window in windows.items():
            if window is not None:
                moment = pl.lit(window[i]).dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
                expr = pl.when(pl.col("channel_no") == channels.index(c)).then(moment).otherwise(expr)
        return pl.when(going).then(expr)

    said = pl.lit(None, dtype=pl.String)
    for i, s in enumerate(steps):
        names = [pl.lit(f"{c.value}: ") + _rule_name(pl.col(f"problem_{c.value}")) for c in s.channels]
        said = pl.when(pl.col("step_no") == i).then(pl.concat_str(names, separator="; ")).otherwise(said)
    channel_rules = [
        RULE_CODES[r] for r in (HoldRule.OBJECTED, HoldRule.NO_CHANNEL, HoldRule.ADDRESS_DOUBTFUL, HoldRule.HOURS)
    ]
    cap_rules = [RULE_CODES[r] for r in (HoldRule.PER_DAY, HoldRule.PER_WEEK, HoldRule.PER_MONTH)]
    channel_names = pl.col("channel_no").replace_strict(
        list(range(len(channels))), [c.value for c in channels], return_dtype=pl.String
    )
    # the rule's name and why, built for the held contacts only, each reason for its own rows
    held = frame.with_row_index("row").filter(pl.col("rule") != _NONE)
    reasons = [
        ([RULE_CODES[HoldRule.FLAG]], pl.lit("flag ") + pl.col("flag")),
        ([RULE_CODES[HoldRule.NOTICE_FIRST]], pl.lit("notice sent on ") + pl.col("notice_on").cast(pl.String)),
        (channel_rules, said),
        ([RULE_CODES[HoldRule.MIN_DAYS_BETWEEN]], pl.lit("last contact on ") + pl.col("last_on").cast(pl.String)),
        (
            cap_rules,
            pl.format("{} earlier in the last 7 days, {} in the last 30, {} before it today", "week", "month", "rank"),
        ),
    ]
    explained = pl.concat(
        [held.filter(pl.col("rule").is_in(codes)).select("row", detail=why.cast(pl.String)) for codes, why in reasons]
    )
    rows = held.get_column("row")
    detail = pl.repeat(None, frame.height, dtype=pl.String, eager=True)
    detail = detail.scatter(explained.get_column("row"), explained.get_column("detail"))
    names = pl.Series([None, *(r.value for r in RULE_CODES)], dtype=pl.String)
    rule_name = pl.repeat(None, frame.height, dtype=pl.String, eager=True).scatter(
        rows, names.gather(held.get_column("rule").cast(pl.UInt32))
    )
    return frame.select(
        "claim_id",
        "debtor_id",
        step=pl.lit(pl.Series([s.name for s in steps])).gather("step_no"),
        template=pl.lit(pl.Series([s.template.value for s in steps])).gather("step_no"),
        channel=pl.when(going).then(channel_names),
        status=pl.when(going).then(pl.lit(ContactStatus.QUEUED.value)).otherwise(pl.lit(ContactStatus.HELD.value)),
        rule=rule_name,
        detail=detail,
        window_start=bound(0),
        window_end=bound(1),
        total_due=pl.col("total_due"),
        time_barred=pl.col("time_barred"),
        debtor_kind=pl.col("debtor_kind"),
    ).select([pl.col(c).cast(t) for c, t in PLAN_SCHEMA.items()])


def _rule_name(code: pl.Expr) -> pl.Expr:
    """A rule's code as its name (0: null)."""
    return code.replace_strict(
        [0, *RULE_CODES.values()], [None, *(r.value for r in RULE_CODES)], return_dtype=pl.String
    )


def summary(planned: pl.DataFrame) -> dict:
    """Counts of the plan: queued by step and channel, held by rule."""
    queued = planned.filter(pl.col("status") == ContactStatus.QUEUED.value)
    held = planned.filter(pl.col("status") == ContactStatus.HELD.value)
    return {
        "contacts": planned.height,
        "queued": queued.height,
        "held": held.height,
        "queued_by": queued.group_by("step", "channel").len("contacts").sort("step", "channel").to_dicts(),
        "held_by": held.group_by("step", "rule").len("contacts").sort("step", "rule").to_dicts(),
    }
