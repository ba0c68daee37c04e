"""The CSV exports of banks, read through profiles (YAML, like ingest's seller profiles): which line
the table starts at, which column is which, how the bank writes dates, and which kinds of
operation are returns. Shipped profiles live in payments/statements/profiles/*.yaml; ``--profile``
takes the name of one or a path to a file of your own.

Amounts go through ingest's parser of Polish amounts (``1 234,56``, no float): a signed ``amount``
column (a minus: money out) or two columns ``credit`` and ``debit``. The fund's account is the
``--bank-account`` given, else read from the preamble: the first 26-digit number on the line after
the one starting with ``account_after`` (or on that line itself).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.parsing import amount as parse_amount
from payments.statements.lines import (
    CREDIT,
    DEBIT,
    LINE_SCHEMA,
    Statement,
    StatementError,
    accounts_in,
    nrb_expr,
    sha256_of,
    with_refs,
)

SHIPPED = Path(__file__).with_name("profiles")
#: the columns a profile may name (LINE_SCHEMA's, and ``kind``: the bank's name of the operation)
COLUMNS = (
    "booking_date",
    "value_date",
    "amount",
    "credit",
    "debit",
    "currency",
    "title",
    "counterparty_name",
    "counterparty_account",
    "virtual_account",
    "bank_ref",
    "end_to_end_id",
    "kind",
)


class BankProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    bank: str | None = None
    encoding: Literal["utf-8", "cp1250", "iso-8859-2"] = "utf-8"
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    #: the table's header line starts with this (lines before it are the preamble)
    header_starts_with: str | None = None
    #: the table ends at the first line after the header starting with this ("": a line of nothing
    #: but delimiters); none: at the end of the file
    stop_at: str | None = None
    #: the preamble line after which (or on which) the account number is written
    account_after: str | None = None
    date_format: str = "%Y-%m-%d"
    #: LINE column -> the bank's header
    columns: dict[str, str]
    #: the values of the ``kind`` column that mark a return of a credit (matched ignoring case, as a prefix)
    returns: list[str] = []

    @field_validator("columns")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        for column in value:
            if column not in COLUMNS:
                raise ValueError(f"unknown column {column!r}; a bank profile names: {', '.join(COLUMNS)}")
        return value

    @model_validator(mode="after")
    def _amounts(self) -> BankProfile:
        if ("amount" in self.columns) == ("credit" in self.columns or "debit" in self.columns):
            raise ValueError("name either one signed 'amount' column or the 'credit' and 'debit' columns")
        if "booking_date" not in self.columns:
            raise ValueError("the 'booking_date' column is required")
        return self


class BankProfileError(StatementError):
    """A bank profile that cannot be used."""


def load_bank_profile(name_or_path: str | Path) -> tuple[str, BankProfile]:
    """(its name, the profile): a shipped profile by name or a YAML file."""
    path = Path(name_or_path)
    if not path.exists():
        path = SHIPPED / f"{name_or_path}.yaml"
        if not path.exists():
            raise BankProfileError(
                f"bank profile {name_or_path!r}: no such file, and no shipped profile of that name "
                f"(shipped: {', '.join(shipped_bank_profiles())})"
            )
    try:
        return path.stem, BankProfile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as e:
        raise BankProfileError(f"bank profile {path}: {e}") from None


@cache
def shipped_bank_profiles() -> tuple[str, ...]:
    return tuple(path.stem for path in sorted(SHIPPED.glob("*.yaml")))


def read(path: Path, profile_name: str | Path, bank_account: str | None) -> Statement:
    name, profile = load_bank_profile(profile_name)
    try:
        text = path.read_bytes().decode("utf-8-sig" if profile.encoding == "utf-8" else profile.encoding)
    except UnicodeDecodeError as e:
        raise StatementError(f"{path}: not {profile.encoding} text as profile {name!r} says: {e}") from None
    lines = text.splitlines()
    start = _header_line(path, lines, profile, name)
    named = _account(lines[:start], profile)
    if bank_account is not None and named is not None and named != bank_account:
        raise StatementError(f"{path}: an export of account {named}, not of --bank-account {bank_account}")
    account = bank_account or named
    if account is None:
        raise StatementError(
            f"{path}: the account is not in the file's preamble ({profile.account_after!r}): give --bank-account"
        )
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if profile.stop_at is not None
            and (_blank(lines[i], profile.delimiter) if profile.stop_at == "" else lines[i].startswith(profile.stop_at))
        ),
        len(lines),
    )
    table = pl.read_csv(
        io.StringIO("\n".join(lines[start:end])),
        separator=profile.delimiter,
        infer_schema=False,
        truncate_ragged_lines=True,
    )
    table = table.rename({c: c.strip().strip('"') for c in table.columns})
    missing = [h for h in profile.columns.values() if h not in table.columns]
    if missing:
        raise StatementError(
            f"{path}: no column {', '.join(repr(m) for m in missing)} that profile {name!r} names "
            f"(the file's: {', '.join(table.columns)})"
        )
    return Statement(path, f"csv:{name}", account, None, _lines(table, profile), sha256_of(path))


def _blank(line: str, delimiter: str) -> bool:
    """A line with nothing but delimiters and spaces (how exports end their tables)."""
    return line.replace(delimiter, "").replace('"', "").strip() == ""


def _header_line(path: Path, lines: list[str], profile: BankProfile, name: str) -> int:
    marker = profile.header_starts_with
    if marker is None:
        return 0
    for i, line in enumerate(lines):
        if line.lstrip().startswith(marker):
            return i
    raise StatementError(f"{path}: no line starts with {marker!r} (the table's header in profile {name!r})")


def _account(preamble: list[str], profile: BankProfile) -> str | None:
    if profile.account_after is None:
        return None
    for i, line in enumerate(preamble):
        if line.startswith(profile.account_after):
            for candidate in preamble[i : i + 2]:
                found = accounts_in(candidate, set())
                if found:
                    return found[0]
    return None


def _lines(table: pl.DataFrame, profile: BankProfile) -> pl.DataFrame:
    col = pl.col
    named = table.select(pl.col(header).alias(column) for column, header in profile.columns.items())
    # spaces and the apostrophes some banks quote account numbers with; an empty cell is no value
    stripped = pl.col(pl.String).str.strip_chars().str.strip_chars("'").str.strip_chars()
    named = named.with_columns(pl.when(stripped != "").then(stripped))
    if "amount" in named.columns:
        signed = named.get_column("amount").str.replace_all(r"\s", "")
        negative = signed.str.starts_with("-")
        parsed = parse_amount(signed.str.strip_prefix("-").str.strip_prefix("+"))
    else:
        credit = parse_amount(named.get_column("credit").fill_null(""))
        debit = parse_amount(named.get_column("debit").fill_null(""))
        negative = credit.get_column("value").fill_null(0) == 0
        parsed = pl.DataFrame(
            {
                "value": pl.when(negative).then(debit["value"]).otherwise(credit["value"]),
                "problem": pl.when(negative).then(debit["problem"]).otherwise(credit["problem"]),
            }
        )
    booking = named.get_column("booking_date").str.to_date(profile.date_format, strict=False)
    value_day = (
        named.get_column("value_date").str.to_date(profile.date_format, strict=False)
        if "value_date" in named.columns
        else booking
    )
    kind = named.get_column("kind").fill_null("").str.to_uppercase() if "kind" in named.columns else None
    is_return = negative & (
        pl.Series([False] * named.height)
        if kind is None or not profile.returns
        else pl.select(pl.any_horizontal(pl.lit(kind).str.starts_with(r.upper()) for r in profile.returns)).to_series()
    )
    amount = parsed.get_column("value")
    problem = (
        pl.select(
            pl.when(pl.lit(booking).is_null())
            .then(pl.lit(f"booking_date: not a date as {profile.date_format}"))
            .when(pl.lit(parsed.get_column("problem")).is_not_null())
            .then(pl.lit("amount: ") + pl.lit(parsed.get_column("problem")))
            .when(pl.lit(amount).is_null() | (pl.lit(amount) == 0))
            .then(pl.lit("amount: none, or zero"))
        )
        .to_series()
        .alias("problem")
    )
    frame = named.select(
        pl.int_range(1, named.height + 1, dtype=pl.Int64).alias("position"),
        *(
            col(c)
            for c in ("bank_ref", "end_to_end_id", "currency", "title", "counterparty_name")
            if c in named.columns
        ),
        *(nrb_expr(col(c)).alias(c) for c in ("virtual_account",) if c in named.columns),
        *(pl.coalesce(nrb_expr(col(c)), col(c)).alias(c) for c in ("counterparty_account",) if c in named.columns),
    ).with_columns(
        booking_date=booking,
        value_date=value_day,
        amount=amount,
        direction=pl.when(pl.lit(negative)).then(pl.lit(DEBIT)).otherwise(pl.lit(CREDIT)),
        is_return=is_return,
        problem=problem,
    )
    frame = frame.select(
        (frame.get_column(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t)).alias(c)
        for c, t in LINE_SCHEMA.items()
    )
    return with_refs(frame)
