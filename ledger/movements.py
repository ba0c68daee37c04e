"""What a period changed on each claim, and which event caused it.

The book as known on day ``t``, ``K(t)``: the claims bought on or before ``t`` (``purchase_date``),
each with the events *effective* by ``t`` -- an event is effective on the latest of its
``event_date``, the day it was recorded (``recorded_on``) and the claim's purchase day -- computed
by the engine as of ``t``. A reversal removes its target from the day the reversal is effective.
The period ``a..b`` is what changed from ``K(a-1)`` to ``K(b)``: so a payment recorded late is
posted when it was recorded, never into a period already closed, and periods add up exactly
(``K(c) - K(a-1) = (K(b) - K(a-1)) + (K(c) - K(b))``).

Per claim, the journal needs cumulative *counters* at both ends, each one posting's amount:

| counter | from |
|---|---|
| ``accrued`` | claim_state ``interest_accrued`` |
| ``paid_costs``, ``paid_interest``, ``paid_principal``, ``overpaid`` | claim_state |
| ``costs_added`` | the sum of the ``cost`` events counted (the events alone) |
| ``capitalized``, ``waived`` | the balances' identities: P = principal + capitalized - paid_principal - written off; I = interest_at_cutoff + accrued - waived - capitalized - paid_interest - written off |
| ``wo_principal``, ``wo_interest`` | the balances just before the claim's first write-off (the engine as of its day over the events before it) |
| ``wo_costs`` | C = costs_at_cutoff + costs_added - paid_costs - written off |

A claim nothing happened to in the period (no event effective in it, not bought in it) only
accrues: its one movement is ``accrued``, from the two engine states. The others (*touched*)
get every counter at both ends; the balances just before a write-off are computed only where the
period could have changed them (an event before the write-off, or the write-off itself, effective
in the period), one engine call per write-off day, over those claims alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property

import numpy as np
import polars as pl

from engine.errors import ComputationFailed
from engine.kernel_run import compute_state
from engine.schema import CLAIMS, EVENTS, engine_columns
from engine.waterfall import WaterfallSetting
from ledger.book import Book

log = logging.getLogger(__name__)

COUNTERS = (
    "accrued",
    "paid_costs",
    "paid_interest",
    "paid_principal",
    "overpaid",
    "costs_added",
    "capitalized",
    "waived",
    "wo_principal",
    "wo_interest",
    "wo_costs",
)
STATE_COLUMNS = {
    "interest_accrued": "accrued",
    "paid_costs": "paid_costs",
    "paid_interest": "paid_interest",
    "paid_principal": "paid_principal",
    "overpaid": "overpaid",
    "principal_due": "principal_due",
    "interest_due": "interest_due",
    "costs_due": "costs_due",
}
ENGINE_CLAIMS = engine_columns(CLAIMS, "claims")
ENGINE_EVENTS = engine_columns(EVENTS, "events")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def before(self) -> date:
        """The last day of the book before the period: ``K(first - 1)``."""
        return self.first - timedelta(days=1)


@dataclass
class Movements:
    """A period's movements: ``claims`` (claim_id, portfolio_id, purchased in the period, touched,
    the delta ``d_<counter>`` of every counter, the opening balances of a claim bought in the
    period) and ``events`` (every event effective, or removed, in the period: a *change*, signed).
    ``states``: the two engine states (claim_id, portfolio_id, interest_accrued and balances at
    each end), which the reconciliation reads apart from the counters (joined when first read:
    the journal alone never does)."""

    period: Period
    claims: pl.DataFrame
    changes: pl.DataFrame
    ends: dict[str, pl.DataFrame]
    portfolios: pl.DataFrame
    placements: pl.DataFrame
    waterfall: WaterfallSetting

    @cached_property
    def states(self) -> pl.DataFrame:
        both = self.ends["close"].join(self.ends["open"], on="claim_id", how="left", suffix="_open")
        return both.join(self.portfolios, on="claim_id")


def timeline(book: Book) -> pl.DataFrame:
    """Each event with ``effective`` (the day it enters the book) and ``removed_on`` (the day a
    reversal naming it becomes effective, null: never), its claim's portfolio."""
    events = _with_purchase_dates(book).with_columns(
        effective=pl.max_horizontal("event_date", "recorded_on", "purchase_date")
    )
    removals = (
        events.filter(pl.col("kind") == "reversal")
        .sort("effective", "event_id")
        .group_by("reverses", maintain_order=True)
        .agg(removed_on=pl.col("effective").first(), removed_by=pl.col("event_id").first())
        .rename({"reverses": "event_id"})
    )
    return events.join(removals, on="event_id", how="left").drop("purchase_date")


