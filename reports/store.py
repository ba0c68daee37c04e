"""What a report reads from the store, as of one moment (``engine.store.bulk.read_snapshot``: on
PostgreSQL each read on its own connection, all at once, in one snapshot).

The whole book's vintages and collections (the development factors pool every portfolio), and of
the one portfolio: its stored claim_state, its placements and the payments of its placed claims
with their source. Everything large is summed by the database (SQL that SQLite and PostgreSQL both
run), in two steps: first the claims by portfolio and purchase day, which make the vintages and
their claim-id spans; then, at once, the state by limitation and days-past-due band, and the
payments less the reversed ones by span (a binary search written in SQL) and day, so no row per
payment or per claim reaches the report. Only when the vintages' spans interleave are the payments,
the reversals and the claims' vintage columns read and joined here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import sqlalchemy as sa

from allocation.store import agencies as stored_agencies
from engine.store.bulk import Schema, exported_snapshot, read_snapshot
from reports.agencies import PLACEMENT_SCHEMA, PROMISE_SCHEMA, SOURCED_PAYMENT_SCHEMA
from reports.balances import BANDS, DPD_BANDS, MONEY, WITHIN, from_sums
from reports.collections import (
    PAID_SCHEMA,
    PAYMENT_SCHEMA,
    PURCHASED_SCHEMA,
    REVERSAL_SCHEMA,
    VINTAGE,
    month_number_of,
    net_payments,
    paid_by_month,
)

CLAIM_VINTAGE_SCHEMA = {"claim_id": pl.Int64, "portfolio_id": pl.String, "purchase_date": pl.Date}
SPAN_SCHEMA = PURCHASED_SCHEMA | {"bought": pl.Int32, "first_claim": pl.Int64, "last_claim": pl.Int64}
#: the claims summed by portfolio and purchase day
PURCHASE_DAY_SCHEMA = {
    "portfolio_id": pl.String,
    "purchase_date": pl.Date,
    "claims": pl.Int64,
    "price": pl.Int64,
    "face": pl.Int64,
    "first_claim": pl.Int64,
    "last_claim": pl.Int64,
}
#: the planner's settings for the report's reads: each is a scan summed to a few thousand rows or
#: fewer, which a planner without the columns' statistics (a store loaded by COPY, never analysed)
#: takes for millions of groups and sorts for, on disk; a hash aggregate needs no sort
NO_SORT = {"enable_sort": "off"}
#: payments summed by claim_id span and month of payment (``_collected_by_span``)
SPAN_SUMS_SCHEMA = {
    "span": pl.Int32,
    "event_date": pl.Date,
    "collected": pl.Int64,
    "low": pl.Int64,
    "high": pl.Int64,
}


@dataclass(frozen=True)
class Book:
    """The reads of one report, summed by the store where they are large: the book's vintages
    (``collections.PURCHASED_SCHEMA``) and collections by vintage and month of payment (payments
    up to the as-of day less the reversals dated by then: ``collections.PAID_SCHEMA``); the
    portfolio's stored claim_state summed by limitation and days-past-due band
    (``balances.GROUPED_SCHEMA``; None when not read), its placements, its placed claims'
    payments with their source, and the agencies."""

    purchased: pl.DataFrame
    paid: pl.DataFrame
    groups: pl.DataFrame | None
    placements: pl.DataFrame
    placed_payments: pl.DataFrame
    agencies: pl.DataFrame
    promises: pl.DataFrame | None = None  # the portfolio's promises to pay made by the day


def _days_left(dialect: str) -> str:
    if dialect == "postgresql":
        return "(s.limitation_date - CAST(:as_of AS DATE))"
    return "(julianday(s.limitation_date) - julianday(:as_of))"


def _state_sums(dialect: str) -> str:
    """SQL summing a run's claim_state of a portfolio by limitation band ``b`` and days-past-due
    band ``d`` (indexes of ``balances.BANDS`` and ``DPD_BANDS``): claims and MONEY of each pair
    that has claims, a few dozen rows (``_band_sums`` adds them up by band). A hash aggregate with
    the report's ``enable_sort = off`` (a planner without statistics sorts 10M rows for it)."""
    left = _days_left(dialect)
    limits = " ".join(f"WHEN {left} <= {days} THEN {i + 1}" for i, days in enumerate(WITHIN))
    band = f"CASE WHEN s.time_barred THEN 0 WHEN s.limitation_date IS NULL THEN {len(BANDS) - 1} {limits} ELSE {len(BANDS) - 2} END"
    dpd = " ".join(f"WHEN s.days_past_due >= {low} THEN {i}" for i, (low, _) in reversed(list(enumerate(DPD_BANDS))))
    sums = ", ".join(f"CAST(SUM(COALESCE(s.{m}, 0)) AS BIGINT) AS {m}" for m in MONEY)
    return (
        f"SELECT {band} AS b, CASE {dpd} ELSE 0 END AS d, COUNT(*) AS claims, {sums} "
        "FROM claim_state s WHERE s.run_id = :run AND s.portfolio_id = :portfolio GROUP BY 1, 2"
    )


