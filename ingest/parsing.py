"""Seller text -> typed values, over whole columns, each value either parsed or given a reason.

Every parser takes a String expression and returns ``(value, problem)``: ``problem`` is the
rule a non-empty value breaks (null when it parsed, and null for an empty value: whether a value
is required is validation's business). Money never passes through a float: the digits are split
at the decimal separator and put together as integer grosz.
"""

from __future__ import annotations

from datetime import date

import polars as pl

#: more integer digits than this is no amount of one claim (and would overflow int64 arithmetic)
MAX_WHOLE_DIGITS = 13

_SPACES = r"[\s\u00a0\u202f\u2009']"  # spaces, no-break and thin spaces, apostrophes as thousands marks


def blank_to_null(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def decimal_fixed(text: pl.Expr, decimals: int = 2, what: str = "an amount") -> tuple[pl.Expr, pl.Expr]:
    """'1 234,56' / '1.234,56' / '1,234.56' / '1234.5' / '-0,10 zł' -> value x 10**decimals as int64.

    The decimal separator is the last of '.' and ',' when both appear; a lone separator repeated in
    groups of three ('1.234.567') is a thousands separator; otherwise a lone ',' or '.' is the
    decimal one. Trailing zeros past ``decimals`` are fine ('12,500'), other digits are not."""
    t = text.str.replace_all(_SPACES, "").str.replace(r"(?i)(zł|zl|pln)$", "")
    has_comma, has_dot = t.str.contains(",", literal=True), t.str.contains(".", literal=True)
    comma_thousands = t.str.contains(r"^[+-]?\d{1,3}(,\d{3}){2,}$")
    dot_thousands = t.str.contains(r"^[+-]?\d{1,3}(\.\d{3}){2,}$")
    comma_decimal = has_comma & ~comma_thousands & (~has_dot | t.str.contains(r"\.[^,]*,[^.]*$"))
    plain = (
        pl.when(comma_thousands).then(t.str.replace_all(",", "", literal=True))
        .when(dot_thousands).then(t.str.replace_all(".", "", literal=True))
        .when(comma_decimal).then(t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(t.str.replace_all(",", "", literal=True))
    )  # fmt: skip
    parts = plain.str.extract_groups(r"^([+-]?)(\d*)(?:\.(\d*))?$")
    sign, whole, fraction = parts.struct.field("1"), parts.struct.field("2"), parts.struct.field("3")
    fraction = fraction.fill_null("").str.strip_chars_end("0")
    whole_digits = whole.str.strip_chars_start("0")
    scale = 10**decimals
    value = (
        whole.cast(pl.Int64, strict=False).fill_null(0) * scale
        + fraction.str.pad_end(decimals, "0").str.slice(0, decimals).cast(pl.Int64, strict=False).fill_null(0)
    )
    malformed = parts.struct.field("2").is_null() | ((whole == "") & (parts.struct.field("3").fill_null("") == ""))
    problem = (
        pl.when(text.is_null()).then(None)
        .when(t.str.contains(r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$"))
        .then(pl.lit(f"{what} in scientific notation (a number mangled by Excel?)"))
        .when(malformed).then(pl.lit(f"not {what} (e.g. 1 234,56 or 1234.56)"))
        .when(whole_digits.str.len_chars() > MAX_WHOLE_DIGITS).then(pl.lit(f"{what} too large"))
        .when(fraction.str.len_chars() > decimals)
        .then(pl.lit(f"at most {decimals} decimals" + (" (grosz)" if what == "an amount" else "")))
        .when((sign == "-") & (value > 0)).then(pl.lit("must be >= 0"))
    )  # fmt: skip
    return pl.when(problem.is_null() & text.is_not_null()).then(value), problem


def amount(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """PLN text -> int64 grosz."""
    return decimal_fixed(text, 2, "an amount")


def percent_as_bp(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A yearly rate in percent ('12,5') -> int basis points (1250)."""
    return decimal_fixed(text, 2, "a rate in percent")


def whole_number(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    t = text.str.replace_all(_SPACES, "")
    ok = t.str.contains(r"^\d{1,9}$")
    problem = pl.when(text.is_null()).then(None).when(~ok).then(pl.lit("not a whole number >= 0"))
    return pl.when(ok).then(t.cast(pl.Int64, strict=False)), problem


def calendar_date(text: pl.Expr, today: date | None = None) -> tuple[pl.Expr, pl.Expr]:
    """dd.mm.yyyy, d.m.yy, dd-mm-yyyy, dd/mm/yyyy, yyyy-mm-dd (a time of 00:00 after it, as Excel
    writes, is dropped) -> Date. A two-digit year is 20yy up to this year, else 19yy."""
    today = today or date.today()
    t = text.str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", "")
    iso = t.str.extract_groups(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
    polish = t.str.extract_groups(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})$")
    year = pl.coalesce(iso.struct.field("1"), polish.struct.field("3"))
    month = pl.coalesce(iso.struct.field("2"), polish.struct.field("2"))
    day = pl.coalesce(iso.struct.field("3"), polish.struct.field("1"))
    short = year.str.len_chars() == 2
    pivot = today.year % 100
    year = (
        pl.when(short & (year.cast(pl.Int32, strict=False) <= pivot)).then("20" + year)
        .when(short).then("19" + year).otherwise(year)
    )  # fmt: skip
    value = pl.format("{}-{}-{}", year, month.str.zfill(2), day.str.zfill(2)).str.to_date("%Y-%m-%d", strict=False)
    problem = (
        pl.when(text.is_null()).then(None)
        .when(year.is_null()).then(pl.lit("not a date (dd.mm.yyyy, yyyy-mm-dd or d.m.yy)"))
        .when(value.is_null()).then(pl.lit("no such day in the calendar"))
    )  # fmt: skip
    return value, problem