def _with_purchase_dates(book: Book) -> pl.DataFrame:
    """The book's events of its claims with their claim's ``purchase_date``: the inner join on
    claim_id, found by a binary search in the claims (sorted by claim_id, so no hash table and
    no copy of the events' columns) when their ids are unique; the events keep their order."""
    claims, events = book.claims, book.events
    ids, of = claims.get_column("claim_id"), events.get_column("claim_id")
    if claims.height and not ids.null_count() and not of.null_count():
        keys = ids.to_numpy()
        if len(keys) == 1 or bool(np.all(keys[1:] > keys[:-1])):
            wanted = of.to_numpy()
            at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            events = events.with_columns(purchase_date=claims.get_column("purchase_date").gather(at))
            found = keys[at] == wanted
            return events if bool(found.all()) else events.filter(pl.Series(found))
    return events.join(claims.select("claim_id", "purchase_date"), on="claim_id", how="inner")


def with_portfolios(frame: pl.DataFrame, book: Book) -> pl.DataFrame:
    return frame.join(book.claims.select("claim_id", "portfolio_id"), on="claim_id", how="left")


def counted(t: date) -> pl.Expr:
    """Events that count in K(t): effective by t, not a reversal, not removed by t."""
    return (
        (pl.col("kind") != "reversal")
        & (pl.col("effective") <= t)
        & (pl.col("removed_on").is_null() | (pl.col("removed_on") > t))
    )


def engine_state(
    claims: pl.DataFrame, events: pl.DataFrame, t: date, waterfall: WaterfallSetting, allow_stale_rates: bool
) -> pl.DataFrame:
    """claim_state (the columns the journal reads, renamed) of ``claims`` as of ``t`` with
    ``events`` (already the counting ones: no reversals)."""
    if claims.height == 0:
        return pl.DataFrame(schema={"claim_id": pl.Int64} | {v: pl.Int64 for v in STATE_COLUMNS.values()})
    table = compute_state(
        claims.select(ENGINE_CLAIMS),
        events.select(ENGINE_EVENTS),
        t,
        waterfall=waterfall,
        allow_stale_rates=allow_stale_rates,
    )
    return pl.from_arrow(table.select(["claim_id", *STATE_COLUMNS])).rename(STATE_COLUMNS)  # type: ignore[union-attr]


def measure(book: Book, period: Period, *, allow_stale_rates: bool = False) -> Movements:
    """The period's movements of ``book`` (see the module's docstring)."""
    if period.last < period.first:
        from engine.errors import InputError

        raise InputError(f"--from {period.first} is after --to {period.last}")
    a, b, before = period.first, period.last, period.before
    events = timeline(book)
    ends = {"open": before, "close": b}
    states = {}
    for end, t in ends.items():
        on_book = book.claims.filter(pl.col("purchase_date") <= t)
        started = _now()
        counting = events.lazy().filter(counted(t)).select(ENGINE_EVENTS).collect()  # only the engine's columns
        states[end] = engine_state(on_book, counting, t, book.waterfall, allow_stale_rates)
        log.info("the book as known on %s: %d claims in %.1f s", t, on_book.height, _now() - started)
    in_period = (pl.col("effective") >= a) & (pl.col("effective") <= b)
    removed_in_period = (pl.col("removed_on") >= a) & (pl.col("removed_on") <= b)
    changes = with_portfolios(changes_of(events, period), book)
    touched_ids = pl.concat(
        [
            events.lazy().filter(in_period | removed_in_period).select("claim_id").collect().get_column("claim_id"),
            book.claims.filter((pl.col("purchase_date") >= a) & (pl.col("purchase_date") <= b)).get_column("claim_id"),
        ]
    ).unique()
    claims = book.claims.select(
        "claim_id",
        "portfolio_id",
        "principal",
        "interest_at_cutoff",
        "costs_at_cutoff",
        "purchase_date",
        "purchase_price",
    ).with_columns(
        purchased=(pl.col("purchase_date") >= a) & (pl.col("purchase_date") <= b),
        touched=pl.col("claim_id").is_in(touched_ids.implode()),
    )
    touched = claims.filter(pl.col("touched"))
    at = {
        end: counters_at(book, events, touched, states[end], t, changes, allow_stale_rates) for end, t in ends.items()
    }
    deltas = at["close"].join(at["open"], on="claim_id", how="left", suffix="_open")
    deltas = deltas.select(
        "claim_id", *[(pl.col(c) - pl.col(f"{c}_open").fill_null(0)).alias(f"d_{c}") for c in COUNTERS]
    )
    # each claim on the book on the last day, in claim_id order (as the states are): an untouched
    # one moves by its accrual alone, a touched one (``deltas``) by every counter
    on_book = (claims.get_column("purchase_date") <= b).fill_null(False)
    accrued = {end: _on_book_column(states[end], "accrued", claims, t) for end, t in ends.items()}
    claims = claims.filter(on_book)
    ids = claims.get_column("claim_id").to_numpy()
    touched_at = np.searchsorted(ids, deltas.get_column("claim_id").to_numpy())
    if (
        deltas.null_count().sum_horizontal().item()
        or not bool(np.all(ids[np.minimum(touched_at, len(ids) - 1)] == deltas.get_column("claim_id").to_numpy()))
        or int(claims.get_column("touched").sum()) != deltas.height
    ):
        raise ComputationFailed("the touched claims' movements are not those of touched claims on the book: a bug")
    moved = {}
    for c in COUNTERS:
        values = (
            (accrued["close"] - accrued["open"])[on_book.to_numpy()] if c == "accrued" else np.zeros(len(ids), np.int64)
        )
        values[touched_at] = deltas.get_column(f"d_{c}").to_numpy()
        moved[f"d_{c}"] = values
    claims = claims.with_columns(**{name: pl.Series(name, values) for name, values in moved.items()})
    portfolios = book.claims.select("claim_id", "portfolio_id")
    return Movements(period, claims, changes, states, portfolios, book.placements, book.waterfall)


