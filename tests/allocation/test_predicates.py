"""A rule's limitation predicate (``limitation_in``, from the limitation date alone) against the
claim's status spelled out (``limitation_status``), on any dates, days and windows."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from allocation.predicates import LIMITATION_STATUSES, limitation_in, limitation_status

days = st.dates(date(2000, 1, 1), date(2040, 12, 31))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), days), min_size=1, max_size=40),
    days,
    st.integers(0, 400),
    st.lists(st.sampled_from(LIMITATION_STATUSES), min_size=1, max_size=4),
)
def test_limitation_in_is_the_status_among_those_asked(limits, day, window, asked):
    frame = pl.DataFrame({"limitation_date": limits}, schema={"limitation_date": pl.Date})
    found = frame.select(
        by_date=limitation_in(asked, day, window),
        by_status=limitation_status(day, window).cast(pl.String).is_in(asked),
    )
    assert found["by_date"].to_list() == found["by_status"].to_list()
