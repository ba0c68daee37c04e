"""The limitation clock (przedawnienie, ENGINE.md §3): the end of a run, with the 2018 transitional
rule and the art. 115 KC move past Saturdays, Sundays and holidays."""

from numba import njit

from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY, civil_of, day_of, is_leap


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def law_end(start, years, year_end_min_years, calendar):
    """End of a run of ``years`` from ``start`` under one version of the Code: same day and month,
    moved to 31 December when the version has a year-end rule (``year_end_min_years > 0``) and the
    run is at least that long; 29 February lands on 28 February in a common year."""
    base, _, civil, first_year, month_start = calendar
    y, m, d = civil_of(start, base, civil)
    y += years
    if year_end_min_years > 0 and years >= year_end_min_years:
        return day_of(y, 12, 31, first_year, month_start)
    if m == 2 and d == 29 and not is_leap(y):
        d = 28
    return day_of(y, m, d, first_year, month_start)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def run_end(start, kind, custom_years, lim, calendar):
    """End of a run of ``kind`` starting on ``start`` (before the art. 115 move), and how it was found.

    ``lim`` packs the rules: [reform day, old years by kind (6), old year-end minimum, new years by
    kind (6), new year-end minimum]; 0 years means the claim's own ``custom_years``. ``calendar``:
    see ``next_open_day``."""
    reform_day = lim[0]
    old_year_end_min = lim[7]
    new_year_end_min = lim[14]
    new_n = lim[8 + kind] if lim[8 + kind] > 0 else custom_years
    if start >= reform_day:
        return law_end(start, new_n, new_year_end_min, calendar), codes.END_NEW_LAW
    old_n = lim[1 + kind] if lim[1 + kind] > 0 else custom_years
    old_end = law_end(start, old_n, old_year_end_min, calendar)
    if old_end < reform_day:
        return old_end, codes.END_OLD_EXPIRED
    if new_n < old_n:
        from_reform = law_end(reform_day, new_n, new_year_end_min, calendar)
        if old_end <= from_reform:
            return old_end, codes.END_OLD_EARLIER
        return from_reform, codes.END_FROM_REFORM
    return law_end(start, new_n, new_year_end_min, calendar), codes.END_NEW_FROM_START


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def next_open_day(day, calendar):
    """The first day on or after ``day`` that is no Saturday, Sunday or holiday; NULL_DAY when
    ``day`` is outside the calendar. ``calendar`` is (first day, next open day of each day from the
    first, civil dates and month starts as ``calendar.calendar_tables`` builds them: first day,
    civil, first year, month_start) — one argument for all, see ``claim_one``."""
    base, next_open, _, _, _ = calendar
    i = day - base
    if i < 0 or i >= next_open.shape[0]:
        return NULL_DAY
    return next_open[i]


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def record_step(trace, n_trace, step, day, kind, raw_end, how, end):
    if n_trace < trace.shape[0]:
        trace[n_trace, 0] = step
        trace[n_trace, 1] = day
        trace[n_trace, 2] = kind
        trace[n_trace, 3] = raw_end
        trace[n_trace, 4] = how
        trace[n_trace, 5] = end
    return n_trace + 1
