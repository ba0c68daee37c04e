"""Small books for the planner's tests: frames in the planner's schemas, built from a few facts."""

from __future__ import annotations

from datetime import date

import polars as pl

from contacts.plan import (
    CLAIM_HISTORY_SCHEMA,
    CLAIM_SCHEMA,
    DEBTOR_HISTORY_SCHEMA,
    DEBTOR_SCHEMA,
    PLACEMENT_SCHEMA,
    Book,
)


def debtor(debtor_id: int, **overrides) -> dict:
    row = {
        "debtor_id": debtor_id,
        "flags": [],
        "has_letter": True,
        "has_email": True,
        "has_sms": True,
        "has_phone": True,
        "objected": [],
        "address_doubtful": False,
        "virtual_account": True,
    }
    return row | overrides


def claim(claim_id: int, debtor_id: int, total_due: int = 100_00, **overrides) -> dict:
    row = {
        "claim_id": claim_id,
        "debtor_id": debtor_id,
        "debtor_kind": "consumer",
        "total_due": total_due,
        "time_barred": False,
    }
    return row | overrides


def book(
    claims: list[dict],
    debtors: list[dict],
    placements: list[tuple[int, str, date]] = (),
    notices: dict[int, date] | None = None,
    reminded: dict[int, date] | None = None,
    demanded: dict[int, date] | None = None,
    history: list[tuple[int, int, int, date]] = (),
) -> Book:
    """``notices``/``reminded``/``demanded``: claim -> day; ``history``: (debtor, week, month, last_on)."""
    notices, reminded, demanded = notices or {}, reminded or {}, demanded or {}
    ids = sorted(set(notices) | set(reminded) | set(demanded))
    return Book(
        claims=pl.DataFrame(claims, schema=CLAIM_SCHEMA),
        debtors=pl.DataFrame(debtors, schema=DEBTOR_SCHEMA),
        placements=pl.DataFrame(
            [{"claim_id": c, "queue": q, "placed_on": d} for c, q, d in placements], schema=PLACEMENT_SCHEMA
        ),
        claim_history=pl.DataFrame(
            [
                {
                    "claim_id": i,
                    "notice_on": notices.get(i),
                    "reminded_on": reminded.get(i),
                    "demanded_on": demanded.get(i),
                }
                for i in ids
            ],
            schema=CLAIM_HISTORY_SCHEMA,
        ),
        debtor_history=pl.DataFrame(
            [{"debtor_id": d, "week": w, "month": m, "last_on": last} for d, w, m, last in history],
            schema=DEBTOR_HISTORY_SCHEMA,
        ),
    )
