"""The limitation clock (przedawnienie, ENGINE.md §3): the end of a run, with the 2018 transitional
rule and the art. 115 KC move past Saturdays, Sundays and holidays."""

from numba import njit

from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY, add_years, civil_from_days, days_from_civil


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def law_end(start, years, year_end_min_years):
    """End of a run of ``years`` from ``start`` under one version of the Code: same day and month,
    moved to 31 December when the version has a year-end rule (``year_end_min_years > 0``) and the
    run is at least that long."""
    if year_end_min_years > 0 and years >= year_end_min_years:
        y, _, _ = civil_from_days(start)  # add_years keeps the year: y + years
        return days_from_civil(y + years, 12, 31)
    return add_years(start, years)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def run_end(start, kind, custom_years, lim):
    """End of a run of ``kind`` starting on ``start`` (before the art. 115 move), and how it was found.

    ``lim`` packs the rules: [reform day, old years by kind (6), old year-end minimum, new years by
    kind (6), new year-end minimum]; 0 years means the claim's own ``custom_years``."""
    reform_day = lim[0]
    old_year_end_min = lim[7]
    new_year_end_min = lim[14]
    new_n = lim[8 + kind] if lim[8 + kind] > 0 else custom_years
    if start >= reform_day:
        return law_end(start, new_n, new_year_end_min), codes.END_NEW_LAW
    old_n = lim[1 + kind] if lim[1 + kind] > 0 else custom_years
    old_end = law_end(start, old_n, old_year_end_min)
    if old_end < reform_day:
        return old_end, codes.END_OLD_EXPIRED
    if new_n < old_n:
        from_reform = law_end(reform_day, new_n, new_year_end_min)
        if old_end <= from_reform:
            return old_end, codes.END_OLD_EARLIER
        return from_reform, codes.END_FROM_REFORM
    return law_end(start, new_n, new_year_end_min), codes.END_NEW_FROM_START


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def next_open_day(day, calendar_base, next_open):
    """The first day on or after ``day`` that is no Saturday, Sunday or holiday; NULL_DAY when
    ``day`` is outside the calendar."""
    i = day - calendar_base
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
