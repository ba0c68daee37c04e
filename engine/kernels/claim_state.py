"""One pass over each claim and its events: balances, interest, payments and the limitation clock.

``claim_states`` runs ``claim_one`` for every claim in parallel (numba threads). Claims are rows
of arrays; a claim's events are ``events[offsets[i]:offsets[i + 1]]``, sorted by (day, event_id).
The meaning of every output is ENGINE.md's; see engine/state.py for the typed entry point.
"""

import numpy as np
from numba import njit, prange

from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY
from engine.kernels.interest import accrue
from engine.kernels.limitation import next_open_day, record_step, run_end

N_OUTPUTS = 11  # what claim_one returns: principal, interest, costs, accrued, paid costs/interest/principal,
# overpaid, last payment day, limitation day, error (then the counts of pieces and steps)
MONEY_COLUMNS = 9  # claim_states' outputs, see there
DAY_COLUMNS = 3
FLAG_COLUMNS = 2


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _mark_reversed(lo, hi, ev_day, ev_kind, ev_value, as_of, dropped):
    """Drop every reversal that counts and the event it cancels (ENGINE.md §1); a reversal's
    ``ev_value`` is that event's index."""
    for j in range(lo, hi):
        if ev_kind[j] == codes.REVERSAL and ev_day[j] <= as_of:
            dropped[j] = True
            dropped[ev_value[j]] = True


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def _new_run(day, kind, custom_years, lim, calendar):
    """(moved end, raw end, how) of a run of ``kind`` starting on ``day``."""
    raw, how = run_end(day, kind, custom_years, lim, calendar)
    return next_open_day(raw, calendar), raw, how


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def claim_one(
    principal, interest, costs, due_day, cutoff_day, contract_bp, limitation_kind, custom_years, title_day,
    order,
    lo, hi, ev_day, ev_kind, ev_value, dropped,
    as_of,
    rates, first_row, end_row, capped,
    lim, calendar,
    pieces, trace,
):  # fmt: skip
    """The state of one claim as of ``as_of``.

    ``order`` packs the waterfall's bucket codes, first | second << 2 | third << 4 (one argument:
    CPython 3.11 passes more than 30 positional arguments as *args, which numba cannot inline).
    ``lim`` packs the limitation rules: [reform day, old years by kind (6), old year-end minimum,
    new years by kind (6), new year-end minimum]. ``rates`` and ``calendar`` are tuples of the rule
    tables (see ``accrue`` and ``next_open_day``). ``pieces`` and ``trace`` receive the interest
    pieces and limitation steps while they have rows (zero rows in a portfolio run). An event's
    ``ev_value`` is its amount, or for a reversal the index of the event it cancels.
    Returns the N_OUTPUTS values and the counts of pieces and steps."""
    _mark_reversed(lo, hi, ev_day, ev_kind, ev_value, as_of, dropped)

    accrued = 0
    paid_costs = 0
    paid_interest = 0
    paid_principal = 0
    overpaid = 0
    last_payment = NULL_DAY
    error = codes.ERR_NONE
    n_pieces = 0
    n_trace = 0
    accrued_through = max(due_day, cutoff_day)
    accruing = True
    rate_row = first_row - 1  # the rate table's row in force on the last day accrued (none yet)

    titled = title_day != NULL_DAY
    run_kind = codes.LIMITATION_TITLE if titled else limitation_kind
    start = title_day if titled else due_day
    end, raw, how = _new_run(start, run_kind, custom_years, lim, calendar)
    n_trace = record_step(trace, n_trace, codes.STEP_START, start, run_kind, raw, how, end)
    suspended = 0  # 0: running; else the kind of the filing that suspended it

    for j in range(lo, hi):
        day = ev_day[j]
        if day > as_of:
            break
        if dropped[j]:
            continue
        kind = ev_kind[j]
        if accruing and day > accrued_through:
            gained, n_pieces, rate_row = accrue(
                principal, accrued_through + 1, day, rate_row, rates, first_row, end_row, capped,
                contract_bp, pieces, n_pieces,
            )  # fmt: skip
            interest += gained
            accrued += gained
            accrued_through = day

        # balances
        if kind == codes.PAYMENT:
            remaining = ev_value[j]
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
                else:
                    take = min(principal, remaining)
                    principal -= take
                    paid_principal += take
                remaining -= take
            overpaid += remaining
            last_payment = day
        elif kind == codes.COST:
            costs += ev_value[j]
        elif kind == codes.INTEREST_WAIVER:
            interest -= min(interest, ev_value[j])
        elif kind == codes.CAPITALIZATION:
            principal += interest
            interest = 0
        elif kind == codes.WRITE_OFF:
            principal = 0
            interest = 0
            costs = 0
            accruing = False

        # limitation
        elif kind >= codes.ACKNOWLEDGMENT:
            if suspended == 0 and day > end:
                n_trace = record_step(trace, n_trace, codes.STEP_BARRED, day, kind, end, 0, end)
                continue
            step = codes.STEP_NO_EFFECT
            if kind == codes.TITLE:
                titled = True
                run_kind = codes.LIMITATION_TITLE
                suspended = 0
                step = codes.STEP_TITLE
            elif kind == codes.COURT_FILING or kind == codes.ENFORCEMENT_FILING:
                suspended = kind
                step = codes.STEP_SUSPEND
            elif suspended == 0:
                if kind == codes.ACKNOWLEDGMENT:
                    step = codes.STEP_NEW_RUN
            elif (kind == codes.PROCEEDINGS_END and suspended == codes.COURT_FILING) or (
                kind == codes.ENFORCEMENT_END and suspended == codes.ENFORCEMENT_FILING
            ):
                suspended = 0
                step = codes.STEP_NEW_RUN
            if step == codes.STEP_NEW_RUN or step == codes.STEP_TITLE:
                end, raw, how = _new_run(day, run_kind, custom_years, lim, calendar)
                n_trace = record_step(trace, n_trace, step, day, kind, raw, how, end)
            else:
                n_trace = record_step(trace, n_trace, step, day, kind, end, 0, end)
        if end == NULL_DAY:
            error = codes.ERR_OUTSIDE_CALENDAR

    if accruing and as_of > accrued_through:
        gained, n_pieces, rate_row = accrue(
            principal, accrued_through + 1, as_of, rate_row, rates, first_row, end_row, capped,
            contract_bp, pieces, n_pieces,
        )  # fmt: skip
        interest += gained
        accrued += gained
    if end == NULL_DAY:
        error = codes.ERR_OUTSIDE_CALENDAR
    limitation_day = NULL_DAY if suspended != 0 else end
    return (
        principal, interest, costs, accrued, paid_costs, paid_interest, paid_principal, overpaid,
        last_payment, limitation_day, error, n_pieces, n_trace,
    )  # fmt: skip


