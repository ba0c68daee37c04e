"""A bank statement as Cession reads it, whatever the bank wrote: one row per statement line.

Every parser (MT940, camt.053, a bank's CSV through a profile) gives a ``Statement``: the fund's
account it is for, the bank's reference of the statement, and ``lines``, a frame of ``LINE_SCHEMA``.
A line the parser could not read is kept with ``problem`` set (it is then refused with that reason):
nothing a statement holds is dropped on the way in.

Amounts are int64 grosz, always > 0; ``direction`` says which way the money went (``credit``: into
the fund's account). A ``return`` is a debit that gives a credit back (a chargeback, a return of a
mistaken payment: MT940's ``RC`` mark, camt.053's ``RtrInf`` or reversal indicator); ``return_of``
is the original credit's reference when the bank gives it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from engine.errors import InputError

LINE_SCHEMA: dict[str, pl.DataType] = {
    "position": pl.Int64(),  # 1-based, in the file's order
    "bank_ref": pl.String(),  # the bank's reference of the transaction (unique per account)
    "end_to_end_id": pl.String(),
    "booking_date": pl.Date(),
    "value_date": pl.Date(),
    "amount": pl.Int64(),  # grosz, > 0
    "currency": pl.String(),
    "direction": pl.String(),  # credit | debit
    "is_return": pl.Boolean(),
    "return_of": pl.String(),  # a return: the original credit's reference, when the bank gives it
    "title": pl.String(),
    "counterparty_name": pl.String(),
    "counterparty_account": pl.String(),  # the payer's account (26-digit NRB or an IBAN)
    "virtual_account": pl.String(),  # the fund's account credited (26-digit NRB), if not the statement's own
    "problem": pl.String(),  # why the line could not be read (then it is refused with this reason)
}

CREDIT, DEBIT = "credit", "debit"
_NRB = re.compile(r"(?<!\d)(\d{26})(?!\d)")


class StatementError(InputError):
    """A statement file that cannot be read at all (not MT940, not camt.053, no profile fits...)."""


@dataclass(frozen=True)
class Statement:
    """One file's statement(s) of one account: its lines, and where they came from."""

    file: Path
    format: str  # mt940 | camt053 | csv:<profile>
    bank_account: str  # 26-digit NRB of the fund's account
    statement_ref: str | None
    lines: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=LINE_SCHEMA))
    sha256: str = ""


def nrb(text: str | None) -> str | None:
    """A Polish account number as 26 digits (spaces, dashes, slashes and a leading PL dropped), or None."""
    if not text:
        return None
    compact = re.sub(r"[\s\-/\u00a0']", "", text).upper()
    compact = compact.removeprefix("PL")
    return compact if re.fullmatch(r"\d{26}", compact) else None


def nrb_expr(text: pl.Expr) -> pl.Expr:
    """``nrb`` over a column."""
    compact = text.str.replace_all(r"[\s\-/\u00a0']", "").str.to_uppercase().str.strip_prefix("PL")
    return pl.when(compact.str.contains(r"^\d{26}$")).then(compact)


def accounts_in(text: str, excluded: set[str]) -> list[str]:
    """The 26-digit account numbers written in ``text`` (spaced or not), but ``excluded``."""
    squeezed = re.sub(r"(?<=\d)[ \u00a0-](?=\d)", "", text)
    return [a for a in _NRB.findall(squeezed) if a not in excluded]


def grosz(text: str) -> int:
    """'1234.56' / '1234,5' / '1234' -> grosz, exactly (no float); InputError otherwise."""
    found = re.fullmatch(r"\s*(\d+)(?:[.,](\d{0,2}))?\s*", text or "")
    if not found:
        raise InputError(f"{text!r}: not an amount")
    return int(found[1]) * 100 + int((found[2] or "").ljust(2, "0"))


#: what identifies a line the bank gave no reference: the same money, day, title and payer
_IDENTITY = ("booking_date", "amount", "direction", "title", "counterparty_name", "counterparty_account")


def with_refs(lines: pl.DataFrame) -> pl.DataFrame:
    """Lines whose bank gave no reference get ``sha:<digest>`` of what they are (day, amount,
    direction, title, payer) and of how many such lines came before them in the file: the same
    statement, or an export of a longer period holding the same days, gives each line the same
    reference again, and two equal payments on one day still get two."""
    missing = lines.get_column("bank_ref").is_null()
    if not missing.any():
        return lines
    identity = pl.concat_str([pl.col(c).cast(pl.String).fill_null("") for c in _IDENTITY], separator="|")
    keyed = lines.with_columns(_identity=identity).with_columns(
        _nth=pl.col("position").cum_count().over("_identity").cast(pl.String)
    )
    texts = keyed.filter(missing).select(pl.concat_str("_identity", "_nth", separator="|#")).to_series().to_list()
    digests = pl.Series([f"sha:{hashlib.sha256(t.encode()).hexdigest()[:24]}" for t in texts], dtype=pl.String)
    return lines.with_columns(lines.get_column("bank_ref").scatter(missing.arg_true(), digests))


def frame(rows: list[dict]) -> pl.DataFrame:
    """Parsed rows (dicts of ``LINE_SCHEMA``'s keys, any missing as null) as the lines frame, each
    with a reference (``with_refs``)."""
    return with_refs(pl.DataFrame([{c: r.get(c) for c in LINE_SCHEMA} for r in rows], schema=LINE_SCHEMA))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
