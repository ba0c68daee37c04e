"""The column-wise PESEL, NIP and IBAN checks say exactly what python-stdnum says, on valid
numbers and on numbers with a digit changed, swapped, dropped or added."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban
from stdnum.pl import nip as stdnum_nip
from stdnum.pl import pesel as stdnum_pesel

from ingest.identifiers import compact, iban_problem, nip_problem, pesel_problem
from synthetic.seller_export import ibans, nips, pesels


def vectorised(check, values: list[str]) -> list[bool]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String}).with_columns(compact(pl.col("v")).alias("c"))
    return frame.select(check(pl.col("c")).is_null()).to_series().to_list()


def corrupt(text: str, how: int, where: int, digit: int) -> str:
    i = where % len(text)
    if how == 0:
        return text[:i] + str(digit) + text[i + 1 :]
    if how == 1 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if how == 2:
        return text[:i] + text[i + 1 :]
    return text[:i] + str(digit) + text[i:]


numbers = st.tuples(st.integers(0, 2**32), st.integers(0, 3), st.integers(0, 40), st.integers(0, 9))


@settings(max_examples=60, deadline=None)
@given(st.lists(numbers, min_size=1, max_size=40))
def test_pesel_and_nip_checks_equal_stdnum(draws):
    values = []
    for seed, how, where, digit in draws:
        rng = np.random.default_rng(seed)
        good_pesel, good_nip = str(pesels(rng, 1)[0]).zfill(11), str(nips(rng, 1)[0])
        values += [
            good_pesel,
            corrupt(good_pesel, how, where, digit),
            good_nip,
            corrupt(good_nip, how, where, digit),
            f"{good_nip[:3]}-{good_nip[3:6]}-{good_nip[6:8]}-{good_nip[8:]}",
            "PL" + good_nip,
        ]
    assert vectorised(pesel_problem, values) == [stdnum_pesel.is_valid(v) for v in values]
    assert vectorised(nip_problem, values) == [stdnum_nip.is_valid(v) for v in values]


def test_pesel_birth_dates_of_every_century_and_impossible_days():
    values = ["44051401359", "02070803628", "02270803624", "00810100006", "00923100005", "99023012342", "00000000000"]
    assert vectorised(pesel_problem, values) == [stdnum_pesel.is_valid(v) for v in values]


@settings(max_examples=40, deadline=None)
@given(st.lists(numbers, min_size=1, max_size=30))
def test_iban_check_equals_stdnum(draws):
    values = []
    for seed, how, where, digit in draws:
        nrb = ibans(np.random.default_rng(seed), 1)[0].replace(" ", "")
        values += ["PL" + nrb, "PL" + corrupt(nrb, how, where, digit)]
    values += ["DE89370400440532013000", "GB82WEST12345698765432", "GB82WEST12345698765431", "PL1", "XX"]
    frame = pl.Series(values)
    assert iban_problem(frame).is_null().to_list() == [stdnum_iban.is_valid(v) for v in values]
