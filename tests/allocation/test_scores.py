"""Recovery scores: each segment's share paying within 90 days and recovery per zloty, smoothed
toward the book by Bühlmann-Straub credibility (a small segment near the book, a large one near
its own record); and the calibration of last quarter's scores against this quarter."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from allocation.scores import credibility, learn
from tests.allocation.helpers import AS_OF


def observed(segments: dict[str, tuple[int, int]]) -> pl.DataFrame:
    """claims of each segment: (claims, payers), every balance 1000 zł, a payer paid 100 zł."""
    rows = []
    for name, (n, payers) in segments.items():
        rows += [{"segment": name, "balance": 100_000, "recovered": 10_000 if i < payers else 0} for i in range(n)]
    return pl.DataFrame(rows).with_columns(paid=(pl.col("recovered") > 0).cast(pl.Float64))


def test_a_small_segment_scores_near_the_book_a_large_one_near_itself():
    learned = learn(observed({"big_good": (4_000, 1_400), "big_bad": (4_000, 1_000), "tiny_perfect": (3, 3)}))
    by = {r["segment"]: r for r in learned.iter_rows(named=True)}
    book = by["big_good"]["pay_share_book"]
    assert book == pytest.approx(2_403 / 8_003)
    assert by["big_good"]["pay_share"] == pytest.approx(0.35, abs=0.005)
    assert by["big_bad"]["pay_share"] == pytest.approx(0.25, abs=0.005)
    assert by["tiny_perfect"]["pay_share_raw"] == 1.0
    assert abs(by["tiny_perfect"]["pay_share"] - book) < 0.1  # 3 claims do not outweigh the book
    assert by["tiny_perfect"]["pay_share_z"] < 0.15 < 0.95 < by["big_good"]["pay_share_z"]
    assert by["big_good"]["recovery"] == pytest.approx(0.035, abs=0.001)  # 100 zł of 1000 zł, 35 % of the claims


def test_segments_no_more_different_than_chance_all_score_the_book():
    # the same true share: observed differences are noise, every segment gets the book's value
    learned = learn(observed({"a": (100, 30), "b": (100, 31), "c": (100, 29)}))
    assert learned["pay_share_z"].to_list() == [0.0, 0.0, 0.0]
    assert learned["pay_share"].to_list() == pytest.approx([0.3] * 3)


def test_credibility_weights_by_the_weight_column():
    frame = pl.DataFrame({"segment": ["a"] * 2 + ["b"] * 2, "x": [0.0, 0.2, 0.6, 1.0], "w": [1.0, 3.0, 1.0, 1.0]})
    out = credibility(frame, "x", "w", "r").sort("segment")
    assert out["r_raw"].to_list() == pytest.approx([0.15, 0.8])
    assert out["r_book"][0] == pytest.approx((0.6 + 0.6 + 1.0) / 6)


def test_the_scores_are_learned_from_the_store_history(tmp_path):
    """Payments in the 90 days before the day: claims of the 'payers' segment paid, the others did not."""
    from allocation.decide import scored_frame
    from tests.allocation.helpers import book, inputs, strategy

    segments = "segments:\n  - name: big\n    when: {balance: [5000, null]}\n"
    text = "name: s\nsegments: segments.yaml\nrules:\n  - {name: leave, action: leave}\n"
    rows = [{"balance": 1_000_000}] * 300 + [{"balance": 100_000}] * 300
    payments = [
        {"claim_id": i, "event_date": AS_OF - timedelta(days=10), "amount": 50_000, "source": None}
        for i in range(1, 151)
    ]  # half the big ones paid 500 zł in the window
    frame, _ = scored_frame(book(inputs(rows, payments)), strategy(tmp_path, text, segments), AS_OF)
    scores = dict(frame.group_by("segment").agg(pl.col("score").first()).iter_rows())
    assert scores["big"] > 0.45 and scores["other"] < 0.05
