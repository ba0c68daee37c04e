"""``rows_of`` (the row of each key among unique targets, what allocation gathers by instead of a
join) against a plain-Python reference, on dense ids (its array look-up) and sparse ones (its join)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.features import rows_of


def reference(keys: list[int | None], targets: list[int]) -> list[int | None]:
    where = {t: i for i, t in enumerate(targets)}
    return [where.get(k) if k is not None else None for k in keys]


ids = st.integers(min_value=-(2**40), max_value=2**40)
dense = st.integers(min_value=0, max_value=300)


@settings(max_examples=300, deadline=None)
@given(
    targets=st.one_of(st.lists(dense, unique=True, max_size=200), st.lists(ids, unique=True, max_size=50)),
    keys=st.lists(st.one_of(st.none(), dense, ids), max_size=200),
)
def test_rows_of_finds_what_a_dictionary_finds(targets, keys):
    found = rows_of(pl.Series("k", keys, dtype=pl.Int64), pl.Series("t", targets, dtype=pl.Int64))
    assert found.dtype == pl.Int64 and found.to_list() == reference(keys, targets)


def test_dense_and_sparse_targets_take_their_own_paths_and_agree():
    keys = pl.Series([5, 7, None, 9, 1_000_000_000], dtype=pl.Int64)
    assert rows_of(keys, pl.Series([9, 5, 6], dtype=pl.Int64)).to_list() == [1, None, None, 0, None]
    sparse = pl.Series([9, 5, 10**15], dtype=pl.Int64)  # a range far wider than the rows: the join
    assert rows_of(keys, sparse).to_list() == [1, None, None, 0, None]


@pytest.mark.parametrize("targets", [[3, 4, 3], [10**15, 1, 10**15]])
def test_a_key_twice_among_the_targets_is_refused(targets):
    with pytest.raises(ValueError, match="twice"):
        rows_of(pl.Series([3], dtype=pl.Int64), pl.Series("claim_id", targets, dtype=pl.Int64))


def test_no_targets_or_no_keys():
    assert rows_of(pl.Series([1, 2], dtype=pl.Int64), pl.Series([], dtype=pl.Int64)).to_list() == [None, None]
    assert rows_of(pl.Series([], dtype=pl.Int64), pl.Series([1], dtype=pl.Int64)).to_list() == []
