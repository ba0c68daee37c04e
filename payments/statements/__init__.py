"""Bank statements in: MT940 (``mt940``), ISO 20022 camt.053 (``camt053``) and banks' CSV exports
through profiles (``csv_profiles``), each read into one ``Statement`` of ``LINE_SCHEMA`` lines."""

from __future__ import annotations

from pathlib import Path

from payments.statements.lines import LINE_SCHEMA, Statement, StatementError, nrb

__all__ = ["LINE_SCHEMA", "Statement", "StatementError", "read_statement"]


def read_statement(path: Path, *, profile: str | Path | None = None, bank_account: str | None = None) -> Statement:
    """The statement in ``path``: CSV through ``profile`` when one is given, else MT940 or camt.053
    as the file's first bytes say. ``bank_account``: the fund's account (26-digit NRB or PL IBAN)
    the statement is for; a file that names another account is refused."""
    from payments.statements import camt053, csv_profiles, mt940

    if not path.is_file():
        raise StatementError(f"{path}: no such file")
    given = None
    if bank_account is not None:
        given = nrb(bank_account)
        if given is None:
            raise StatementError(
                f"--bank-account {bank_account!r}: not a Polish account number (26 digits, or PL + 26)"
            )
    if profile is not None:
        return csv_profiles.read(path, profile, given)
    with path.open("rb") as f:
        head = f.read(4096).decode("utf-8", errors="replace")
    if camt053.looks_like(head):
        statement = camt053.read(path)
    elif mt940.looks_like(head):
        statement = mt940.read(path)
    else:
        raise StatementError(
            f"{path}: neither MT940 (:20:, :25:, :61:) nor camt.053 XML; a bank's CSV export needs --profile "
            f"(shipped: {', '.join(csv_profiles.shipped_bank_profiles())})"
        )
    if given is not None and statement.bank_account != given:
        raise StatementError(f"{path}: a statement of account {statement.bank_account}, not of --bank-account {given}")
    return statement
