"""The debtors' flags as read (JSON text, null for none) become lists, only the flagged ones decoded
(allocation.store.flags_decoded): the same lists as decoding every row."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from allocation.store import flags_decoded

FLAGS = st.lists(st.sampled_from(["deceased", "bankrupt", "disputed", "gdpr_restricted", "vip"]), max_size=3)


@given(st.lists(st.one_of(st.none(), FLAGS.map(json.dumps), FLAGS.map(lambda f: json.dumps(f, indent=1))), max_size=40))
def test_the_flags_are_the_lists_the_text_says(texts):
    decoded = flags_decoded(pl.Series("flags", texts, dtype=pl.String))
    assert decoded.dtype == pl.List(pl.String)
    assert decoded.name == "flags"
    assert decoded.to_list() == [json.loads(t) if t is not None else [] for t in texts]
