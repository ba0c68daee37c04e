"""Seller text -> grosz and dates: tables of what sellers write, and a property that every amount
written in any of the usual ways comes back to the grosz."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.parsing import (
    _calendar_date_full,
    _decimal_fixed_full,
    amount,
    calendar_date,
    decimal_fixed,
    detached,
    percent_as_bp,
    whole_number,
)

TODAY = date(2026, 12, 1)


def parse(parser, texts: list[str | None]) -> list[tuple]:
    return list(parser(pl.Series(texts, dtype=pl.String)).iter_rows())


AMOUNTS = [
    ("1234,56", 123456, None),
    ("1 234,56", 123456, None),
    ("1\u00a0234,56", 123456, None),  # no-break space, as Excel and banks write thousands
    ("1\u202f234,56", 123456, None),  # narrow no-break space
    ("1.234,56", 123456, None),
    ("1,234.56", 123456, None),
    ("1234.56", 123456, None),
    ("1234.5", 123450, None),
    ("1234", 123400, None),
    ("1.234.567", 123456700, None),  # thousands only
    ("1,234,567", 123456700, None),
    ("12,340", 1234, None),  # 12.340 has two decimals' worth
    ("0,00", 0, None),
    (",5", 50, None),
    ("7 zł", 700, None),
    ("7,00 PLN", 700, None),
    ("'1234,56", 123456, None),  # a text-forcing apostrophe from Excel
    ("12,345", None, "at most 2 decimals"),
    ("1234,5600000001", None, "at most 2 decimals"),  # a float Excel wrote out
    ("-5,00", None, "must be >= 0"),
    ("1,23457E+5", None, "scientific notation"),
    ("1.2E3", None, "scientific notation"),
    ("abc", None, "not an amount"),
    ("12,34,5", None, "not an amount"),
    (".", None, "not an amount"),
    ("12345678901234,00", None, "too large"),
    (None, None, None),
]


@pytest.mark.parametrize(("text", "grosz", "rule"), AMOUNTS)
def test_amounts_as_sellers_write_them(text, grosz, rule):
    [(value, problem)] = parse(amount, [text])
    assert value == grosz
    assert (problem is None) if rule is None else (rule in problem)


@given(st.integers(min_value=0, max_value=10**15 - 1), st.sampled_from(["pl", "pl-nbsp", "plain", "en", "de"]))
def test_every_amount_comes_back_to_the_grosz(grosz, style):
    whole, cents = divmod(grosz, 100)
    grouped = f"{whole:,}"
    text = {
        "pl": f"{grouped.replace(',', ' ')},{cents:02d}",
        "pl-nbsp": f"{grouped.replace(',', chr(0xA0))},{cents:02d}",
        "plain": f"{whole}.{cents:02d}",
        "en": f"{grouped}.{cents:02d}",
        "de": f"{grouped.replace(',', '.')},{cents:02d}",
    }[style]
    assert parse(amount, [text]) == [(grosz, None)]


DATES = [
    ("10.01.2024", date(2024, 1, 10), None),
    ("1.2.24", date(2024, 2, 1), None),
    ("31.12.99", date(1999, 12, 31), None),
    ("2024-01-10", date(2024, 1, 10), None),
    ("2024-01-10 00:00:00", date(2024, 1, 10), None),  # an Excel date cell
    ("15/03/2016", date(2016, 3, 15), None),
    ("15-03-2016", date(2016, 3, 15), None),
    ("29.02.2024", date(2024, 2, 29), None),
    ("29.02.2023", None, "no such day"),
    ("31.04.2020", None, "no such day"),
    ("2024-13-01", None, "no such day"),
    ("10 stycznia 2024", None, "not a date"),
    ("45123", None, "not a date"),
]


@pytest.mark.parametrize(("text", "day", "rule"), DATES)
def test_dates_as_sellers_write_them(text, day, rule):
    [(value, problem)] = list(calendar_date(pl.Series([text]), TODAY).iter_rows())
    assert value == day
    assert (problem is None) if rule is None else (rule in problem)


def test_rates_in_percent_become_basis_points_and_whole_numbers_stay_whole():
    assert parse(percent_as_bp, ["12,5", "7", "0,125"]) == [(1250, None), (700, None), (None, "at most 2 decimals")]
    assert [v for v, _ in parse(whole_number, ["3", " 10 ", "x"])] == [3, 10, None]


AMOUNT_TEXT = st.text(alphabet="0123456789,.-+ \u00a0'ezł", max_size=22) | st.from_regex(
    r"\A[0-9]{1,16}([.,][0-9]{0,4})?\Z"
)
DATE_TEXT = (
    st.text(alphabet="0123456789.-/ :", max_size=19)
    | st.from_regex(r"\A[0-9]{2}\.[0-9]{2}\.[0-9]{4}\Z")
    | st.dates().map(str)
)


@settings(max_examples=400, deadline=None)
@given(st.lists(AMOUNT_TEXT | st.none(), min_size=1, max_size=40), st.sampled_from([0, 2, 4]))
def test_the_fast_path_for_plain_amounts_reads_what_the_full_parser_reads(texts, decimals):
    text = pl.Series(texts, dtype=pl.String)
    assert decimal_fixed(text, decimals).rows() == _decimal_fixed_full(text, decimals, "an amount").rows()


@settings(max_examples=400, deadline=None)
@given(st.lists(DATE_TEXT | st.none(), min_size=1, max_size=40))
def test_the_fast_path_for_plain_dates_reads_what_the_full_parser_reads(texts):
    text = pl.Series(texts, dtype=pl.String)
    assert calendar_date(text, TODAY).equals(_calendar_date_full(text, TODAY))  # (rows() cannot show year 0)


def test_a_detached_frame_holds_the_same_values():
    batch = pl.DataFrame({"row": [1, 2, 3], "text": ["ą" * 40, None, "b"], "day": [date(2024, 1, 1), None, TODAY]})
    kept = batch.filter(pl.col("row") > 1)
    assert detached(kept).equals(kept) and detached(kept).schema == kept.schema
