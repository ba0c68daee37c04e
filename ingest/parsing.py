"""Seller text -> typed values, over whole columns, each value either parsed or given a reason.

Every parser takes a String column and returns a frame ``value, problem``: ``problem`` is the rule
a non-empty value breaks (null when it parsed, and null for an empty value: whether a value is
required is validation's business). Each step is computed once into a column of its own (an
expression tree that repeats a sub-expression would compute it again). Money never passes through
a float: the digits are split at the decimal separator and put together as integer grosz.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import polars as pl

#: more integer digits than this is no amount of one claim (and would overflow int64 arithmetic)
MAX_WHOLE_DIGITS = 13

_SPACES = r"[\s\u00a0\u202f\u2009']"  # spaces, no-break and thin spaces, apostrophes as thousands marks
col = pl.col


def detached(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with its own copy of its text: a polars string is a view into the buffer of the
    column it was cut from, so a few rows kept from a batch (rejects, debtors to match) would keep
    the whole batch's text alive (10M rows: gigabytes)."""
    return pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))  # type: ignore[return-value]


def blank_to_null(text: pl.Expr) -> pl.Expr:
    stripped = text.str.strip_chars()
    return pl.when(stripped == "").then(None).otherwise(stripped)


def _fast_or_full(text: pl.Series, fast: pl.Series, full: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """``value, problem`` of ``text``: the fast path's value where it has one (the plain forms
    most rows are written in, read by one regex and a cast), ``full`` on the other rows only."""
    rest = fast.is_null().arg_true()
    problem = pl.Series("problem", dtype=pl.String).extend_constant(None, len(text))
    if len(rest) == 0:
        return pl.DataFrame([fast.alias("value"), problem])
    out = full(text.gather(rest))
    return pl.DataFrame(
        [fast.scatter(rest, out.get_column("value")).alias("value"), problem.scatter(rest, out.get_column("problem"))]
    )


def decimal_fixed(text: pl.Series, decimals: int = 2, what: str = "an amount") -> pl.DataFrame:
    """'1 234,56' / '1.234,56' / '1,234.56' / '1234.5' / '-0,10 zł' -> value x 10**decimals as int64.

    The decimal separator is the last of '.' and ',' when both appear; a lone separator repeated in
    groups of three ('1.234.567') is a thousands separator; otherwise a lone ',' or '.' is the
    decimal one. Trailing zeros past ``decimals`` are fine ('12,500'), other digits are not.

    Digits with at most ``decimals`` after a lone ',' or '.' ('12 345,6') take a fast path: the
    decimal cast reads them exactly, as integers (tests/ingest/test_parsing.py holds both paths
    equal)."""
    plain = text.str.replace_all(_SPACES, "")
    fraction = rf"(?:[.,]\d{{1,{decimals}}})?" if decimals else ""
    simple = plain.str.contains(rf"^\d{{1,{MAX_WHOLE_DIGITS}}}{fraction}$")
    fixed = pl.Decimal(MAX_WHOLE_DIGITS + decimals, decimals)
    fast = (
        pl.select(
            pl.when(pl.lit(simple)).then(pl.lit(plain).str.replace(",", ".", literal=True).cast(fixed, strict=False))
        )
        .to_series()
        .to_physical()
        .cast(pl.Int64)
    )
    return _fast_or_full(text, fast, lambda rest: _decimal_fixed_full(rest, decimals, what))


def _decimal_fixed_full(text: pl.Series, decimals: int, what: str) -> pl.DataFrame:
    f = text.to_frame("raw").with_columns(
        t=col("raw").str.replace_all(_SPACES, "").str.replace(r"(?i)(zł|zl|pln)$", "")
    )
    f = f.with_columns(
        has_comma=col("t").str.contains(",", literal=True),
        has_dot=col("t").str.contains(".", literal=True),
        comma_thousands=col("t").str.contains(r"^[+-]?\d{1,3}(,\d{3}){2,}$"),
        dot_thousands=col("t").str.contains(r"^[+-]?\d{1,3}(\.\d{3}){2,}$"),
        dot_then_comma=col("t").str.contains(r"\.[^,]*,[^.]*$"),
        scientific=col("t").str.contains(r"^[+-]?\d+([.,]\d+)?[eE][+-]?\d+$"),
    )
    comma_decimal = col("has_comma") & ~col("comma_thousands") & (~col("has_dot") | col("dot_then_comma"))
    t = col("t")
    f = f.with_columns(
        plain=pl.when(col("comma_thousands"))
        .then(t.str.replace_all(",", "", literal=True))
        .when(col("dot_thousands"))
        .then(t.str.replace_all(".", "", literal=True))
        .when(comma_decimal)
        .then(t.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True))
        .otherwise(t.str.replace_all(",", "", literal=True))
    )
    f = f.with_columns(parts=col("plain").str.extract_groups(r"^([+-]?)(\d*)(?:\.(\d*))?$")).with_columns(
        sign=col("parts").struct.field("1"),
        whole=col("parts").struct.field("2"),
        given=col("parts").struct.field("3"),
    )
    f = f.with_columns(fraction=col("given").fill_null("").str.strip_chars_end("0"))
    f = f.with_columns(
        value=col("whole").cast(pl.Int64, strict=False).fill_null(0) * 10**decimals
        + col("fraction").str.pad_end(decimals, "0").str.slice(0, decimals).cast(pl.Int64, strict=False).fill_null(0),
        malformed=col("whole").is_null() | ((col("whole") == "") & (col("given").fill_null("") == "")),
        too_large=col("whole").str.strip_chars_start("0").str.len_chars() > MAX_WHOLE_DIGITS,
    )
    problem = (
        pl.when(col("raw").is_null())
        .then(None)
        .when(col("scientific"))
        .then(pl.lit(f"{what} in scientific notation (a number mangled by Excel?)"))
        .when(col("malformed"))
        .then(pl.lit(f"not {what} (e.g. 1 234,56 or 1234.56)"))
        .when(col("too_large"))
        .then(pl.lit(f"{what} too large"))
        .when(col("fraction").str.len_chars() > decimals)
        .then(pl.lit(f"at most {decimals} decimals" + (" (grosz)" if what == "an amount" else "")))
        .when((col("sign") == "-") & (col("value") > 0))
        .then(pl.lit("must be >= 0"))
    )
    f = f.with_columns(problem=problem)
    return f.select(
        pl.when(col("problem").is_null() & col("raw").is_not_null()).then(col("value")).alias("value"), "problem"
    )


