"""Virtual accounts: valid Polish account numbers (checked by python-stdnum), one per debtor, given
when the debtor is stored and kept for good, found from a number and exported with the debtor."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from stdnum import iban

from api.debtors import service as debtors_service
from engine.errors import InputError
from engine.store import records, virtual_accounts
from synthetic.book import generate_portfolio

PREFIX = "9990000900"  # the shipped default: a made-up bank 999 (sort code 9990000, check digit 9)


@given(st.lists(st.integers(0, 10**14 - 1), min_size=1, max_size=200, unique=True))
def test_every_number_is_a_valid_nrb_under_the_prefix_and_spells_its_debtor(ids):
    nrbs = virtual_accounts.numbers(pl.Series(ids, dtype=pl.Int64), PREFIX).to_list()
    for debtor_id, nrb in zip(ids, nrbs, strict=True):
        assert len(nrb) == 26 and nrb.isdigit()
        assert iban.validate(f"PL{nrb}") == f"PL{nrb}"  # stdnum's mod-97 check, not ours
        assert nrb[2:12] == PREFIX and int(nrb[12:]) == debtor_id
    assert len(set(nrbs)) == len(nrbs)


def test_a_known_number_and_its_written_forms():
    nrb = virtual_accounts.numbers(pl.Series([12_345_678]), PREFIX)[0]
    assert nrb == "20999000090000000012345678"
    assert virtual_accounts.display(nrb) == "20 9990 0009 0000 0000 1234 5678"
    assert virtual_accounts.to_iban(nrb) == "PL20999000090000000012345678"


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("10901015", "check digit should be 4"),  # a sort code whose check digit is wrong
        ("1090", "8-digit sort code"),
        ("10901014x", "digits only"),
        ("1090101400000000000", "up to 10 digits"),  # leaves too few digits for debtors
    ],
)
def test_a_bad_prefix_is_refused_naming_the_setting(prefix, says):
    with pytest.raises(InputError, match=rf"CESSION_VIRTUAL_ACCOUNT_PREFIX='{prefix}'.*{says}"):
        virtual_accounts.numbers(pl.Series([1]), prefix)


def test_a_debtor_id_too_long_for_the_prefix_is_refused():
    with pytest.raises(InputError, match="leaves 6 digits for debtor numbers; debtor_id 1000000 does not fit"):
        virtual_accounts.numbers(pl.Series([1_000_000]), "109010140000000000")


def test_loading_claims_gives_each_debtor_one_number_for_good(store, monkeypatch):
    claims, events = generate_portfolio(400, seed=5)
    records.load(store, claims, events)
    with store.connect() as conn:
        given_first = virtual_accounts.read_all(conn).sort("debtor_id")
    assert given_first["debtor_id"].to_list() == sorted(claims["debtor_id"].unique().to_list())
    # another prefix later: the numbers given stay; new debtors get the new prefix
    monkeypatch.setenv("CESSION_VIRTUAL_ACCOUNT_PREFIX", "1090101400")
    more = claims.head(3).with_columns(
        pl.col("claim_id") + 10_000, pl.col("seller_ref") + "-new", pl.col("debtor_id") + 100_000
    )
    records.load(store, more)
    with store.connect() as conn:
        after = virtual_accounts.read_all(conn).sort("debtor_id")
        assert after.head(given_first.height).equals(given_first)
        new = virtual_accounts.of_debtors(conn, more["debtor_id"])
        assert new.height == more["debtor_id"].n_unique() and all(n[2:12] == "1090101400" for n in new["nrb"])
        found = virtual_accounts.debtors_of(conn, pl.concat([new["nrb"], pl.Series(["00" * 13])]))
    assert sorted(found["debtor_id"].to_list()) == sorted(more["debtor_id"].unique().to_list())


def test_export_gives_numbers_to_debtors_stored_before_them_and_writes_them(store, tmp_path):
    claims, _ = generate_portfolio(50, seed=6)
    records.load(store, claims)
    with store.begin() as conn:  # as a store migrated from before virtual accounts
        conn.execute(sa.text("DELETE FROM virtual_accounts"))
    done = debtors_service.export(store=store, out=tmp_path / "debtors.csv")
    debtors = claims["debtor_id"].n_unique()
    assert done.assigned == debtors and done.debtors == debtors
    written = pl.read_csv(tmp_path / "debtors.csv", schema_overrides={"virtual_account": pl.String})
    assert written["iban"].map_elements(iban.is_valid, return_dtype=pl.Boolean).all()
    again = debtors_service.export(store=store, out=tmp_path / "debtors.parquet")
    assert again.assigned == 0
    assert pl.read_parquet(tmp_path / "debtors.parquet")["virtual_account"].equals(written["virtual_account"])
    assert not list(tmp_path.glob(".*partial"))
