"""The agencies' change feed in the store (``agency_changes``): written beside each change, in its
transaction (an outbox), read by the feed and the webhooks in ``change_id`` order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import sqlalchemy as sa

from engine.domain import AgencyChange
from engine.store.bulk import write_frame
from engine.store.models import AgencyChangeRow

CHANGES = AgencyChangeRow.__table__


def placed(conn: sa.Connection, placements: pl.DataFrame) -> None:
    """New placements (placement_id, claim_id, agency_id, placed_on; in placement_id order) with an
    agency, as changes, written from the frame: no read of what was just written."""
    rows = placements.filter(pl.col("agency_id").is_not_null()).select(
        "agency_id",
        pl.lit(AgencyChange.PLACED.value).alias("change"),
        "claim_id",
        "placement_id",
        pl.col("placed_on").alias("day"),
        pl.lit(datetime.now(UTC)).alias("at"),
    )
    write_frame(conn, "agency_changes", rows)


def placed_by_run(conn: sa.Connection, allocation_run_id: int) -> None:
    """The placements with an agency an allocation run just wrote, as changes, by placement."""
    conn.execute(
        sa.text(
            "INSERT INTO agency_changes (agency_id, change, claim_id, placement_id, day, reason, at) "
            "SELECT agency_id, :change, claim_id, placement_id, placed_on, NULL, :at FROM placements "
            "WHERE allocation_run_id = :run AND agency_id IS NOT NULL ORDER BY placement_id"
        ),
        {"change": AgencyChange.PLACED.value, "at": datetime.now(UTC), "run": allocation_run_id},
    )


def recalled(conn: sa.Connection, placements: list[dict], day: date, change: AgencyChange) -> None:
    """Placements just ended (rows with placement_id, claim_id, agency_id, recall_reason), as changes;
    the purchaser's own queues (no agency) have no feed."""
    rows = [
        {
            "agency_id": p["agency_id"],
            "change": change.value,
            "claim_id": p["claim_id"],
            "placement_id": p["placement_id"],
            "day": day,
            "reason": p.get("recall_reason"),
            "at": datetime.now(UTC),
        }
        for p in sorted(placements, key=lambda p: p["placement_id"])
        if p["agency_id"] is not None
    ]
    if rows:
        conn.execute(sa.insert(CHANGES), rows)


def recalled_staged(conn: sa.Connection, day: date) -> None:
    """The placements named in the temporary ``recall_stage`` (allocation's recalls), as changes."""
    conn.execute(
        sa.text(
            "INSERT INTO agency_changes (agency_id, change, claim_id, placement_id, day, reason, at) "
            "SELECT p.agency_id, :change, p.claim_id, p.placement_id, :day, s.recall_reason, :at "
            "FROM placements p JOIN recall_stage s ON s.placement_id = p.placement_id "
            "WHERE p.agency_id IS NOT NULL ORDER BY p.placement_id"
        ),
        {"change": AgencyChange.RECALLED.value, "day": day, "at": datetime.now(UTC)},
    )


def since(conn: sa.Connection, agency_id: str, after: int, limit: int) -> list[dict]:
    query = (
        sa.select(CHANGES)
        .where(CHANGES.c.agency_id == agency_id, CHANGES.c.change_id > after)
        .order_by(CHANGES.c.change_id)
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
