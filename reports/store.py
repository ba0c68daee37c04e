"""What a report reads from the store, as of one moment (``engine.store.bulk.read_snapshot``: on
PostgreSQL each read on its own connection, all at once, in one snapshot).

The whole book's vintages and collections (the development factors pool every portfolio), and of
the one portfolio: its stored claim_state, its placements and the payments of its placed claims
with their source. The vintages (with their claim-id spans) and the state are summed by the
database (SQL that SQLite and PostgreSQL both run, months and days spelled for each); the
collections are two plain scans (payments, reversals) put to their vintages by claim-id span and
summed here (the claims' vintage columns are read only when spans interleave).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import sqlalchemy as sa

from allocation.store import agencies as stored_agencies
from engine.store.bulk import read_snapshot
from reports.agencies import PLACEMENT_SCHEMA, SOURCED_PAYMENT_SCHEMA
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


def _month(dialect: str, column: str) -> str:
    """SQL for a date column's calendar month as year * 12 + month - 1 (``collections.month_number``)."""
    if dialect == "postgresql":
        return (
            f"(CAST(EXTRACT(YEAR FROM {column}) AS INTEGER) * 12 + CAST(EXTRACT(MONTH FROM {column}) AS INTEGER) - 1)"
        )
    return f"(CAST(substr({column}, 1, 4) AS INTEGER) * 12 + CAST(substr({column}, 6, 2) AS INTEGER) - 1)"


def _days_left(dialect: str) -> str:
    if dialect == "postgresql":
        return "(s.limitation_date - CAST(:as_of AS DATE))"
    return "(julianday(s.limitation_date) - julianday(:as_of))"


def _state_sums(dialect: str) -> str:
    """SQL of one row summing a run's claim_state of a portfolio by limitation band and by
    days-past-due band (``balances.from_sums`` names): one pass, nothing sorted (a planner without
    statistics sorted 10M rows for a GROUP BY)."""
    left = _days_left(dialect)
    limits = " ".join(f"WHEN {left} <= {days} THEN {i + 1}" for i, days in enumerate(WITHIN))
    band = f"CASE WHEN s.time_barred THEN 0 WHEN s.limitation_date IS NULL THEN {len(BANDS) - 1} {limits} ELSE {len(BANDS) - 2} END"
    dpd = " ".join(f"WHEN s.days_past_due >= {low} THEN {i}" for i, (low, _) in reversed(list(enumerate(DPD_BANDS))))
    columns = ", ".join(f"COALESCE(s.{m}, 0) AS {m}" for m in MONEY)
    sums = []
    for prefix, column, count in (("b", "b", len(BANDS)), ("d", "d", len(DPD_BANDS))):
        for i in range(count):
            sums.append(f"SUM(CASE WHEN x.{column} = {i} THEN 1 ELSE 0 END) AS {prefix}{i}_claims")
            sums.extend(
                f"CAST(SUM(CASE WHEN x.{column} = {i} THEN x.{m} ELSE 0 END) AS BIGINT) AS {prefix}{i}_{m}"
                for m in MONEY
            )
    return (
        f"SELECT {', '.join(sums)} FROM (SELECT {band} AS b, CASE {dpd} ELSE 0 END AS d, {columns} "
        "FROM claim_state s WHERE s.run_id = :run AND s.portfolio_id = :portfolio) x"
    )


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


