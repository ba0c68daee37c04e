"""MT940 read two ways, the same: by the mt-940 library (a statement of a few thousand lines) and
by polars over whole columns (a larger one: the library takes ~150 µs a line)."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from payments.statements import StatementError, mt940
from synthetic.statements import credits, write_mt940
from tests.payments.conftest import FIXTURES


def _both(path: Path) -> None:
    by_library, at_once = mt940.read(path, at_once=False), mt940.read(path, at_once=True)
    assert (at_once.bank_account, at_once.statement_ref) == (by_library.bank_account, by_library.statement_ref)
    assert_frame_equal(at_once.lines, by_library.lines)


def test_the_fixture_read_both_ways_is_the_same():
    _both(FIXTURES / "pko_2025-12-01.sta")


def test_a_generated_statement_read_both_ways_is_the_same(tmp_path):
    claims = pl.DataFrame(
        {"claim_id": range(1, 501), "seller_ref": [f"KR/{i:05d}" for i in range(1, 501)], "debtor_id": range(1, 501)}
    )
    path = tmp_path / "big.sta"
    write_mt940(credits(claims, 3_000, seed=7), path)
    _both(path)
    lines = mt940.read(path).lines
    assert lines.height == 3_000 and lines["bank_ref"].n_unique() == 3_000
    assert lines.filter(pl.col("is_return")).height > 0 and lines["virtual_account"].drop_nulls().len() > 1000


def test_mt940_subfields_and_an_unreadable_file(tmp_path):
    code, fields = mt940.subfields("034~00VE02~20Splata ~21KR/1\n~2\n2dalej~32JAN")  # lines wrap anywhere
    assert code == "034" and fields["20"] == "Splata " and fields["21"] == "KR/1" and fields["22"] == "dalej"
    bad = tmp_path / "bad.sta"
    bad.write_text(":20:X\n:25:/PL61109010140000071219812874\n:28C:1\n:61:notaline\n")
    with pytest.raises(StatementError, match="not a readable MT940"):
        mt940.read(bad)
    two = tmp_path / "two.sta"
    two.write_text(":20:A\n:25:/PL61109010140000071219812874\n:61:x\n:20:B\n:25:/PL27114020040000300201355387\n")
    with pytest.raises(StatementError, match="several accounts"):
        mt940.read(two)


#: :86: details as banks write them, and worse: read the same by the library and at once
ODD_DETAILS = [
    "240~00VE02PRZELEW~20Splata KR/1~21dalej~3010501445~311000002287654321~32JAN KOWALSKI\n~38PL07105014451000002287654321",
    "240~30105~311000002287654321",  # no title, no name
    "240~20a~20b~21c~20d",  # a code repeated: joined in order
    "240^20tytul^32NAZWA^3310501445",  # ^ for ~
    "240~00\n~20lamany\n ~21 tytul\n~32 A ~33 B ~27 C~28 D",  # wrapped anywhere
    "240~27TYLKO~28ADRES~31 1234",  # the name from 27/28, an account that is no NRB
    "240~20 Ąćęł ~63 9999\u00a00000900000000000000000066",
    "240~31 PL07 1050 1445 1000 0022 8765 4321~63 99990000900000000000000077",  # spaced payer's account
    "240~2~20x~6399990000900000000000000022",  # a short piece
]


def test_odd_details_read_both_ways_are_the_same(tmp_path):
    lines = [f":61:2512011201CN1,{i:02d}N240NONREF//R{i:05d}\n:86:{details}\n" for i, details in enumerate(ODD_DETAILS)]
    path = tmp_path / "odd.sta"
    path.write_text(
        ":20:ODD\n:25:/PL61109010140000071219812874\n:28C:1\n:60F:C251201PLN0,00\n"
        + "".join(lines)
        + ":62F:C251201PLN0,00\n-\n"
    )
    _both(path)
    read = mt940.read(path, at_once=True).lines
    assert read["title"].to_list()[:4] == ["Splata KR/1dalej", "", "abdc", "tytul"]
    assert read["counterparty_name"].to_list()[3:6] == ["NAZWA10501445", "A  B", "TYLKOADRES"]
    assert read["virtual_account"].to_list()[6:] == [
        None,  # not 26 digits, with the no-break space dropped or not
        "99990000900000000000000077",
        "99990000900000000000000022",
    ]


def test_tag_values_as_a_multiline_pattern_finds_them():
    import re

    texts = [":25:A\n:25:B", "x\n:25:\n", "\n:25:C\r\n:2:25:D", ":25", "", "a:25:b\n\n:25:"]
    for text in texts:
        assert mt940.tag_values(text, ":25:") == re.findall(r"^:25:(.*)$", text, re.MULTILINE)
