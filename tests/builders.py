"""Small builders of docs/data-contract.md frames for readable tests."""

from __future__ import annotations

from datetime import date

import polars as pl

from engine.schema import CLAIMS, EVENTS

CLAIM_DEFAULTS = {
    "portfolio_id": "P1",
    "debtor_id": 1,
    "debtor_kind": "consumer",
    "principal": 100_000,
    "interest_at_cutoff": 0,
    "costs_at_cutoff": 0,
    "interest_basis": "statutory_late",
    "contractual_rate_bp": None,
    "limitation_kind": "general",
    "limitation_years": None,
    "title_date": None,
    "purchase_price": 1_000,
}


def claim(claim_id: int = 1, *, due: date, cutoff: date | None = None, **fields) -> dict:
    row = dict(CLAIM_DEFAULTS, claim_id=claim_id, seller_ref=f"REF-{claim_id}", due_date=due)
    row["cutoff_date"] = cutoff or due
    row["purchase_date"] = row["cutoff_date"]
    row.update(fields)
    return row


def event(event_id: int, kind: str, day: date, amount: int | None = None, *, claim_id: int = 1, reverses=None) -> dict:
    return {
        "event_id": event_id,
        "claim_id": claim_id,
        "event_date": day,
        "kind": kind,
        "amount": amount,
        "reverses": reverses,
        "source": None,
    }


def frames(claims: list[dict], events: list[dict] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:  # type: ignore[assignment]
    c = pl.DataFrame(claims, schema={col.name: col.dtype for col in CLAIMS})
    e = pl.DataFrame(list(events), schema={col.name: col.dtype for col in EVENTS})
    return c, e


def state_of(
    compute_state, claims: list[dict], events: list[dict] = (), as_of: date = date(2026, 3, 1), **options
) -> list[dict]:  # type: ignore[assignment]
    """Rows of claim_state by ``compute_state`` (the engine's, or the executor fixture's)."""
    options.setdefault("allow_stale_rates", True)
    return compute_state(*frames(claims, events), as_of, **options).to_pylist()
