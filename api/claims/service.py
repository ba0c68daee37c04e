"""Claims and events into the store from Parquet files in docs/data-contract.md's shape, in one
transaction (``engine.store.records.load``): every row inserted, already stored or rejected with
its reason; a file that breaks the contract is refused whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from api.states.files import readable_parquet
from engine.store import records
from engine.store.records import Written


@dataclass(frozen=True)
class Loaded:
    written: dict[str, Written]  # per table: rows, inserted, already stored, rejects

    @property
    def rejects(self) -> pl.DataFrame:
        """Every rejected row of every table (table, key, reason)."""
        return pl.concat([w.rejects for w in self.written.values()])

    def summary(self) -> dict:
        return {table: w.summary() for table, w in self.written.items()}


def load(*, store: sa.Engine, claims: Path, events: Path | None = None, who: str | None = None) -> Loaded:
    """Store the claims of ``claims`` (their portfolios created as needed) and the events of
    ``events``; loading a file again stores nothing twice."""
    for path in (claims, events):
        if path is not None:
            readable_parquet(path)
    claims_frame = pl.read_parquet(claims)
    events_frame = pl.read_parquet(events) if events is not None else None
    return Loaded(records.load(store, claims_frame, events_frame, who=who))


def load_debtors(*, store: sa.Engine, debtors: pl.DataFrame, who: str | None = None) -> Written:
    """Store the debtors (docs/data-contract.md ``debtors``) whose ids are new; stored ones are kept."""
    return records.load_debtors(store, debtors, who=who)
