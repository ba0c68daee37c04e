"""Debtors out of the store with their virtual accounts (engine/store/virtual_accounts.py): what a
purchaser gives its bank (to open the numbers), its print house and its agencies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from engine.store import virtual_accounts
from engine.store.bulk import read_frame
from engine.store.records import DEBTOR_SCHEMA
from ledger.files import format_of, write

#: the debtors table without its flags, and the debtor's number
EXPORT_SCHEMA = {c: t for c, t in DEBTOR_SCHEMA.items() if c != "flags"} | {"virtual_account": pl.String()}


@dataclass(frozen=True)
class Exported:
    debtors: int  # rows written
    assigned: int  # virtual accounts given now (debtors stored before they had one)
    out: Path


def export(*, store: sa.Engine, out: Path, portfolio: str | None = None) -> Exported:
    """Every stored debtor (of ``portfolio``'s claims, if given) with their virtual account, to
    ``out`` (Parquet or CSV); debtors without a number are given one first, in the same transaction."""
    format_of(out)
    prefix = virtual_accounts.configured_prefix()
    where, params = ("", {})
    if portfolio is not None:
        where, params = (
            " WHERE v.debtor_id IN (SELECT debtor_id FROM claims WHERE portfolio_id = :portfolio)",
            {"portfolio": portfolio},
        )
    with store.begin() as conn:
        assigned = virtual_accounts.assign_missing(conn, prefix)
        frame = read_frame(
            conn,
            "SELECT v.debtor_id, COALESCE(d.debtor_kind, (SELECT min(c.debtor_kind) FROM claims c"
            " WHERE c.debtor_id = v.debtor_id)), d.national_id, d.name, d.street, d.postal_code, d.city,"
            " d.phone, d.email, v.nrb FROM virtual_accounts v LEFT JOIN debtors d ON d.debtor_id = v.debtor_id"
            f"{where} ORDER BY v.debtor_id",
            EXPORT_SCHEMA,
            params,
        )
    frame = frame.with_columns(iban=pl.lit("PL") + pl.col("virtual_account"))
    write(frame, out, sheet="debtors", money=())
    return Exported(frame.height, assigned, out)


def virtual_account(*, store: sa.Engine, debtor_id: int) -> str | None:
    """One debtor's virtual account (26 digits), None if the debtor has none."""
    with store.connect() as conn:
        found = virtual_accounts.of_debtors(conn, pl.Series([debtor_id]))
    return found["nrb"][0] if found.height else None
