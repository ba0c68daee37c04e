"""One pass over each claim and its events: balances, interest, payments and the limitation clock.

``claim_states`` runs ``claim_one`` for every claim in parallel (numba threads). Claims are rows
of arrays; a claim's events are ``events[offsets[i]:offsets[i + 1]]``, sorted by (day, event_id).
The meaning of every output is docs/engine.md's; see engine/kernel_run.py for the typed entry point.
"""

import numpy as np
from numba import njit, prange

from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY
from engine.kernels.interest import accrue
from engine.kernels.limitation import claim_limitation, first_day_reaching, interest_rules, record_step, run_end_at

N_OUTPUTS = 11  # what claim_one returns: principal, interest, costs, accrued, interest time-barred, paid
# costs/interest/principal, overpaid, last payment day, limitation day (then the counts of pieces,
# steps and tranches)
MONEY_COLUMNS = 10  # claim_states' outputs, see there
DAY_COLUMNS = 3
FLAG_COLUMNS = 1
#: Claims per block of ``claim_states``' parallel loop: each block has its own tranche scratch.
BLOCK = 2048


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _mark_reversed(lo, hi, ev_day, ev_kind, ev_value, as_of, dropped):
    """Drop every reversal that counts and the event it cancels (§1); a reversal's ``ev_value`` is
    that event's index. Returns whether the claim is plain: no limitation event at all (one pass
    over the events for both)."""
    plain = True
    for j in range(lo, hi):
        kind = ev_kind[j]
        if kind == codes.REVERSAL:
            if ev_day[j] <= as_of:
                dropped[j] = True
                dropped[ev_value[j]] = True
        elif kind >= codes.ACKNOWLEDGMENT:
            plain = False
    return plain


