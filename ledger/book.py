"""What the journal is made from: the claims, their events with the day each was recorded, and the
placements with agencies (for commissions), read from the store or from Parquet files.

Only the columns the journal uses are read: the engine's, plus each claim's purchase (day, price)
and each event's ``recorded_on`` and ``source``. An event without a recorded day (stored before
migration 0014, or a file without the column) is taken as recorded on its own ``event_date``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.errors import InputError
from engine.schema import CLAIMS, EVENTS, engine_columns
from engine.waterfall import WaterfallSetting

#: claim columns the journal reads: the engine's and the purchase
CLAIM_COLUMNS = [*engine_columns(CLAIMS, "claims"), "purchase_date", "purchase_price"]
#: event columns the journal reads: the data contract's and the day recorded
EVENT_COLUMNS = [c.name for c in EVENTS] + ["recorded_on"]
CLAIM_TYPES = {c.name: c.dtype for c in CLAIMS if c.name in CLAIM_COLUMNS}
EVENT_TYPES = {c.name: c.dtype for c in EVENTS} | {"recorded_on": pl.Date()}
#: one row per placement with an agency: when it was open, which agency, at what rate (basis points)
PLACEMENT_TYPES = {
    "claim_id": pl.Int64(),
    "agency_id": pl.String(),
    "placed_on": pl.Date(),
    "recalled_on": pl.Date(),
    "rate_bp": pl.Int64(),
}


@dataclass
class Book:
    """The journal's inputs. ``claims`` by claim_id; ``events`` with ``recorded_on`` filled (never
    null); ``placements`` with agencies and their commission rate; the portfolios' waterfall."""

    claims: pl.DataFrame
    events: pl.DataFrame
    placements: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PLACEMENT_TYPES))
    waterfall: WaterfallSetting = "costs,interest,principal"

    def __post_init__(self) -> None:
        missing = [c for c in CLAIM_COLUMNS if c not in self.claims.columns]
        if missing:
            raise InputError(f"claims: missing column(s) {', '.join(missing)} (docs/data-contract.md)")
        events = self.events
        if "recorded_on" not in events.columns:
            events = events.with_columns(recorded_on=pl.col("event_date"))
        if "source" not in events.columns:  # the engine does not need it; commissions do
            events = events.with_columns(source=pl.lit(None, pl.String))
        missing = [c for c in EVENT_COLUMNS if c not in events.columns]
        if missing:
            raise InputError(f"events: missing column(s) {', '.join(missing)} (docs/data-contract.md)")
        self.claims = self.claims.select(CLAIM_COLUMNS).cast(CLAIM_TYPES).sort("claim_id")
        self.events = (
            events.select(EVENT_COLUMNS)
            .cast(EVENT_TYPES)
            .with_columns(pl.col("recorded_on").fill_null(pl.col("event_date")))
        )


def from_files(claims: Path, events: Path, waterfall: WaterfallSetting = "costs,interest,principal") -> Book:
    """A book from claims.parquet and events.parquet (docs/data-contract.md; events may carry
    ``recorded_on``). No placements: files carry none, so no commissions."""
    frames = []
    for path, wanted in ((claims, CLAIM_COLUMNS), (events, EVENT_COLUMNS)):
        if not path.exists():
            raise InputError(f"{path}: no such file")
        try:
            present = pl.read_parquet_schema(path)
        except Exception as e:  # not Parquet, truncated, ...
            raise InputError(f"{path}: not a readable Parquet file ({e})") from None
        frames.append(pl.read_parquet(path, columns=[c for c in wanted if c in present]))
    return Book(frames[0], frames[1], waterfall=waterfall)


def from_store(store, portfolio: str | None = None, waterfall: WaterfallSetting = "costs,interest,principal") -> Book:
    """A book from the store (an SQLAlchemy engine): claims and events of one portfolio or all,
    read in one transaction, and the placements with agencies of those claims."""
    from allocation.results import commission_bp
    from allocation.store import agencies as read_agencies
    from engine.store.bulk import read_frame
    from engine.store.records import claims_query

    claims_sql, _, params = claims_query(portfolio, CLAIM_COLUMNS)
    listed = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
    events_sql = f"SELECT {listed} FROM events e"
    if portfolio:
        events_sql += " JOIN claims c ON c.claim_id = e.claim_id WHERE c.portfolio_id = :portfolio"
    placements_sql = (
        "SELECT p.claim_id, p.agency_id, p.placed_on, p.recalled_on, p.days_past_due, a.commission_bp "
        "FROM placements p JOIN agencies a ON a.agency_id = p.agency_id"
    )
    placement_types = {
        "claim_id": pl.Int64(),
        "agency_id": pl.String(),
        "placed_on": pl.Date(),
        "recalled_on": pl.Date(),
        "days_past_due": pl.Int64(),
        "commission_bp": pl.Int64(),
    }
    with store.connect() as conn, conn.begin():
        claims = read_frame(conn, claims_sql, CLAIM_TYPES, params)
        events = read_frame(conn, events_sql, EVENT_TYPES, params)
        placements = read_frame(conn, placements_sql, placement_types)
        agencies = read_agencies(conn)
    if portfolio:
        placements = placements.filter(pl.col("claim_id").is_in(claims.get_column("claim_id").implode()))
    placements = placements.with_columns(rate_bp=commission_bp(agencies).cast(pl.Int64)).select(list(PLACEMENT_TYPES))
    return Book(claims, events, placements, waterfall)
