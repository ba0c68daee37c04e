"""docs/data-contract.md's tables as column specs: the public data contract the engine checks its inputs against."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl
import pyarrow as pa

from engine.domain import CLAIM_LIMITATION_KINDS, DebtorKind, EventKind, InterestBasis


@dataclass(frozen=True)
class Column:
    name: str
    dtype: pl.DataType
    nullable: bool = False
    values: tuple[str, ...] | None = None  # the closed set of a string column

    @classmethod
    def enum(cls, name: str, enum: type[StrEnum] | tuple[StrEnum, ...], nullable: bool = False) -> Column:
        return cls(name, pl.String(), nullable, tuple(m.value for m in enum))


CLAIMS: tuple[Column, ...] = (
    Column("claim_id", pl.Int64()),
    Column("portfolio_id", pl.String()),
    Column("seller_ref", pl.String()),
    Column("debtor_id", pl.Int64()),
    Column.enum("debtor_kind", DebtorKind),
    Column("principal", pl.Int64()),
    Column("interest_at_cutoff", pl.Int64()),
    Column("costs_at_cutoff", pl.Int64()),
    Column("due_date", pl.Date()),
    Column("cutoff_date", pl.Date()),
    Column.enum("interest_basis", InterestBasis),
    Column("contractual_rate_bp", pl.Int32(), nullable=True),
    Column.enum("limitation_kind", CLAIM_LIMITATION_KINDS),
    Column("limitation_years", pl.Int8(), nullable=True),
    Column("title_date", pl.Date(), nullable=True),
    Column("purchase_date", pl.Date()),
    Column("purchase_price", pl.Int64()),
)

EVENTS: tuple[Column, ...] = (
    Column("event_id", pl.Int64()),
    Column("claim_id", pl.Int64()),
    Column("event_date", pl.Date()),
    Column.enum("kind", EventKind),
    Column("amount", pl.Int64(), nullable=True),
    Column("reverses", pl.Int64(), nullable=True),
    Column("source", pl.String(), nullable=True),
)

#: Contract columns the engine does not read: ``compute_state`` type-checks them when they are
#: there and does not need them (``cession state`` does not even read them from the files). The
#: store and ingest, which keep the record, require every column.
NOT_READ_BY_ENGINE: dict[str, tuple[str, ...]] = {
    "claims": ("seller_ref", "debtor_id", "debtor_kind", "purchase_date", "purchase_price"),
    "events": ("source",),
}


def engine_columns(spec: tuple[Column, ...], table: str) -> list[str]:
    """The columns of ``table`` the engine reads."""
    return [c.name for c in spec if c.name not in NOT_READ_BY_ENGINE[table]]


CLAIM_STATE = pa.schema(
    [
        ("claim_id", pa.int64()),
        ("as_of", pa.date32()),
        ("principal_due", pa.int64()),
        ("interest_due", pa.int64()),
        ("costs_due", pa.int64()),
        ("total_due", pa.int64()),
        ("interest_accrued", pa.int64()),
        ("interest_time_barred", pa.int64()),
        ("paid_costs", pa.int64()),
        ("paid_interest", pa.int64()),
        ("paid_principal", pa.int64()),
        ("overpaid", pa.int64()),
        ("last_payment_date", pa.date32()),
        ("limitation_date", pa.date32()),
        ("time_barred", pa.bool_()),
        ("days_past_due", pa.int32()),
    ]
)

#: Money columns of claim_state (int64 grosz).
STATE_MONEY = tuple(f.name for f in CLAIM_STATE if f.type == pa.int64() and f.name != "claim_id")
