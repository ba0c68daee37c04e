"""Bank statements in and the suspense queue: the service under `cession statements` and
`cession suspense` (payments/: the parsers, the matching, the import, the queue)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlalchemy as sa

from engine.domain import SplitRule
from engine.errors import InputError
from payments import suspense
from payments.importing import ImportReport, import_statement
from payments.statements import read_statement

IMPORTS_SCHEMA = {
    "import_id": pl.Int64(),
    "imported_at": pl.String(),
    "bank_account": pl.String(),
    "file_name": pl.String(),
    "format": pl.String(),
    "statement_ref": pl.String(),
    "lines_read": pl.Int64(),
    "posted": pl.Int64(),
    "suspense": pl.Int64(),
    "refused": pl.Int64(),
    "already": pl.Int64(),
    "events": pl.Int64(),
    "actor": pl.String(),
}


def split_rule(*, given: str | None) -> SplitRule:
    """The split rule named (None: oldest due first), or InputError listing the rules."""
    if given is None:
        return SplitRule.OLDEST_DUE_FIRST
    try:
        return SplitRule(given)
    except ValueError:
        raise InputError(f"--split {given!r}: one of {SplitRule.spelled()}") from None


def import_file(
    *,
    store: sa.Engine,
    file: Path,
    bank_account: str | None = None,
    profile: str | None = None,
    split: str | None = None,
    who: str | None = None,
) -> ImportReport:
    """Read ``file`` (MT940, camt.053, or a bank's CSV through ``profile``) and import it."""
    rule = split_rule(given=split)
    statement = read_statement(file, profile=profile, bank_account=bank_account)
    return import_statement(store, statement, rule=rule, who=who)


def imports(*, store: sa.Engine, limit: int = 50) -> pl.DataFrame:
    """The latest statement imports, newest first."""
    listed = ", ".join(
        c if c != "imported_at" else "CAST(imported_at AS VARCHAR) AS imported_at" for c in IMPORTS_SCHEMA
    )
    from engine.store.bulk import read_frame

    with store.connect() as conn:
        return read_frame(
            conn, f"SELECT {listed} FROM statement_imports ORDER BY import_id DESC LIMIT {int(limit)}", IMPORTS_SCHEMA
        )


def suspense_lines(*, store: sa.Engine, status: str = "open", bank_account: str | None = None) -> pl.DataFrame:
    from payments.statements.lines import nrb

    account = None
    if bank_account is not None:
        account = nrb(bank_account)
        if account is None:
            raise InputError(f"--bank-account {bank_account!r}: not a Polish account number (26 digits, or PL + 26)")
    with store.connect() as conn:
        return suspense.lines(conn, status=status, bank_account=account)


def assign(
    *,
    store: sa.Engine,
    line_id: int,
    claim_id: int | None = None,
    debtor_id: int | None = None,
    split: str | None = None,
    note: str | None = None,
    who: str | None = None,
) -> pl.DataFrame:
    return suspense.assign(
        store, line_id, claim_id=claim_id, debtor_id=debtor_id, rule=split_rule(given=split), note=note, who=who
    )


def refund(*, store: sa.Engine, line_id: int, note: str | None = None, who: str | None = None) -> dict:
    return suspense.refund(store, line_id, note=note, who=who)