@njit(parallel=True, cache=True, nogil=True, fastmath=False)
def claim_states(
    principal, interest, costs, due_day, cutoff_day, contract_bp, limitation_kind, custom_years, title_day,
    basis, waterfall,
    offsets, ev_day, ev_kind, ev_value,
    as_of,
    rate_day, rate_bp, rate_last, basis_first_row, basis_end_row, basis_capped, waterfall_orders,
    lim, calendar_base, next_open, civil, first_year, month_start,
    dropped, money, days, flags, first, stop, out_first,
):  # fmt: skip
    """The state of claims ``first`` to ``stop - 1``, written column by column as claim_state holds it
    (whole arrays in, a range of claims per call: every call has the same array types, so numba
    compiles this once). Claim ``i``'s outputs go to column ``i - out_first``: 0 when the outputs
    hold every claim, ``first`` when they hold this range only (a buffer reused chunk after chunk):

    - ``money`` (int64, MONEY_COLUMNS x n): principal, interest, costs and total due, interest
      accrued, paid to costs, interest and principal, overpaid;
    - ``days`` (int32, DAY_COLUMNS x n): last payment day, limitation day (NULL_DAY for none),
      days past due;
    - ``flags`` (int8, FLAG_COLUMNS x n): time-barred (0/1), error code.

    ``basis`` indexes ``basis_first_row``/``basis_end_row``/``basis_capped`` (the rows of
    ``rate_day``/``rate_bp``/``rate_last`` deciding that basis' rate); ``waterfall`` indexes ``waterfall_orders``.
    ``next_open`` (from ``calendar_base``), ``civil`` and ``month_start`` (from January of
    ``first_year``) are the calendar (see ``kernels.calendar.calendar_tables``).
    ``offsets`` (n_claims + 1) index the event arrays; ``ev_value`` is an event's amount, or for a
    reversal the index of the event it cancels; ``dropped`` is scratch, one False per event."""
    no_pieces = np.empty((0, 5), dtype=np.int64)
    no_trace = np.empty((0, 6), dtype=np.int64)
    rates = (rate_day, rate_bp, rate_last)
    calendar = (calendar_base, next_open, civil, first_year, month_start)
    for i in prange(first, stop):
        b = basis[i]
        w = waterfall[i]
        r = claim_one(
            principal[i], interest[i], costs[i], due_day[i], cutoff_day[i], contract_bp[i], limitation_kind[i],
            custom_years[i], title_day[i],
            waterfall_orders[w, 0] | (waterfall_orders[w, 1] << 2) | (waterfall_orders[w, 2] << 4),
            offsets[i], offsets[i + 1], ev_day, ev_kind, ev_value, dropped,
            as_of,
            rates, basis_first_row[b], basis_end_row[b], basis_capped[b],
            lim, calendar,
            no_pieces, no_trace,
        )  # fmt: skip
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
        limitation_day = r[9]
        days[0, o] = r[8]
        days[1, o] = limitation_day
        days[2, o] = as_of - due_day[i]
        flags[0, o] = limitation_day != NULL_DAY and as_of > limitation_day
        flags[1, o] = r[10]
