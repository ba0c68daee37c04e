"""MT940 read two ways, the same: by the mt-940 library (a statement of a few thousand lines) and
by polars over whole columns (a larger one: the library takes ~150 µs a line)."""

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.statement_files import credits, write_mt940
from payments.statements import StatementError, mt940
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
