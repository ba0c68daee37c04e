"""One claim built from a few facts, for the calculators (`cession interest`, `cession limitation`)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from engine.schema import CLAIMS, EVENTS


def one_claim(
    *,
    due: date,
    principal: int = 0,
    basis: str = "none",
    contractual_rate_bp: int | None = None,
    limitation_kind: str = "general",
    limitation_years: int | None = None,
    title: date | None = None,
    cutoff: date | None = None,
) -> pl.DataFrame:
    row = {
        "claim_id": 1,
        "portfolio_id": "calculator",
        "seller_ref": "calculator",
        "debtor_id": 1,
        "debtor_kind": "consumer",
        "principal": principal,
        "interest_at_cutoff": 0,
        "costs_at_cutoff": 0,
        "due_date": due,
        "cutoff_date": cutoff or due,
        "interest_basis": basis,
        "contractual_rate_bp": contractual_rate_bp,
        "limitation_kind": limitation_kind,
        "limitation_years": limitation_years,
        "title_date": title,
        "purchase_date": cutoff or due,
        "purchase_price": 0,
    }
    return pl.DataFrame([row], schema={c.name: c.dtype for c in CLAIMS})


def events_of(facts: list[tuple[str, date]]) -> pl.DataFrame:
    """Events of claim 1 from (kind, day) pairs, ids in the given order."""
    rows = [
        {
            "event_id": i,
            "claim_id": 1,
            "event_date": day,
            "kind": kind,
            "amount": None,
            "reverses": None,
            "source": None,
        }
        for i, (kind, day) in enumerate(facts, start=1)
    ]
    return pl.DataFrame(rows, schema={c.name: c.dtype for c in EVENTS})


def day_before(d: date) -> date:
    return d - timedelta(days=1)
