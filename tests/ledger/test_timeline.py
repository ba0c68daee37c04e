"""Each event's effective day (ledger.movements.timeline) takes its claim's purchase day from a
binary search in the book's claims, sorted by claim_id: the same events, days and order as the
inner join on claim_id it replaces -- events of no claim left out, and claim_ids repeated (which the
engine refuses later) handled by the join itself."""

from __future__ import annotations

from datetime import date

import polars as pl

from ledger.book import Book
from ledger.movements import timeline
from tests.builders import event, frames
from tests.ledger.ledgers import none_claim


def _joined(book: Book) -> pl.DataFrame:
    """What the timeline's events were before: the inner join on the claims' purchase days."""
    return book.events.join(book.claims.select("claim_id", "purchase_date"), on="claim_id", how="inner")


def _book(claims: list[dict], events: list[dict]) -> Book:
    c, e = frames(claims, events)
    return Book(c, e)


def _effective(book: Book) -> list[tuple]:
    return timeline(book).select("event_id", "claim_id", "effective").sort("event_id").rows()


def _expected(book: Book) -> list[tuple]:
    joined = _joined(book).with_columns(effective=pl.max_horizontal("event_date", "recorded_on", "purchase_date"))
    return joined.select("event_id", "claim_id", "effective").sort("event_id").rows()


def test_an_event_before_the_purchase_is_effective_on_the_purchase_day_and_an_event_of_no_claim_is_left_out():
    book = _book(
        [
            none_claim(1, purchase_date=date(2026, 1, 15)),
            none_claim(3, purchase_date=date(2026, 3, 1), seller_ref="REF-3"),
            none_claim(2, purchase_date=date(2026, 2, 1), seller_ref="REF-2"),
        ],
        [
            event(1, "payment", date(2026, 1, 10), 1_000, claim_id=1),  # before the purchase
            event(2, "payment", date(2026, 2, 10), 1_000, claim_id=2),
            event(3, "payment", date(2026, 2, 20), 1_000, claim_id=3),  # before the purchase
            event(4, "payment", date(2026, 2, 20), 1_000, claim_id=9),  # no such claim
            event(5, "cost", date(2026, 4, 1), 500, claim_id=3),
        ],
    )
    assert _effective(book) == [
        (1, 1, date(2026, 1, 15)),
        (2, 2, date(2026, 2, 10)),
        (3, 3, date(2026, 3, 1)),
        (5, 3, date(2026, 4, 1)),
    ]
    assert _effective(book) == _expected(book)
    # the events keep the order they came in
    assert timeline(book).get_column("event_id").to_list() == [1, 2, 3, 5]


def test_claim_ids_repeated_give_what_the_join_gives():
    book = _book(
        [
            none_claim(1, purchase_date=date(2026, 1, 15)),
            none_claim(1, purchase_date=date(2026, 2, 15), seller_ref="REF-1b"),
        ],
        [event(1, "payment", date(2026, 2, 1), 1_000, claim_id=1)],
    )
    assert sorted(_effective(book)) == sorted(_expected(book))
    assert len(_effective(book)) == 2
