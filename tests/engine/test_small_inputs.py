"""A book of at most one block of claims runs its kernels on the calling thread alone (one claim's
balance over the HTTP API must not wait for the other numba threads to wake), with the same result,
and the calling thread's numba thread count is what it was afterwards."""

from __future__ import annotations

from datetime import date

import numba

from engine.kernel_run import compute_state, one_thread_if_small
from engine.kernels.claim_state import BLOCK
from tests.builders import claim, event, frames


def test_one_thread_for_one_block_and_the_count_restored():
    before = numba.get_num_threads()
    with one_thread_if_small(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before
    for larger in (BLOCK + 1, None):  # more than a block, or a lazy frame of unknown size
        with one_thread_if_small(larger):
            assert numba.get_num_threads() == before


def test_a_small_book_gives_the_same_state_on_one_thread():
    claims = [claim(i, due=date(2024, 1, 15), principal=10_000 * i) for i in range(1, 4)]
    events = [event(1, "payment", date(2024, 6, 1), 5_000, claim_id=2)]
    alone = compute_state(*frames(claims, events), date(2026, 3, 1), allow_stale_rates=True)
    claims_frame, events_frame = frames(claims, events)
    lazy = compute_state(claims_frame.lazy(), events_frame.lazy(), date(2026, 3, 1), allow_stale_rates=True)
    assert alone.drop(["claim_id"]).equals(lazy.drop(["claim_id"])) and alone["claim_id"].equals(lazy["claim_id"])
    assert numba.get_num_threads() >= 1