def amount(text: pl.Series) -> pl.DataFrame:
    """PLN text -> int64 grosz."""
    return decimal_fixed(text, 2, "an amount")


def percent_as_bp(text: pl.Series) -> pl.DataFrame:
    """A yearly rate in percent ('12,5') -> int basis points (1250)."""
    return decimal_fixed(text, 2, "a rate in percent")


def whole_number(text: pl.Series) -> pl.DataFrame:
    f = text.to_frame("raw").with_columns(t=col("raw").str.replace_all(_SPACES, ""))
    f = f.with_columns(ok=col("t").str.contains(r"^\d{1,9}$"))
    return f.select(
        pl.when(col("ok")).then(col("t").cast(pl.Int64, strict=False)).alias("value"),
        pl.when(col("raw").is_null())
        .then(None)
        .when(~col("ok"))
        .then(pl.lit("not a whole number >= 0"))
        .alias("problem"),
    )


def calendar_date(text: pl.Series, today: date | None = None) -> pl.DataFrame:
    """dd.mm.yyyy, d.m.yy, dd-mm-yyyy, dd/mm/yyyy, yyyy-mm-dd (a time of 00:00 after it, as Excel
    writes, is dropped) -> Date. A two-digit year is 20yy up to this year, else 19yy.

    dd.mm.yyyy and yyyy-mm-dd take a fast path (a regex and chrono's parser; a day that does not
    exist goes the full way, to be named as such)."""
    both = r"^(?:\d{2}\.\d{2}\.\d{4}|\d{4}-\d{2}-\d{2})$"
    fast = pl.select(
        pl.when(pl.lit(text).str.contains(both)).then(
            pl.coalesce(
                pl.lit(text).str.to_date("%d.%m.%Y", strict=False), pl.lit(text).str.to_date("%Y-%m-%d", strict=False)
            )
        )
    ).to_series()
    return _fast_or_full(text, fast, lambda rest: _calendar_date_full(rest, today or date.today()))


def _calendar_date_full(text: pl.Series, today: date) -> pl.DataFrame:
    f = text.to_frame("raw").with_columns(t=col("raw").str.replace(r"[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$", ""))
    f = f.with_columns(
        iso=col("t").str.extract_groups(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
        polish=col("t").str.extract_groups(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})$"),
    )
    f = f.with_columns(
        year=pl.coalesce(col("iso").struct.field("1"), col("polish").struct.field("3")),
        month=pl.coalesce(col("iso").struct.field("2"), col("polish").struct.field("2")),
        day=pl.coalesce(col("iso").struct.field("3"), col("polish").struct.field("1")),
    )
    short = col("year").str.len_chars() == 2
    f = f.with_columns(
        year=pl.when(short & (col("year").cast(pl.Int32, strict=False) <= today.year % 100))
        .then("20" + col("year"))
        .when(short)
        .then("19" + col("year"))
        .otherwise(col("year"))
    )
    f = f.with_columns(
        value=pl.format("{}-{}-{}", "year", col("month").str.zfill(2), col("day").str.zfill(2)).str.to_date(
            "%Y-%m-%d", strict=False
        )
    )
    return f.select(
        "value",
        pl.when(col("raw").is_null())
        .then(None)
        .when(col("year").is_null())
        .then(pl.lit("not a date (dd.mm.yyyy, yyyy-mm-dd or d.m.yy)"))
        .when(col("value").is_null())
        .then(pl.lit("no such day in the calendar"))
        .alias("problem"),
    )
