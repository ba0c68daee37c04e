"""Small books for allocation tests, written as a collections manager reads them: each claim a
row (balance, days past due, limitation date, debtor kind, PESEL, postal code, flags), decided
by a strategy given as YAML text."""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from allocation.decide import AGENCY_SCHEMA, OPEN_SCHEMA, RECALLED_SCHEMA, Book, decide
from allocation.features import DEBTOR_SCHEMA, PAYMENT_SCHEMA, Inputs
from allocation.strategy import load_strategy

AS_OF = date(2026, 3, 1)
#: a valid PESEL (stdnum.pl.pesel) and NIP (stdnum.pl.nip)
PESEL = "44051401359"
NIP = "1234563218"

DEFAULTS = {
    "balance": 500_000,
    "principal": 400_000,
    "days_past_due": 400,
    "limitation_date": date(2029, 12, 31),
    "due_date": AS_OF - timedelta(days=400),
    "debtor_kind": "consumer",
    "national_id": PESEL,
    "postal_code": "00-950",
    "flags": [],
    "title_date": None,
    "portfolio_id": "P1",
}


def inputs(rows: list[dict], payments: list[dict] = (), as_of: date = AS_OF) -> Inputs:  # type: ignore[assignment]
    """Inputs of claims 1..n (debtor i for claim i) from rows of DEFAULTS' fields."""
    full = [DEFAULTS | {"claim_id": i + 1} | row for i, row in enumerate(rows)]
    for row in full:
        row.setdefault("debtor_id", row["claim_id"])
        row["time_barred"] = row["limitation_date"] is not None and as_of > row["limitation_date"]
    frame = pl.DataFrame(
        full,
        schema_overrides={
            "flags": pl.List(pl.String),
            "title_date": pl.Date,
            "limitation_date": pl.Date,
            "national_id": pl.String,
            "postal_code": pl.String,
        },
    )
    state = frame.select(
        "claim_id",
        total_due="balance",
        principal_due="principal",
        days_past_due=pl.col("days_past_due").cast(pl.Int32),
        limitation_date="limitation_date",
        time_barred="time_barred",
    )
    claims = frame.select("claim_id", "portfolio_id", "debtor_id", "debtor_kind", "due_date", "title_date")
    debtors = frame.select(list(DEBTOR_SCHEMA)).unique("debtor_id", keep="first")
    pays = pl.DataFrame(list(payments), schema=PAYMENT_SCHEMA)
    return Inputs(as_of, state, claims, debtors, pays)


def agencies(*rows: dict) -> pl.DataFrame:
    base = {
        "active": True,
        "capacity": None,
        "capacity_balance": None,
        "regions": [],
        "debtor_kinds": [],
        "balance_min": None,
        "balance_max": None,
        "term_days": None,
    }
    return pl.DataFrame([base | r for r in rows], schema=AGENCY_SCHEMA)


def book(
    rows_or_inputs,
    *,
    agencies_frame: pl.DataFrame | None = None,
    open_placements: list[dict] = (),
    recalled: list[dict] = (),
    performance: dict | None = None,
) -> Book:  # type: ignore[assignment]
    given = rows_or_inputs if isinstance(rows_or_inputs, Inputs) else inputs(rows_or_inputs)
    return Book(
        given,
        pl.DataFrame(list(open_placements), schema=OPEN_SCHEMA),
        pl.DataFrame(list(recalled), schema=RECALLED_SCHEMA),
        agencies_frame if agencies_frame is not None else agencies({"agency_id": "A"}),
        performance or {},
    )


SEGMENTS = """
segments:
  - name: all
    when: {}
"""


def strategy(tmp_path: Path, text: str, segments: str = SEGMENTS, name: str = "strategy.yaml", **files: str):
    """A strategy from YAML text (``segments: segments.yaml`` refers to ``segments``)."""
    (tmp_path / "segments.yaml").write_text(textwrap.dedent(segments), encoding="utf-8")
    for file, body in files.items():
        (tmp_path / file).write_text(textwrap.dedent(body), encoding="utf-8")
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_strategy(path)


def decided(tmp_path: Path, rows, text: str, day: date = AS_OF, **kw):
    """The decisions (by claim_id) of ``text`` over ``rows``."""
    chosen = strategy(tmp_path, text)
    return decide(book(rows, **kw), chosen, day)
