"""The journal of a book in files, a slice of claims at a time (ledger/streamed.py), is the journal of
the whole book: line for line, in the same order, on generated books cut into slices of one, two
or three claims; files that do not stream are read whole, with the same journal."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings

from api.ledger import service
from ledger.journal import as_lines
from ledger.movements import Period
from ledger.streamed import NotStreamed, journal_of_files
from tests.ledger.ledgers import CHART, period
from tests.ledger.test_properties import QUIET, books


def _files(book, folder):
    """The book as docs/data-contract.md files, claims in claim_id order, events in claim order
    with event_ids renumbered to increase through the file (reversals follow their targets)."""
    events = book.events.sort("claim_id", "event_id")
    ids = dict(zip(events.get_column("event_id").to_list(), range(1, events.height + 1), strict=True))
    events = events.with_columns(
        event_id=pl.Series(range(1, events.height + 1), dtype=pl.Int64),
        reverses=pl.col("reverses").replace_strict(ids, default=None, return_dtype=pl.Int64),
    )
    claims_path, events_path = folder / "claims.parquet", folder / "events.parquet"
    book.claims.write_parquet(claims_path)
    events.write_parquet(events_path)
    return claims_path, events_path, events


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    """The same lines in the same transactions' order (lines within a transaction that tie in the
    journal's order may come in either order)."""
    assert a.get_column("tx_id").to_list() == b.get_column("tx_id").to_list()
    assert a.sort(a.columns).equals(b.sort(b.columns))


@settings(max_examples=10, deadline=None, suppress_health_check=QUIET)
@given(books())
def test_the_journal_a_slice_at_a_time_is_the_whole_books(tmp_path_factory, drawn):
    book, a, b, _ = drawn
    folder = tmp_path_factory.mktemp("streamed")
    claims_path, events_path, events = _files(book, folder)
    whole = period(type(book)(book.claims, events, waterfall=book.waterfall), a, b)[1]
    for rows in (1, 2, 3):
        try:
            keyed = journal_of_files(
                claims_path,
                events_path,
                Period(a, b),
                CHART,
                waterfall=book.waterfall,
                allow_stale_rates=True,
                rows=rows,
            )
        except NotStreamed:  # a reversal of an event of no claim on file: read whole
            assert events.filter(pl.col("kind") == "reversal").get_column("reverses").null_count() > 0
            break
        _same(as_lines(keyed), whole)


def test_files_that_do_not_stream_are_read_whole_with_the_same_journal(tmp_path):
    from tests.builders import event, frames
    from tests.ledger.ledgers import none_claim

    claims, events = frames(
        [none_claim(1), none_claim(2, portfolio_id="P2", seller_ref="REF-2")],
        [
            event(1, "payment", date(2026, 2, 10), 8_000),
            event(2, "payment", date(2026, 2, 20), 3_000, claim_id=2),
            event(3, "cost", date(2026, 2, 12), 1_000, claim_id=2),
        ],
    )
    events.write_parquet(tmp_path / "events.parquet")
    claims.write_parquet(tmp_path / "sorted.parquet")
    claims.reverse().write_parquet(tmp_path / "reversed.parquet")
    first, last = date(2026, 2, 1), date(2026, 2, 28)
    with pytest.raises(NotStreamed, match="claim_id order"):
        journal_of_files(tmp_path / "reversed.parquet", tmp_path / "events.parquet", Period(first, last), CHART, rows=1)
    streamed, read_whole = (
        service.compute_files(
            claims=tmp_path / name, events=tmp_path / "events.parquet", first=first, last=last, allow_stale_rates=True
        )
        for name in ("sorted.parquet", "reversed.parquet")
    )
    assert streamed.movements is None and read_whole.movements is not None
    _same(streamed.lines, read_whole.lines)
    assert streamed.lines.height == 8
    summaries = [service.summary(journal=j, with_trial_balance=True) for j in (streamed, read_whole)]
    for s in summaries:
        s.pop("seconds")
    assert summaries[0] == summaries[1] and summaries[0]["trial_balance"]