def _paid_by_span(spans: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame | None:
    """Collections by vintage and month of payment when the vintages' claim_id spans do not
    overlap (claims are numbered a file at a time, so a vintage is mostly one span): each payment's
    vintage is the span holding its claim (a binary search, no read of the claims); None otherwise."""
    order = spans.sort("first_claim")
    first, last = order["first_claim"].to_numpy(), order["last_claim"].to_numpy()
    if len(first) > 1 and not bool(np.all(first[1:] > last[:-1])):
        return None
    claim = payments["claim_id"].to_numpy()
    row = np.searchsorted(first, claim, side="right") - 1
    inside = (row >= 0) & (claim <= last[np.maximum(row, 0)])
    if not bool(inside.all()):
        return None  # a payment of a claim outside every span: the store changed under the read
    per_span = (
        payments.select("amount", paid_month=month_number_of("event_date"))
        .with_columns(pl.Series("row", row, dtype=pl.UInt32))
        .group_by("row", "paid_month")  # ints: summed before the vintages' names join (a few thousand rows)
        .agg(collected=pl.col("amount").sum())
    )
    return (
        per_span.join(order.with_row_index("row").select("row", *VINTAGE, "bought"), on="row")
        .filter(pl.col("bought") == 1)
        .group_by(*VINTAGE, "paid_month")
        .agg(pl.col("collected").sum())
        .select(pl.col(c).cast(t) for c, t in PAID_SCHEMA.items())
    )


def freshness(engine: sa.Engine, portfolio_id: str) -> tuple:
    """What a kept report depends on, read by primary keys (instant): the portfolio's current run,
    the newest claim, event, placement, allocation run and agency change. A recall from an own
    queue by `cession recall` changes none of them (it shows at the next of any)."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT (SELECT current_run_id FROM portfolios WHERE portfolio_id = :p), "
                    "(SELECT MAX(claim_id) FROM claims), (SELECT MAX(event_id) FROM events), "
                    "(SELECT MAX(placement_id) FROM placements), (SELECT MAX(allocation_run_id) FROM allocation_runs), "
                    "(SELECT MAX(change_id) FROM agency_changes)"
                ),
                {"p": portfolio_id},
            ).one()
        )


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
    queries = {
        # every vintage (and the part of a vintage bought after the day) with its claim_id span
        "spans": (
            f"SELECT portfolio_id, {_month(dialect, 'purchase_date')} AS purchase_month, COUNT(*) AS claims, "
            "CAST(SUM(purchase_price) AS BIGINT) AS price, "
            "CAST(SUM(principal + interest_at_cutoff + costs_at_cutoff) AS BIGINT) AS face, "
            "MIN(purchase_date) AS purchase_date, CASE WHEN purchase_date <= :as_of THEN 1 ELSE 0 END AS bought, "
            "MIN(claim_id) AS first_claim, MAX(claim_id) AS last_claim FROM claims GROUP BY 1, 2, 7",
            SPAN_SCHEMA,
            day,
        ),
        # the join of payments to their claims is made here (a database's planner may choose a
        # nested loop over millions of payments when its statistics are stale)
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
    }
    if run_id is not None:
        sums_schema = {
            f"{p}{i}_{m}": pl.Int64
            for p, count in (("b", len(BANDS)), ("d", len(DPD_BANDS)))
            for i in range(count)
            for m in ("claims", *MONEY)
        }
        queries["state_sums"] = (_state_sums(dialect), sums_schema, mine | day | {"run": run_id})
    frames = read_snapshot(engine, queries)
    spans = frames.pop("spans")
    payments = net_payments(frames.pop("payments"), frames.pop("reversals"), as_of)
    paid = _paid_by_span(spans, payments)
    if paid is None:  # vintages' claim_id spans overlap: each payment's claim looked up
        claims = read_snapshot(
            engine, {"claims": ("SELECT claim_id, portfolio_id, purchase_date FROM claims", CLAIM_VINTAGE_SCHEMA, None)}
        )
        paid = paid_by_month(claims["claims"].filter(pl.col("purchase_date") <= as_of), payments)
    return Book(
        purchased=spans.filter(pl.col("bought") == 1).select(list(PURCHASED_SCHEMA)),
        paid=paid,
        groups=from_sums(frames["state_sums"].row(0, named=True)) if run_id is not None else None,
        placements=frames["placements"],
        placed_payments=frames["placed_payments"],
        agencies=stored_agencies(engine),
    )
