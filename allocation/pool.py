"""Claims into an agency pool, capacities never exceeded.

Claims are taken in priority order (expected recovery first); each goes to the agency of its pool
that is eligible for it (region, debtor kind, balance band, active, not the agency it was recalled
from within the no-replacement period), still has room for one more case and for its balance, and
is furthest behind its share of the pool (weight × placed so far − placed with it): a
deterministic weighted round robin that follows the weights while capacity lasts and fills
whoever has room when it does not. The loop is compiled (numba), one pass over the claims.

Importing numba and loading the compiled loop from its cache take ~0.9 s in a fresh process, so
both wait for the first use (``compiled``), and ``warm_up`` does them in a thread of their own
while the allocation reads the store.
"""

from __future__ import annotations

import threading

import numpy as np

from allocation.compiled import compiled_loop


def _assign(pool, eligible, balance, weights, room_cases, room_balance):  # pragma: no cover - numba
    n = pool.shape[0]
    n_agencies = weights.shape[1]
    placed = np.zeros(weights.shape, dtype=np.int64)
    placed_in_pool = np.zeros(weights.shape[0], dtype=np.int64)
    chosen = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        p = pool[i]
        best = -1
        best_gap = -1e300
        for a in range(n_agencies):
            w = weights[p, a]
            if w <= 0.0 or (eligible[i] >> a) & 1 == 0:
                continue
            if room_cases[a] < 1 or room_balance[a] < balance[i]:
                continue
            gap = w * (placed_in_pool[p] + 1) - placed[p, a]
            if gap > best_gap:
                best_gap = gap
                best = a
        if best >= 0:
            chosen[i] = best
            placed[p, best] += 1
            placed_in_pool[p] += 1
            room_cases[best] -= 1
            room_balance[best] -= balance[i]
    return chosen


def compiled():
    """The loop compiled (numba, cached on disk): made once per process, whichever thread asks first."""
    return compiled_loop(_assign)


def _warm() -> None:
    from allocation.fees import warm_costs

    one = np.zeros(1, dtype=np.int64)
    compiled()(one, one, one, np.zeros((1, 1)), one.copy(), one.copy())  # loads this signature
    warm_costs()  # the legal costs' pass (allocation.fees), loaded the same way


def warm_up() -> threading.Thread:
    """Import numba and load the compiled loops (this one and allocation.fees') in a thread (the
    first ``assign`` then waits less)."""
    thread = threading.Thread(target=_warm, name="allocation-pool-warm-up", daemon=True)
    thread.start()
    return thread


def assign(
    pool: np.ndarray,
    eligible: np.ndarray,
    balance: np.ndarray,
    weights: np.ndarray,
    room_cases: np.ndarray,
    room_balance: np.ndarray,
) -> np.ndarray:
    """The agency (column of ``weights``) each claim goes to, -1 where none has room; claims in
    priority order. ``pool``: each claim's row of ``weights`` (pools x agencies, each row summing
    to 1); ``eligible``: a bit per agency; ``room_*``: what each agency can still take."""
    if weights.shape[1] > 63:
        raise ValueError("at most 63 agencies in one allocation")  # a bug: the service checks first
    shares = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    return compiled()(
        pool.astype(np.int64),
        eligible.astype(np.int64),
        balance.astype(np.int64),
        shares.astype(np.float64),
        room_cases.astype(np.int64).copy(),
        room_balance.astype(np.int64).copy(),
    )


def split_hash(claim_id: np.ndarray, seed: int) -> np.ndarray:
    """A number in [0, 1) per claim from its id and the seed (splitmix64): the same claim and seed
    give the same number on every day and in every order, so a champion/challenger split is stable."""
    with np.errstate(over="ignore"):
        z = claim_id.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)