def _on_book_column(state: pl.DataFrame, column: str, claims: pl.DataFrame, t: date) -> np.ndarray:
    """``state``'s ``column`` for each of ``claims`` (by claim_id, as the engine's state is), 0 for a
    claim not on the book on ``t``."""
    on_book = (claims.get_column("purchase_date") <= t).fill_null(False)
    if not claims.get_column("claim_id").filter(on_book).equals(state.get_column("claim_id")):
        raise ComputationFailed("the engine's state is not of the claims on the book, by claim_id: a bug")
    values = np.zeros(claims.height, dtype=np.int64)
    values[on_book.to_numpy()] = state.get_column(column).to_numpy()
    return values


def _now() -> float:
    import time

    return time.perf_counter()


def changes_of(events: pl.DataFrame, period: Period) -> pl.DataFrame:
    """The period's changes: each event effective in it (``sign`` +1, on its own id, day and kind)
    and each removal of a counted event by a reversal effective in it (``sign`` -1, posted on the
    reversal's id and day, ``kind`` the removed event's). ``source_date`` and ``source`` are the
    original event's (a payment's day and payer place it in an agency's placement)."""
    a, b = period.first, period.last
    entered = events.filter(
        (pl.col("kind") != "reversal")
        & (pl.col("effective") >= a)
        & (pl.col("effective") <= b)
        & (pl.col("removed_on").is_null() | (pl.col("removed_on") > pl.col("effective")))
    ).select(
        "claim_id",
        "kind",
        "amount",
        posted_event=pl.col("event_id"),
        target=pl.col("event_id"),
        day=pl.col("effective"),
        sign=pl.lit(1, pl.Int64),
        source_date=pl.col("event_date"),
        source="source",
        recorded_on="recorded_on",
    )
    removed = events.filter(
        (pl.col("kind") != "reversal")
        & (pl.col("removed_on") >= a)
        & (pl.col("removed_on") <= b)
        & (pl.col("effective") < pl.col("removed_on"))
    ).select(
        "claim_id",
        "kind",
        "amount",
        posted_event=pl.col("removed_by"),
        target=pl.col("event_id"),
        day=pl.col("removed_on"),
        sign=pl.lit(-1, pl.Int64),
        source_date=pl.col("event_date"),
        source="source",
        recorded_on="recorded_on",
    )
    changes = pl.concat([entered, removed]).sort("claim_id", "day", "posted_event", "target")
    return changes.with_columns(order=pl.int_range(pl.len()).over("claim_id"))


