"""Linear passes that prepare the claim kernel's input: order checks, event offsets per claim and
the int64 overflow budget."""

import numpy as np
from numba import njit, prange

from engine.kernels import codes


@njit(cache=True, nogil=True, fastmath=False)
def strictly_increasing(values):
    for i in range(1, values.shape[0]):
        if values[i] <= values[i - 1]:
            return False
    return True


@njit(cache=True, nogil=True, fastmath=False)
def events_in_order(claim_id, day, event_id):
    """True when events are sorted by (claim_id, day, event_id)."""
    for i in range(1, claim_id.shape[0]):
        a, b = claim_id[i - 1], claim_id[i]
        if a < b:
            continue
        if a > b:
            return False
        if day[i - 1] < day[i]:
            continue
        if day[i - 1] > day[i] or event_id[i - 1] >= event_id[i]:
            return False
    return True


@njit(cache=True, nogil=True, fastmath=False)
def event_offsets(claim_ids, ev_claim):
    """CSR offsets of events (sorted by claim) per claim (sorted, unique). Every event's claim must
    be in ``claim_ids`` (checked before)."""
    offsets = np.empty(claim_ids.shape[0] + 1, dtype=np.int64)
    j = 0
    m = ev_claim.shape[0]
    for i in range(claim_ids.shape[0]):
        offsets[i] = j
        while j < m and ev_claim[j] == claim_ids[i]:
            j += 1
    offsets[claim_ids.shape[0]] = j
    return offsets


@njit(cache=True, nogil=True, fastmath=False)
def count_events(claim_ids, ev_claim, ev_day, ev_id, offsets, carry):
    """One slice of the events, continuing the slices before it, counted into the CSR ``offsets``
    of ``claim_ids`` (sorted, unique; ``offsets`` has one more row, ``offsets[0] == 0``) without
    the claim of every event kept whole. ``carry`` (int64 x 5) is [claim index, events counted,
    last claim, last day, last event id] from slice to slice: start it as [0, 0, min, min, min] and
    close with ``close_offsets``. False (and ``carry`` unchanged) when the slice breaks the order
    (claim, day, event id) or holds an event of a claim not in ``claim_ids``."""
    n = claim_ids.shape[0]
    i, j, last_claim, last_day, last_id = carry[0], carry[1], carry[2], carry[3], carry[4]
    for e in range(ev_claim.shape[0]):
        c, d, k = ev_claim[e], ev_day[e], ev_id[e]
        if c < last_claim or (c == last_claim and (d < last_day or (d == last_day and k <= last_id))):
            return False
        last_claim, last_day, last_id = c, d, k
        while i < n and claim_ids[i] < c:
            i += 1
            offsets[i] = j
        if i == n or claim_ids[i] != c:
            return False
        j += 1
    carry[0], carry[1], carry[2], carry[3], carry[4] = i, j, last_claim, last_day, last_id
    return True


@njit(cache=True, nogil=True, fastmath=False)
def close_offsets(offsets, carry):
    """The offsets of the claims after the last event's (see ``count_events``)."""
    i, j = carry[0], carry[1]
    while i < offsets.shape[0] - 1:
        i += 1
        offsets[i] = j


@njit(parallel=True, cache=True, nogil=True, fastmath=False)
def balance_bounds(principal, interest, costs, accrual_start, max_bp, offsets, ev_kind, ev_value, as_of):
    """An upper bound (float64) of every balance and sum the kernel forms for each claim.

    Money in = principal + interest + costs + every cost event; interest can at most multiply it by
    (1 + max_bp x days / 3 650 000) per capitalization (plus once); payments add at most their sum
    to the paid and overpaid totals."""
    n = principal.shape[0]
    bound = np.empty(n, dtype=np.float64)
    for i in prange(n):
        money = float(principal[i]) + float(interest[i]) + float(costs[i])
        paid = 0.0
        capitalizations = 0
        for j in range(offsets[i], offsets[i + 1]):
            k = ev_kind[j]
            if k == codes.COST:
                money += float(ev_value[j])
            elif k == codes.PAYMENT:
                paid += float(ev_value[j])
            elif k == codes.CAPITALIZATION:
                capitalizations += 1
        days = max(0, as_of - accrual_start[i])
        growth = (1.0 + float(max_bp[i]) * days / 3_650_000.0) ** (capitalizations + 1)
        bound[i] = (money * growth + days + 1.0) * 2.0 + paid
    return bound


@njit(cache=True, nogil=True, fastmath=False)
def reversal_targets(offsets, ev_kind, ev_id, ev_value):
    """Each reversal's ``ev_value``, the event_id it names, replaced by the index of that event
    among its own claim's events (in place). Returns the indices of reversals that name no event
    of their claim (their ``ev_value`` is left as it was)."""
    bad = []
    for i in range(offsets.shape[0] - 1):
        for j in range(offsets[i], offsets[i + 1]):
            if ev_kind[j] != codes.REVERSAL:
                continue
            target = -1
            for k in range(offsets[i], offsets[i + 1]):
                if ev_id[k] == ev_value[j]:
                    target = k
                    break
            if target < 0:
                bad.append(j)
            else:
                ev_value[j] = target
    return np.array(bad, dtype=np.int64)