#: ``_state_sums``' rows
STATE_SUMS_SCHEMA = {"b": pl.Int32, "d": pl.Int32, "claims": pl.Int64} | {m: pl.Int64 for m in MONEY}


def _band_sums(sums: pl.DataFrame) -> dict:
    """``_state_sums``' rows added up by limitation band and by days-past-due band, named as
    ``balances.from_sums`` reads them (``b<i>_<measure>``, ``d<i>_<measure>``)."""
    row = {}
    for prefix, column, count in (("b", "b", len(BANDS)), ("d", "d", len(DPD_BANDS))):
        for i in range(count):
            mine = sums.filter(pl.col(column) == i)
            row |= {f"{prefix}{i}_{m}": int(mine[m].sum()) for m in ("claims", *MONEY)}
    return row


def portfolio_row(conn: sa.Connection, portfolio_id: str) -> dict | None:
    row = (
        conn.execute(
            sa.text(
                "SELECT p.portfolio_id, p.name, p.seller, p.current_run_id, r.as_of AS run_as_of "
                "FROM portfolios p LEFT JOIN engine_runs r ON r.run_id = p.current_run_id "
                "WHERE p.portfolio_id = :portfolio"
            ),
            {"portfolio": portfolio_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    found = dict(row)
    if isinstance(found["run_as_of"], str):  # SQLite hands dates back as text here
        found["run_as_of"] = date.fromisoformat(found["run_as_of"])
    return found


def _spans(days: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Every vintage (and the part of a vintage bought after ``as_of``: ``bought`` 0) with its
    claim_id span (SPAN_SCHEMA), from the claims summed by portfolio and purchase day."""
    return (
        days.with_columns(
            purchase_month=month_number_of("purchase_date"), bought=(pl.col("purchase_date") <= as_of).cast(pl.Int32)
        )
        .group_by(*VINTAGE, "bought")
        .agg(
            pl.col("claims", "price", "face").sum(),
            pl.col("purchase_date").min(),
            pl.col("first_claim").min(),
            pl.col("last_claim").max(),
        )
        .select(pl.col(c).cast(t) for c, t in SPAN_SCHEMA.items())
    )


def _span_of(firsts: list[int], column: str) -> str:
    """SQL (both dialects) of the index of the span holding ``column``: the last ``i`` with
    ``firsts[i] <= column`` (-1 below them all), by a binary search written as nested CASEs
    (``firsts`` ascending; a few hundred vintages make a tree a few levels deep)."""

    def pick(low: int, high: int) -> str:  # the answer is in low..high
        if low == high:
            return str(low)
        middle = (low + high + 1) // 2
        return f"CASE WHEN {column} < {int(firsts[middle])} THEN {pick(low, middle - 1)} ELSE {pick(middle, high)} END"

    return pick(-1, len(firsts) - 1)


def _disjoint(order: pl.DataFrame) -> bool:
    """Whether the vintages' claim_id spans (``order``: sorted by first_claim) do not overlap."""
    first, last = order["first_claim"].to_numpy(), order["last_claim"].to_numpy()
    return len(first) < 2 or bool(np.all(first[1:] > last[:-1]))


def _collected_by_span(dialect: str, order: pl.DataFrame) -> str:
    """SQL of the payments up to the as-of day that no reversal dated by then cancels, summed by
    span (``_span_of``: claim_id spans that do not overlap, ``order``'s rows) and day of payment
    (months are made here: the day is a cheaper key than the month's expression), with their
    lowest and highest claim_id (the check that every payment's claim is inside its span). The
    database sums the 20M payments of a 10M-claim book to some 10^4 rows. The reversed payments
    are left out by a hash anti join on PostgreSQL (its NOT IN hashes the reversals only when it
    guesses they fit in work_mem, else rescans them for every payment); SQLite's NOT IN builds an
    index of them once (its NOT EXISTS would scan the events for every payment)."""
    span = _span_of(order["first_claim"].to_list(), "e.claim_id")
    reversals = "r.kind = 'reversal' AND r.reverses IS NOT NULL AND r.event_date <= :as_of"
    if dialect == "postgresql":
        not_reversed = f"NOT EXISTS (SELECT 1 FROM events r WHERE r.reverses = e.event_id AND {reversals})"
    else:
        not_reversed = f"e.event_id NOT IN (SELECT r.reverses FROM events r WHERE {reversals})"
    return (
        f"SELECT {span} AS span, e.event_date, "
        "CAST(SUM(e.amount) AS BIGINT) AS collected, MIN(e.claim_id) AS low, MAX(e.claim_id) AS high "
        f"FROM events e WHERE e.kind = 'payment' AND e.event_date <= :as_of AND {not_reversed} GROUP BY 1, 2"
    )


def _paid_by_span(order: pl.DataFrame, collected: pl.DataFrame) -> pl.DataFrame | None:
    """Collections by vintage and month of payment (PAID_SCHEMA) from ``_collected_by_span``'s
    sums, the spans named by their vintages; None when a payment's claim is outside its span (the
    store changed between the reads)."""
    first, last = order["first_claim"].to_numpy(), order["last_claim"].to_numpy()
    row = collected["span"].to_numpy()
    at = np.maximum(row, 0)
    inside = (row >= 0) & (collected["low"].to_numpy() >= first[at]) & (collected["high"].to_numpy() <= last[at])
    if not bool(inside.all()):
        return None
    return (
        collected.select(
            pl.col("span").cast(pl.UInt32).alias("row"), month_number_of("event_date").alias("paid_month"), "collected"
        )
        .join(order.with_row_index("row").select("row", *VINTAGE, "bought"), on="row")
        .filter(pl.col("bought") == 1)
        .group_by(*VINTAGE, "paid_month")
        .agg(pl.col("collected").sum())
        .select(pl.col(c).cast(t) for c, t in PAID_SCHEMA.items())
    )


def freshness(engine: sa.Engine, portfolio_id: str) -> tuple:
    """What a kept report depends on, read by primary keys (instant): the portfolio's current run,
    the newest claim, event, placement, allocation run, agency change and promise, and the day of
    the promises' last update. A recall from an own
    queue by `cession recall` changes none of them (it shows at the next of any)."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT (SELECT current_run_id FROM portfolios WHERE portfolio_id = :p), "
                    "(SELECT MAX(claim_id) FROM claims), (SELECT MAX(event_id) FROM events), "
                    "(SELECT MAX(placement_id) FROM placements), (SELECT MAX(allocation_run_id) FROM allocation_runs), "
                    "(SELECT MAX(change_id) FROM agency_changes), (SELECT MAX(promise_id) FROM promises), "
                    "(SELECT MAX(updated_as_of) FROM promises)"
                ),
                {"p": portfolio_id},
            ).one()
        )


def _raw_collections(day: dict) -> dict[str, tuple[str, Schema, dict | None]]:
    """The reads behind the collections when the vintages' claim_id spans overlap: every payment
    and reversal up to the day, and each claim's vintage (joined here, ``paid_by_month``)."""
    return {
        "payments": (
            f"SELECT {', '.join(PAYMENT_SCHEMA)} FROM events WHERE kind = 'payment' AND event_date <= :as_of",
            PAYMENT_SCHEMA,
            day,
        ),
        "reversals": (
            "SELECT reverses, event_date FROM events WHERE kind = 'reversal' AND reverses IS NOT NULL "
            "AND event_date <= :as_of",
            REVERSAL_SCHEMA,
            day,
        ),
        "claims": ("SELECT claim_id, portfolio_id, purchase_date FROM claims", CLAIM_VINTAGE_SCHEMA, None),
    }


def read_book(engine: sa.Engine, portfolio_id: str, as_of: date, run_id: int | None = None) -> Book:
    """The reads of a report on ``portfolio_id`` as of ``as_of`` (with ``run_id``: that run's
    claim_state of the portfolio too, summed), all in one snapshot."""
    dialect = engine.dialect.name
    mine = {"portfolio": portfolio_id}
    day = {"as_of": as_of}
    placed = (
        "SELECT p.claim_id FROM placements p JOIN claims c ON c.claim_id = p.claim_id WHERE c.portfolio_id = :portfolio"
    )
    not_reversed = (
        "e.event_id NOT IN (SELECT r.reverses FROM events r WHERE r.kind = 'reversal' AND r.reverses IS NOT NULL "
        "AND r.event_date <= :as_of)"
    )
    spans_query = (
        # the claims summed by portfolio and purchase day (``_spans`` makes the vintages' spans)
        "SELECT portfolio_id, purchase_date, COUNT(*) AS claims, CAST(SUM(purchase_price) AS BIGINT) AS price, "
        "CAST(SUM(principal + interest_at_cutoff + costs_at_cutoff) AS BIGINT) AS face, "
        "MIN(claim_id) AS first_claim, MAX(claim_id) AS last_claim FROM claims GROUP BY 1, 2",
        PURCHASE_DAY_SCHEMA,
        None,
    )
    queries = {
        "placements": (
            f"SELECT {', '.join(f'p.{c}' for c in PLACEMENT_SCHEMA)} FROM placements p "
            "JOIN claims c ON c.claim_id = p.claim_id WHERE c.portfolio_id = :portfolio AND p.placed_on <= :as_of",
            PLACEMENT_SCHEMA,
            mine | day,
        ),
        "placed_payments": (
            "SELECT e.claim_id, e.event_date, e.amount, e.source FROM events e WHERE e.kind = 'payment' "
            f"AND e.event_date <= :as_of AND e.claim_id IN ({placed}) AND {not_reversed}",
            SOURCED_PAYMENT_SCHEMA,
            mine | day,
        ),
        "promises": (
            f"SELECT {', '.join(f't.{c}' for c in PROMISE_SCHEMA)} FROM promises t JOIN claims c "
            "ON c.claim_id = t.claim_id WHERE c.portfolio_id = :portfolio AND t.made_on <= :as_of",
            PROMISE_SCHEMA,
            mine | day,
        ),
    }
    if run_id is not None:
        queries["state_sums"] = (_state_sums(dialect), STATE_SUMS_SCHEMA, mine | day | {"run": run_id})
    with exported_snapshot(engine) as snapshot:
        # the spans first (the collections are summed by them), then the rest at once, in one snapshot
        spans = _spans(read_snapshot(engine, {"spans": spans_query}, snapshot, NO_SORT)["spans"], as_of)
        order = spans.sort("first_claim")
        by_span = _disjoint(order)
        if by_span:
            queries["collected"] = (_collected_by_span(dialect, order), SPAN_SUMS_SCHEMA, day)
        frames = read_snapshot(engine, queries | ({} if by_span else _raw_collections(day)), snapshot, NO_SORT)
        paid = _paid_by_span(order, frames.pop("collected")) if by_span else None
        if paid is None:  # vintages' claim_id spans overlap: each payment's claim looked up
            raw = frames if not by_span else read_snapshot(engine, _raw_collections(day), snapshot)
            payments = net_payments(raw.pop("payments"), raw.pop("reversals"), as_of)
            claims = raw.pop("claims").filter(pl.col("purchase_date") <= as_of)
            paid = paid_by_month(claims, payments)
    return Book(
        purchased=spans.filter(pl.col("bought") == 1).select(list(PURCHASED_SCHEMA)),
        paid=paid,
        groups=from_sums(_band_sums(frames["state_sums"])) if run_id is not None else None,
        placements=frames["placements"],
        placed_payments=frames["placed_payments"],
        agencies=stored_agencies(engine),
        promises=frames["promises"],
    )