def counters_at(
    book: Book,
    events: pl.DataFrame,
    touched: pl.DataFrame,
    state: pl.DataFrame,
    t: date,
    changes: pl.DataFrame,
    allow_stale_rates: bool,
) -> pl.DataFrame:
    """Every counter of the touched claims on the book on ``t`` (claim_id and COUNTERS)."""
    ids = touched.filter(pl.col("purchase_date") <= t).select(
        "claim_id", "principal", "interest_at_cutoff", "costs_at_cutoff"
    )
    mine = events.filter(counted(t) & pl.col("claim_id").is_in(ids.get_column("claim_id").implode()))
    costs = mine.filter(pl.col("kind") == "cost").group_by("claim_id").agg(costs_added=pl.col("amount").sum())
    first_wo = (
        mine.filter(pl.col("kind") == "write_off")
        .sort("event_date", "event_id")
        .group_by("claim_id", maintain_order=True)
        .agg(wo_date=pl.col("event_date").first(), wo_id=pl.col("event_id").first())
    )
    frame = (
        ids.join(state, on="claim_id", how="inner")
        .join(costs, on="claim_id", how="left")
        .join(first_wo, on="claim_id", how="left")
        .with_columns(pl.col("costs_added").fill_null(0))
    )
    plain = frame.filter(pl.col("wo_id").is_null()).with_columns(
        capitalized=pl.col("principal_due") - pl.col("principal") + pl.col("paid_principal"),
    )
    plain = plain.with_columns(
        waived=pl.col("interest_at_cutoff")
        + pl.col("accrued")
        - pl.col("capitalized")
        - pl.col("paid_interest")
        - pl.col("interest_due"),
        wo_principal=pl.lit(0, pl.Int64),
        wo_interest=pl.lit(0, pl.Int64),
    )
    written = frame.filter(pl.col("wo_id").is_not_null())
    written = written.join(
        _before_write_off(book, mine, written, changes, allow_stale_rates), on="claim_id", how="left"
    )
    written = written.with_columns(
        [pl.col(c).fill_null(0) for c in ("capitalized", "waived", "wo_principal", "wo_interest")]
    )
    columns = ["claim_id", *COUNTERS]
    out = pl.concat(
        [
            df.with_columns(
                wo_costs=pl.col("costs_at_cutoff") + pl.col("costs_added") - pl.col("paid_costs") - pl.col("costs_due")
            ).select(columns)
            for df in (plain, written)
        ]
    )
    return out


def _before_write_off(
    book: Book, mine: pl.DataFrame, written: pl.DataFrame, changes: pl.DataFrame, allow_stale_rates: bool
) -> pl.DataFrame:
    """capitalized, waived, wo_principal, wo_interest of claims with a write-off, from the balances
    just before their first one -- for the claims whose period changed something on or before it
    (an event ordered before it, or the write-off itself); the others get nulls (read as 0 at both
    ends of the period: unchanged)."""
    empty = pl.DataFrame(
        schema={
            "claim_id": pl.Int64,
            "capitalized": pl.Int64,
            "waived": pl.Int64,
            "wo_principal": pl.Int64,
            "wo_interest": pl.Int64,
        }
    )
    if written.height == 0:
        return empty
    # a change at or before the write-off (by event day and id) may move what it wrote off
    early = (
        changes.join(written.select("claim_id", "wo_date", "wo_id"), on="claim_id", how="inner")
        .join(mine.select(pl.col("event_id").alias("target"), "event_date"), on="target", how="left")
        .with_columns(pl.col("event_date").fill_null(pl.col("source_date")))
        .filter(
            (pl.col("event_date") < pl.col("wo_date"))
            | ((pl.col("event_date") == pl.col("wo_date")) & (pl.col("target") <= pl.col("wo_id")))
        )
        .get_column("claim_id")
        .unique()
    )
    needed = written.filter(pl.col("claim_id").is_in(early.implode()))
    parts = [empty]
    for (day,), group in needed.group_by(["wo_date"], maintain_order=True):
        ids = group.select("claim_id", "wo_id", "wo_date")
        claims = book.claims.join(ids.select("claim_id"), on="claim_id", how="semi")
        before = (
            mine.join(ids, on="claim_id", how="inner")
            .filter(
                (pl.col("event_date") < pl.col("wo_date"))
                | ((pl.col("event_date") == pl.col("wo_date")) & (pl.col("event_id") < pl.col("wo_id")))
            )
            .sort("claim_id", "event_id")
        )
        state = engine_state(claims, before, day, book.waterfall, allow_stale_rates)
        s = state.join(claims.select("claim_id", "principal", "interest_at_cutoff"), on="claim_id").with_columns(
            capitalized=pl.col("principal_due") - pl.col("principal") + pl.col("paid_principal")
        )
        parts.append(
            s.select(
                "claim_id",
                "capitalized",
                waived=pl.col("interest_at_cutoff")
                + pl.col("accrued")
                - pl.col("capitalized")
                - pl.col("paid_interest")
                - pl.col("interest_due"),
                wo_principal="principal_due",
                wo_interest="interest_due",
            )
        )
    log.debug("balances before a write-off: %d claims, %d days", needed.height, len(parts) - 1)
    return pl.concat(parts)
