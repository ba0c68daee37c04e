"""Polish identifiers checked over whole columns: PESEL, NIP, REGON, IBAN.

python-stdnum (``stdnum.pl.pesel``, ``stdnum.pl.nip``, ``stdnum.pl.regon``, ``stdnum.iban``) is the
definition. PESEL and NIP arrive on every row of a file of millions, where one Python call per row
(~5 µs) would cost a minute, so their rules (digits, length, weighted check digit, and PESEL's
birth date) are the same arithmetic as stdnum's written as polars expressions;
tests/ingest/test_identifiers.py holds them equal to stdnum on generated and corrupted numbers.
IBAN (stdnum's takes ~100 µs a number) is the ISO 13616 mod-97 check over the whole column, with
stdnum's length for Polish accounts; REGON, an optional and rare column, goes through stdnum
itself, once per distinct value.
"""

from __future__ import annotations

import polars as pl
from stdnum.pl import regon as stdnum_regon

PESEL_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def compact(text: pl.Expr) -> pl.Expr:
    """stdnum's compact(): separators (spaces, hyphens) out, upper case, a leading 'PL' dropped."""
    cleaned = text.str.replace_all(r"[\s\-\u00a0]", "").str.to_uppercase()
    return cleaned.str.strip_prefix("PL")


def _digit(text: pl.Expr, i: int) -> pl.Expr:
    return text.str.slice(i, 1).cast(pl.Int32, strict=False)


def _weighted(text: pl.Expr, weights: tuple[int, ...]) -> pl.Expr:
    return pl.sum_horizontal(_digit(text, i) * w for i, w in enumerate(weights))


def pesel_birth_date(pesel: pl.Expr) -> pl.Expr:
    """The birth date a PESEL encodes (month + 20/40/60/80 for 2000s/2100s/2200s/1800s), null if none."""
    month = pesel.str.slice(2, 2).cast(pl.Int32, strict=False)
    century = pl.when(month < 20).then(1900).when(month < 40).then(2000).when(month < 60).then(2100)
    century = century.when(month < 80).then(2200).otherwise(1800)
    year = century + pesel.str.slice(0, 2).cast(pl.Int32, strict=False)
    text = pl.format("{}-{}-{}", year, (month % 20).cast(pl.String).str.zfill(2), pesel.str.slice(4, 2))
    return text.str.to_date("%Y-%m-%d", strict=False)


def pesel_problem(pesel: pl.Expr) -> pl.Expr:
    """Why a compacted PESEL is not valid (null if it is), stdnum.pl.pesel.validate's rules."""
    check = (10 - _weighted(pesel, PESEL_WEIGHTS) % 10) % 10
    return (
        pl.when(~pesel.str.contains("^[0-9]+$"))
        .then(pl.lit("PESEL must be digits only"))
        .when(pesel.str.len_chars() != 11)
        .then(pl.lit("PESEL must be 11 digits (a leading zero lost in Excel?)"))
        .when(check != _digit(pesel, 10))
        .then(pl.lit("PESEL check digit does not match"))
        .when(pesel_birth_date(pesel).is_null())
        .then(pl.lit("PESEL encodes no real birth date"))
    )


def nip_problem(nip: pl.Expr) -> pl.Expr:
    """Why a compacted NIP is not valid (null if it is), stdnum.pl.nip.validate's rules."""
    return (
        pl.when(~nip.str.contains("^[0-9]+$"))
        .then(pl.lit("NIP must be digits only"))
        .when(nip.str.len_chars() != 10)
        .then(pl.lit("NIP must be 10 digits"))
        .when(_weighted(nip, NIP_WEIGHTS) % 11 != _digit(nip, 9))
        .then(pl.lit("NIP check digit does not match"))
    )


def _by_stdnum(values: pl.Series, is_valid) -> pl.Series:
    """Whether each value is valid, stdnum called once per distinct value."""
    distinct = values.drop_nulls().unique()
    verdict = pl.DataFrame(
        {"v": distinct, "ok": [bool(is_valid(v)) for v in distinct.to_list()]},
        schema={"v": pl.String, "ok": pl.Boolean},
    )
    return values.to_frame("v").join(verdict, on="v", how="left", maintain_order="left").get_column("ok")


def regon_valid(values: pl.Series) -> pl.Series:
    return _by_stdnum(values, stdnum_regon.is_valid)


_LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_IBAN_DIGITS = 72  # 34 characters, each letter two digits, zero-padded to whole chunks of 9


def iban_problem(iban: pl.Series) -> pl.Series:
    """Why each compacted IBAN is not valid (null if it is or is empty): its form, Poland's length
    (28), and the mod-97 check of ISO 13616 (the first four characters moved to the end, letters
    as 10..35)."""
    col = pl.col
    f = iban.to_frame("iban").with_columns(
        moved=(col("iban").str.slice(4) + col("iban").str.slice(0, 4))
        .str.replace_many(_LETTERS, [str(10 + i) for i in range(26)])
        .str.pad_start(_IBAN_DIGITS, "0")
    )
    remainder = pl.lit(0, pl.Int64)
    for i in range(0, _IBAN_DIGITS, 9):
        remainder = (remainder * 1_000_000_000 + col("moved").str.slice(i, 9).cast(pl.Int64, strict=False)) % 97
    f = f.with_columns(remainder=remainder)
    return f.select(
        pl.when(col("iban").is_null())
        .then(None)
        .when(~col("iban").str.contains(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"))
        .then(pl.lit("IBAN: two letters, two check digits, then the account (or a 26-digit NRB)"))
        .when(
            col("iban").str.starts_with("PL")
            & ((col("iban").str.len_chars() != 28) | ~col("iban").str.contains(r"^PL[0-9]+$"))
        )
        .then(pl.lit("IBAN: a Polish account is PL and 26 digits"))
        .when(col("remainder") != 1)
        .then(pl.lit("IBAN check digits do not match"))
    ).to_series()
