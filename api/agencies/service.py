"""Agencies in the store: add, change, deactivate, list, and load from a YAML file (each agency
added or, when stored already, replaced)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from allocation import store as allocation_store
from allocation.agencies import AgencySpec, load_agencies


def add(*, store: sa.Engine, agency: AgencySpec) -> None:
    allocation_store.add_agency(store, agency.agency_id, agency.row())


def update(*, store: sa.Engine, agency_id: str, changes: dict) -> None:
    """Change the given columns (the store's names and units) of a stored agency."""
    allocation_store.update_agency(store, agency_id, changes)


def deactivate(*, store: sa.Engine, agency_id: str) -> None:
    """No new placements with it; its open ones are recalled by the next allocation."""
    allocation_store.update_agency(store, agency_id, {"active": False})


def listed(*, store: sa.Engine) -> pl.DataFrame:
    """Every agency with its open cases and open balance (at placement)."""
    agencies = allocation_store.agencies(store)
    open_ = allocation_store.placements(store, open_only=True)
    used = open_.group_by("agency_id").agg(open_cases=pl.len(), open_balance=pl.col("balance").fill_null(0).sum())
    return agencies.join(used, on="agency_id", how="left").with_columns(
        pl.col("open_cases", "open_balance").fill_null(0)
    )


def load(*, store: sa.Engine, path: Path) -> tuple[int, int]:
    """The agencies of an agencies YAML file into the store: (added, replaced)."""
    added = replaced = 0
    for agency in load_agencies(path):
        if allocation_store.add_agency(store, agency.agency_id, agency.row(), replace=True):
            added += 1
        else:
            replaced += 1
    return added, replaced