@njit(cache=True, nogil=True, fastmath=False)
def claim_scratch(events):
    """claim_one's scratch for claims of at most ``events`` events: (t_amount, t_barred) for the
    interest tranches (the interest at cut-off, then at most three per accrual window: one window
    before each event and one to as_of) and rules for ``claim_limitation`` (one per event, and one
    after the last)."""
    tranches = 3 * (events + 1) + 1
    return (
        np.empty(tranches, dtype=np.int64),
        np.empty(tranches, dtype=np.bool_),
        np.empty((events + 1, 6), dtype=np.int64),
    )


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _push(amount, barred, t_amount, t_barred, head, tail):
    """A new tranche at the tail of the list t_amount[head:tail] (oldest first), joined with the
    tail when it has the same flag; a tranche of 0 is dropped. Returns the new tail."""
    if amount == 0:
        return tail
    if tail > head and t_barred[tail - 1] == barred:
        t_amount[tail - 1] += amount
        return tail
    t_amount[tail] = amount
    t_barred[tail] = barred
    return tail + 1


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _take_oldest(take, t_amount, head, tail):
    """``take`` grosz off the oldest tranches first (art. 451 § 3 KC); returns the new head."""
    while take > 0 and head < tail:
        if t_amount[head] <= take:
            take -= t_amount[head]
            head += 1
        else:
            t_amount[head] -= take
            take = 0
    return head


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _apply_event(kind, value, order, principal, interest, costs, paid_costs, paid_interest, paid_principal, overpaid):
    """A balance event's effect (§1): a payment down the waterfall ``order`` (see ``claim_one``), a
    cost, an interest waiver, a capitalization or a write-off (any other kind changes nothing).
    Returns the balances and sums after it, and the interest it took (paid or waived: taken off
    the oldest tranches by a caller that keeps them)."""
    taken = 0
    if kind == codes.PAYMENT:
        remaining = value
        for step in range(3):
            bucket = (order >> (2 * step)) & 3
            if bucket == codes.COSTS:
                take = min(costs, remaining)
                costs -= take
                paid_costs += take
            elif bucket == codes.INTEREST:
                take = min(interest, remaining)
                interest -= take
                paid_interest += take
                taken = take
            else:
                take = min(principal, remaining)
                principal -= take
                paid_principal += take
            remaining -= take
        overpaid += remaining
    elif kind == codes.COST:
        costs += value
    elif kind == codes.INTEREST_WAIVER:
        taken = min(interest, value)
        interest -= taken
    elif kind == codes.CAPITALIZATION:
        principal += interest
        interest = 0
    elif kind == codes.WRITE_OFF:
        principal = 0
        interest = 0
        costs = 0
    return principal, interest, costs, paid_costs, paid_interest, paid_principal, overpaid, taken


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _record_tranche(tranches, n_tranches, first, last, amount, barred):
    if amount != 0 and n_tranches < tranches.shape[0]:
        tranches[n_tranches, 0] = first
        tranches[n_tranches, 1] = last
        tranches[n_tranches, 2] = amount
        tranches[n_tranches, 3] = barred
        return n_tranches + 1
    return n_tranches


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def claim_one(
    principal,
    interest,
    costs,
    due_day,
    cutoff_day,
    contract_bp,
    limitation_kind,
    custom_years,
    title_day,
    order,
    lo,
    hi,
    ev_day,
    ev_kind,
    ev_value,
    dropped,
    as_of,
    plain_split,
    rates,
    first_row,
    end_row,
    capped,
    lim,
    calendar,
    scratch,
    pieces,
    trace,
    tranches,
):
    """The state of one claim as of ``as_of``.

    ``order`` packs the waterfall's bucket codes, first | second << 2 | third << 4 (one argument:
    CPython 3.11 passes more than 30 positional arguments as *args, which numba cannot inline).
    ``lim`` packs the limitation rules: [reform day, old years by kind (6), old year-end minimum,
    new years by kind (6), new year-end minimum]. ``rates`` and ``calendar`` are tuples of the rule
    tables (see ``accrue`` and ``limitation.law_end``). ``plain_split`` is
    ``first_day_reaching(as_of)``. ``scratch`` is ``claim_scratch`` of at least the claim's events:
    the interest tranches and the interest rules of ``claim_limitation``. ``pieces``, ``trace`` and ``tranches``
    receive the interest pieces, limitation steps and interest tranches as accrued (first day, last
    day, amount, barred by its own run) while they have rows (zero rows in a portfolio run). An
    event's ``ev_value`` is its amount, or for a reversal the index of the event it cancels.
    Returns the N_OUTPUTS values and the counts of pieces, steps and tranches.

    Interest time-barred (§3a): the interest balance is a list of tranches, oldest first, each
    flagged when its days' own runs have ended by ``as_of``; payments and waivers take the oldest
    first. A claim that is itself time-barred has all of its interest barred (no day's interest
    outlives the claim), so the flags here are those of the days' own runs, and of a titled
    claim's days up to its title_date (which share the claim's end) not barred."""
    t_amount, t_barred, rules = scratch
    plain = _mark_reversed(lo, hi, ev_day, ev_kind, ev_value, as_of, dropped)

    accrued = 0
    paid_costs = 0
    paid_interest = 0
    paid_principal = 0
    overpaid = 0
    last_payment = NULL_DAY
    n_pieces = 0
    n_trace = 0
    n_tranches = 0
    accrued_through = max(due_day, cutoff_day)
    accruing = True
    rate_row = first_row - 1  # the rate table's row in force on the last day accrued (none yet)

    titled = title_day != NULL_DAY
    run_kind = codes.LIMITATION_TITLE if titled else limitation_kind
    start = title_day if titled else due_day
    # the limitation clock first (its own pass, only for a claim with limitation events): the
    # claim's end, and the interest rule of the days before each limitation event (rules[k])
    m = 0  # the limitation events that count (claim_limitation)
    if plain:
        limitation_day, how = run_end_at(start, run_kind, custom_years, lim, calendar)
        n_trace = record_step(trace, n_trace, codes.STEP_START, start, run_kind, limitation_day, how, 0)
    else:
        limitation_day, n_trace, m = claim_limitation(
            lo,
            hi,
            ev_day,
            ev_kind,
            dropped,
            as_of,
            start,
            run_kind,
            custom_years,
            title_day,
            lim,
            calendar,
            rules,
            trace,
        )
    claim_barred = limitation_day != NULL_DAY and as_of > limitation_day
    # the tranches are kept only where they decide something: a time-barred claim's interest is all
    # barred, and a claim with no limitation event whose first day of interest reaches as_of
    # (plain_split) has none barred; an explanation (``tranches`` with rows) keeps them all
    track = tranches.shape[0] > 0 or not (claim_barred or (plain and due_day + 1 >= plain_split))
    if not track:
        # balances and accrual alone: the interest time-barred is all of it or none
        for j in range(lo, hi + 1):
            day = as_of + 1 if j == hi else ev_day[j]
            if day > as_of:
                day = as_of + 1
            elif dropped[j]:
                continue
            last = min(day, as_of)
            if accruing and last > accrued_through:
                gained, _, _, n_pieces, rate_row = accrue(
                    principal,
                    accrued_through + 1,
                    last,
                    rate_row,
                    rates,
                    first_row,
                    end_row,
                    capped,
                    contract_bp,
                    pieces,
                    n_pieces,
                    accrued_through + 1,
                    last + 1,
                )
                interest += gained
                accrued += gained
                accrued_through = last
            if day > as_of:
                break
            kind = ev_kind[j]
            principal, interest, costs, paid_costs, paid_interest, paid_principal, overpaid, _ = _apply_event(
                kind,
                ev_value[j],
                order,
                principal,
                interest,
                costs,
                paid_costs,
                paid_interest,
                paid_principal,
                overpaid,
            )
            if kind == codes.PAYMENT:
                last_payment = day
            elif kind == codes.WRITE_OFF:
                accruing = False
        return (
            principal,
            interest,
            costs,
            accrued,
            interest if claim_barred else 0,
            paid_costs,
            paid_interest,
            paid_principal,
            overpaid,
            last_payment,
            limitation_day,
            n_pieces,
            n_trace,
            n_tranches,
        )
    if not plain:
        interest_rules(m, rules, ev_day, ev_kind, as_of, plain_split, lim, calendar)
    # the days whose interest shares the claim's end: up to its title_date (none without one)
    confirmed_through = title_day if titled else due_day

    head = 0
    tail = 0
    at_cutoff = interest
    cutoff_tranche = at_cutoff > 0  # its flag is that of day due + 1, set once the events before it acted
    if cutoff_tranche:
        t_amount[0] = at_cutoff
        t_barred[0] = False
        tail = 1
    k = 0  # the limitation events passed: rules[k] is the rule of the days being accrued
    from_day = plain_split  # days before from_day barred when ``before``, the others when ``after``
    before = True
    after = False

    for j in range(lo, hi + 1):
        day = as_of + 1 if j == hi else ev_day[j]
        if day > as_of:
            day = as_of + 1
        elif dropped[j]:
            continue  # a reversed event never happened: it does not even cut the accrual
        last = min(day, as_of)
        settle_cutoff = cutoff_tranche and day > due_day
        if not plain and (settle_cutoff or (accruing and last > accrued_through)):
            from_day = rules[k, 0]
            before = rules[k, 1] != 0
            after = rules[k, 2] != 0
        if settle_cutoff:
            cutoff_tranche = False
            barred = False
            if due_day >= confirmed_through:
                barred = before if due_day + 1 < from_day else after
                if head == 0 and tail > 0:  # still in the list (not paid, waived or capitalized)
                    t_barred[0] = barred
            n_tranches = _record_tranche(tranches, n_tranches, NULL_DAY, cutoff_day, at_cutoff, barred)
        if accruing and last > accrued_through:
            a = accrued_through + 1
            # bands a..c1-1 (confirmed by the title), c1..c2-1 and c2..last, each with one flag
            c1 = a
            barred0 = False
            barred1 = before
            barred2 = after
            if a <= confirmed_through:
                c1 = min(confirmed_through, last) + 1
            c2 = min(max(from_day, c1), last + 1)
            if c1 >= c2:  # an empty middle band joins its neighbours
                barred1 = barred0
            if barred0 == barred1:
                c1 = a
            if barred1 == barred2:
                c2 = last + 1
            gained, band0, band1, n_pieces, rate_row = accrue(
                principal, a, last, rate_row, rates, first_row, end_row, capped, contract_bp, pieces, n_pieces, c1, c2
            )
            band2 = gained - band0 - band1
            tail = _push(band0, barred0, t_amount, t_barred, head, tail)
            tail = _push(band1, barred1, t_amount, t_barred, head, tail)
            tail = _push(band2, barred2, t_amount, t_barred, head, tail)
            n_tranches = _record_tranche(tranches, n_tranches, a, c1 - 1, band0, barred0)
            n_tranches = _record_tranche(tranches, n_tranches, c1, c2 - 1, band1, barred1)
            n_tranches = _record_tranche(tranches, n_tranches, c2, last, band2, barred2)
            interest += gained
            accrued += gained
            accrued_through = last
        if day > as_of:
            break
        kind = ev_kind[j]

        if kind >= codes.ACKNOWLEDGMENT:  # the clock ran in claim_limitation
            k += 1
            continue
        # balances
        principal, interest, costs, paid_costs, paid_interest, paid_principal, overpaid, taken = _apply_event(
            kind, ev_value[j], order, principal, interest, costs, paid_costs, paid_interest, paid_principal, overpaid
        )
        if kind == codes.PAYMENT:
            last_payment = day
        elif kind == codes.CAPITALIZATION or kind == codes.WRITE_OFF:
            accruing = accruing and kind != codes.WRITE_OFF
            head = 0
            tail = 0
        head = _take_oldest(taken, t_amount, head, tail)

    interest_barred = 0
    if claim_barred:
        interest_barred = interest
    else:
        for t in range(head, tail):
            if t_barred[t]:
                interest_barred += t_amount[t]
    return (
        principal,
        interest,
        costs,
        accrued,
        interest_barred,
        paid_costs,
        paid_interest,
        paid_principal,
        overpaid,
        last_payment,
        limitation_day,
        n_pieces,
        n_trace,
        n_tranches,
    )


