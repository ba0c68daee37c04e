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


def _by_step(rules: Rules, value) -> pl.Expr:
    """An expression choosing, per row, ``value(step)`` of the row's step (null when no step)."""
    expr = pl.lit(None)
    for step in reversed(rules.rules.steps):
        expr = pl.when(pl.col("step") == step.name).then(value(step)).otherwise(expr)
    return expr


def _channel_problem(channel: Channel, windows: dict) -> pl.Expr:
    """Why ``channel`` cannot carry the contact (null: it can): the first of objected, no address,
    a doubtful address (letters), no window on the day."""
    return (
        pl.when(pl.col("objected").list.contains(channel.value))
        .then(pl.lit(HoldRule.OBJECTED.value))
        .when(~pl.col(f"has_{channel.value}"))
        .then(pl.lit(HoldRule.NO_CHANNEL.value))
        .when(pl.lit(channel == Channel.LETTER) & pl.col("address_doubtful"))
        .then(pl.lit(HoldRule.ADDRESS_DOUBTFUL.value))
        .when(pl.lit(windows.get(channel) is None))
        .then(pl.lit(HoldRule.HOURS.value))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def plan(book: Book, rules: Rules, day: date) -> pl.DataFrame:
    """The day's contacts (PLAN_SCHEMA): one row per claim that a step asks a contact for, ``queued``
    with its channel and window, or ``held`` with the rule that refused it."""
    return plan_lazy(book, rules, day).collect()


def plan_lazy(book: Book, rules: Rules, day: date) -> pl.LazyFrame:
    steps = rules.rules.steps
    caps = rules.rules.caps
    windows = rules.windows(day)
    forbidden = [f.value for f in rules.rules.forbid_flags]
    no_string = pl.lit(None, dtype=pl.String)

    frame = (
        book.claims.lazy()
        .join(book.placements.lazy(), on="claim_id", how="left")
        .join(book.claim_history.lazy(), on="claim_id", how="left")
    )
    step = no_string
    for s in reversed(steps):
        step = pl.when(_applies(s, day)).then(pl.lit(s.name)).otherwise(step)
    frame = frame.with_columns(step=step).filter(pl.col("step").is_not_null())
    frame = frame.join(book.debtors.lazy(), on="debtor_id", how="left").with_columns(
        flags=pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        objected=pl.col("objected").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        address_doubtful=pl.col("address_doubtful").fill_null(False),
        virtual_account=pl.col("virtual_account").fill_null(False),
        **{f"has_{c.value}": pl.col(f"has_{c.value}").fill_null(False) for c in Channel},
        template=_by_step(rules, lambda s: pl.lit(s.template.value)),
        order=_by_step(rules, lambda s: pl.lit(steps.index(s))).cast(pl.Int32),
    )

    # 1-4: the holds that do not depend on the channel
    flagged = pl.col("flags").list.set_intersection(pl.lit(forbidden, dtype=pl.List(pl.String)))
    not_notice = pl.col("template") != Template.NOTICE.value
    after_notice = _by_step(rules, lambda s: pl.lit(s.after_notice_days))
    hold = (
        pl.when(flagged.list.len() > 0)
        .then(pl.lit(HoldRule.FLAG.value))
        .when(not_notice & (pl.col("total_due").fill_null(0) <= 0))
        .then(pl.lit(HoldRule.NOTHING_OWED.value))
        .when(not_notice & (pl.col("notice_on").is_null() | (_days_since("notice_on", day) < after_notice)))
        .then(pl.lit(HoldRule.NOTICE_FIRST.value))
        .when(~not_notice & ~pl.col("virtual_account"))
        .then(pl.lit(HoldRule.NO_VIRTUAL_ACCOUNT.value))
        .otherwise(no_string)
    )
    hold_detail = (
        pl.when(flagged.list.len() > 0)
        .then(pl.lit("flag ") + flagged.list.join(", "))
        .when(not_notice & pl.col("notice_on").is_not_null() & (_days_since("notice_on", day) < after_notice))
        .then(pl.lit("notice sent on ") + pl.col("notice_on").cast(pl.String))
        .otherwise(no_string)
    )
    frame = frame.with_columns(rule=hold, detail=hold_detail)

    # 5: the channel, the first of the step's that can carry the contact
    channels_used = sorted({c for s in steps for c in s.channels}, key=list(Channel).index)
    frame = frame.with_columns(**{f"problem_{c.value}": _channel_problem(c, windows) for c in channels_used})
    channel = no_string
    first_problem = no_string
    why = no_string
    for s in steps:
        chosen = no_string
        for c in reversed(s.channels):
            chosen = pl.when(pl.col(f"problem_{c.value}").is_null()).then(pl.lit(c.value)).otherwise(chosen)
        channel = pl.when(pl.col("step") == s.name).then(chosen).otherwise(channel)
        first_problem = (
            pl.when(pl.col("step") == s.name).then(pl.col(f"problem_{s.channels[0].value}")).otherwise(first_problem)
        )
        said = pl.concat_str(
            [pl.lit(f"{c.value}: ") + pl.col(f"problem_{c.value}") for c in s.channels], separator="; "
        )
        why = pl.when(pl.col("step") == s.name).then(said).otherwise(why)
    frame = frame.with_columns(channel=pl.when(pl.col("rule").is_null()).then(channel).otherwise(no_string))
    frame = frame.with_columns(
        rule=pl.when(pl.col("rule").is_null() & pl.col("channel").is_null()).then(first_problem).otherwise("rule"),
        detail=pl.when(pl.col("rule").is_null() & pl.col("channel").is_null()).then(why).otherwise("detail"),
    )

    # 6: the caps per debtor, over the contacts still going out, steps first, then balance
    frame = frame.join(book.debtor_history.lazy(), on="debtor_id", how="left").with_columns(
        week=pl.col("week").fill_null(0), month=pl.col("month").fill_null(0)
    )
    going = pl.col("rule").is_null()
    too_soon = going & pl.col("last_on").is_not_null() & (_days_since("last_on", day) < caps.min_days_between)
    frame = frame.with_columns(
        rule=pl.when(too_soon).then(pl.lit(HoldRule.MIN_DAYS_BETWEEN.value)).otherwise("rule"),
        detail=pl.when(too_soon)
        .then(pl.lit("last contact on ") + pl.col("last_on").cast(pl.String))
        .otherwise("detail"),
    ).sort(["debtor_id", "order", "total_due", "claim_id"], descending=[False, False, True, False])
    rank = pl.when(pl.col("rule").is_null()).then(pl.col("rule").is_null().cum_sum().over("debtor_id") - 1)
    frame = frame.with_columns(rank=rank)
    over = (
        pl.when(pl.col("rank") >= caps.per_day)
        .then(pl.lit(HoldRule.PER_DAY.value))
        .when(pl.col("rank") >= caps.per_week - pl.col("week"))
        .then(pl.lit(HoldRule.PER_WEEK.value))
        .when(pl.col("rank") >= caps.per_month - pl.col("month"))
        .then(pl.lit(HoldRule.PER_MONTH.value))
        .otherwise(no_string)
    )
    frame = frame.with_columns(over=over).with_columns(
        rule=pl.coalesce("rule", "over"),
        detail=pl.when(pl.col("over").is_not_null())
        .then(
            pl.format(
                "{} earlier in the last 7 days, {} in the last 30, {} before it today",
                "week",
                "month",
                "rank",
            )
        )
        .otherwise("detail"),
    )

    # the window of the chosen channel on the day
    def bound(i: int) -> pl.Expr:
        expr = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
        for c, window in windows.items():
            if window is not None:
                moment = pl.lit(window[i]).dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
                expr = pl.when(pl.col("channel") == c.value).then(moment).otherwise(expr)
        return expr

    frame = frame.with_columns(
        channel=pl.when(pl.col("rule").is_null()).then("channel").otherwise(no_string),
        status=pl.when(pl.col("rule").is_null())
        .then(pl.lit(ContactStatus.QUEUED.value))
        .otherwise(pl.lit(ContactStatus.HELD.value)),
    )
    return (
        frame.with_columns(window_start=bound(0), window_end=bound(1))
        .with_columns(
            window_start=pl.when(pl.col("rule").is_null()).then("window_start"),
            window_end=pl.when(pl.col("rule").is_null()).then("window_end"),
        )
        .select([pl.col(c).cast(t) for c, t in PLAN_SCHEMA.items()])
        .sort("claim_id")
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