@njit(parallel=True, cache=True, nogil=True, fastmath=False)
def claim_states(
    principal,
    interest,
    costs,
    due_day,
    cutoff_day,
    contract_bp,
    limitation_kind,
    custom_years,
    title_day,
    basis,
    waterfall,
    offsets,
    ev_day,
    ev_kind,
    ev_value,
    as_of,
    rate_day,
    rate_bp,
    rate_last,
    basis_first_row,
    basis_end_row,
    basis_capped,
    waterfall_orders,
    lim,
    calendar_base,
    civil,
    first_year,
    month_start,
    run_ends,
    run_hows,
    reaching,
    dropped,
    money,
    days,
    flags,
    first,
    stop,
    out_first,
):
    """The state of claims ``first`` to ``stop - 1``, written column by column as claim_state holds it
    (whole arrays in, a range of claims per call: every call has the same array types, so numba
    compiles this once). Claim ``i``'s outputs go to column ``i - out_first``: 0 when the outputs
    hold every claim, ``first`` when they hold this range only (a buffer reused chunk after chunk):

    - ``money`` (int64, MONEY_COLUMNS x n): principal, interest, costs and total due, interest
      accrued, interest time-barred, paid to costs, interest and principal, overpaid;
    - ``days`` (int32, DAY_COLUMNS x n): last payment day, limitation day (NULL_DAY for none),
      days past due;
    - ``flags`` (int8, FLAG_COLUMNS x n): time-barred (0/1).

    ``basis`` indexes ``basis_first_row``/``basis_end_row``/``basis_capped`` (the rows of
    ``rate_day``/``rate_bp``/``rate_last`` deciding that basis' rate); ``waterfall`` indexes ``waterfall_orders``.
    ``civil`` (from ``calendar_base``) and ``month_start`` (from January of ``first_year``) are the
    calendar tables (see ``kernels.calendar.calendar_tables``); ``run_ends``, ``run_hows`` and
    ``reaching`` the runs' ends by their first day (``limitation.fill_run_end_tables``).
    ``offsets`` (n_claims + 1) index the event arrays; ``ev_value`` is an event's amount, or for a
    reversal the index of the event it cancels; ``dropped`` is scratch, one False per event.
    Claims run in blocks of BLOCK, in parallel; each block has its own tranche scratch."""
    rates = (rate_day, rate_bp, rate_last)
    calendar = (calendar_base, civil, first_year, month_start, run_ends, run_hows, reaching)
    plain_split = first_day_reaching(as_of, lim, calendar)
    no_pieces = np.empty((0, 5), dtype=np.int64)
    no_trace = np.empty((0, 6), dtype=np.int64)
    no_tranches = np.empty((0, 4), dtype=np.int64)
    n_blocks = (stop - first + BLOCK - 1) // BLOCK
    for block in prange(n_blocks):
        lo = first + block * BLOCK
        hi = min(stop, lo + BLOCK)
        most = 0
        for i in range(lo, hi):
            most = max(most, offsets[i + 1] - offsets[i])
        scratch = claim_scratch(most)
        for i in range(lo, hi):
            b = basis[i]
            w = waterfall[i]
            r = claim_one(
                principal[i],
                interest[i],
                costs[i],
                due_day[i],
                cutoff_day[i],
                contract_bp[i],
                limitation_kind[i],
                custom_years[i],
                title_day[i],
                waterfall_orders[w, 0] | (waterfall_orders[w, 1] << 2) | (waterfall_orders[w, 2] << 4),
                offsets[i],
                offsets[i + 1],
                ev_day,
                ev_kind,
                ev_value,
                dropped,
                as_of,
                plain_split,
                rates,
                basis_first_row[b],
                basis_end_row[b],
                basis_capped[b],
                lim,
                calendar,
                scratch,
                no_pieces,
                no_trace,
                no_tranches,
            )
            o = i - out_first
            money[0, o] = r[0]
            money[1, o] = r[1]
            money[2, o] = r[2]
            money[3, o] = r[0] + r[1] + r[2]
            money[4, o] = r[3]
            money[5, o] = r[4]
            money[6, o] = r[5]
            money[7, o] = r[6]
            money[8, o] = r[7]
            money[9, o] = r[8]
            limitation_day = r[10]
            days[0, o] = r[9]
            days[1, o] = limitation_day
            days[2, o] = as_of - due_day[i]
            flags[0, o] = limitation_day != NULL_DAY and as_of > limitation_day
