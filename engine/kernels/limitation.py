"""The limitation clock (przedawnienie, docs/engine.md §3 and §3a): the end of a run with the 2018
transitional rule, one event's effect on a run, and the 3-year runs of each day's interest.

Ends are never moved off Saturdays, Sundays or holidays: art. 115 KC does not apply to the end of a
limitation period (SN, 7 judges, III CZP 21/23 of 22 May 2024).
"""

import numpy as np
from numba import njit

from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY, civil_of, day_of, is_leap


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def law_end(start, years, year_end_min_years, calendar):
    """End of a run of ``years`` from ``start`` under one version of the Code: same day and month,
    moved to 31 December when the version has a year-end rule (``year_end_min_years > 0``) and the
    run is at least that long; 29 February lands on 28 February in a common year. ``calendar`` is
    (first day, civil, first year, month_start, ends, hows, reaching): the first four as
    ``calendar.calendar_tables`` builds them, the last three as ``fill_run_end_tables`` fills them."""
    base = calendar[0]
    civil = calendar[1]
    first_year = calendar[2]
    month_start = calendar[3]
    y, m, d = civil_of(start, base, civil)
    y += years
    if year_end_min_years > 0 and years >= year_end_min_years:
        return day_of(y, 12, 31, first_year, month_start)
    if m == 2 and d == 29 and not is_leap(y):
        d = 28
    return day_of(y, m, d, first_year, month_start)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def run_end(start, kind, custom_years, lim, calendar):
    """End of a run of ``kind`` starting on ``start``, and how it was found (``codes.END_*``).

    ``lim`` packs the rules: [reform day, old years by kind (6), old year-end minimum, new years by
    kind (6), new year-end minimum]; 0 years means the claim's own ``custom_years``."""
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


@njit(cache=True, nogil=True, fastmath=False, _nrt=False)
def new_run_end(start, kind, custom_years, lim, calendar):
    """``run_end`` as a call, not inlined where it is used: each inlined copy costs numba seconds
    of compiling, and these paths are not the hot ones."""
    return run_end(start, kind, custom_years, lim, calendar)


@njit(cache=True, nogil=True, fastmath=False)
def fill_run_end_tables(lim, calendar, ends, hows, reaching):
    """The ends of runs by the day they start, for every day of the calendar's civil table (day
    ``calendar[0] + i`` at column ``i``), so the kernels look ends up instead of computing them:
    ``ends[kind, i]``/``hows[kind, i]`` what ``run_end`` gives for a run of ``kind`` (0..5) from that
    day (NULL_DAY/-1 for a kind whose years are a claim's own), ``reaching[i]`` what
    ``first_day_reaching`` gives for that day (NULL_DAY where that day lies before the table or
    past it). Filled once per rule book (``engine.kernel_rules``)."""
    base = calendar[0]
    n = ends.shape[1]
    for kind in range(ends.shape[0]):
        own = lim[1 + kind] == 0 or lim[8 + kind] == 0
        for i in range(n):
            if own:
                ends[kind, i] = NULL_DAY
                hows[kind, i] = -1
            else:
                end, how = run_end(base + i, kind, 0, lim, calendar)
                ends[kind, i] = end
                hows[kind, i] = how
    # a periodic run's end never decreases with its start (``first_day_ending_by``): one sweep
    periodic = ends[codes.LIMITATION_PERIODIC]
    d = 0
    for i in range(n):
        while d < n and periodic[d] < base + i:
            d += 1
        reaching[i] = base + d if 0 < d < n and periodic[0] != NULL_DAY else NULL_DAY


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def run_end_at(start, kind, custom_years, lim, calendar):
    """``run_end`` looked up in the calendar's tables (``fill_run_end_tables``), computed outside them."""
    i = start - calendar[0]
    ends = calendar[4]
    if 0 <= i < ends.shape[1]:
        end = ends[kind, i]
        if end != NULL_DAY:
            return np.int64(end), np.int64(calendar[5][kind, i])
    return new_run_end(start, kind, custom_years, lim, calendar)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def limitation_event(kind, day, end, court, enforcement, run_kind):
    """One counted event's effect on a run (§3): the court and enforcement proceedings pending, the
    kind of the run's next runs and the step (``codes.STEP_*``). ``kind`` must be a limitation event
    (>= ACKNOWLEDGMENT). After STEP_NEW_RUN or STEP_TITLE a new run of the returned kind starts on
    ``day``: the caller finds its end (the claim's own clock with its years, an interest run from
    ends found once per event); after any other step the end is unchanged.

    A title acts even on a time-barred claim and ends the court proceedings pending; any other
    event acts only when the claim is not time-barred on its day (``day <= end``) or a proceeding
    is pending. The run is suspended while any proceeding is pending, and starts anew on the day
    the last one ends."""
    if kind == codes.TITLE:
        return 0, enforcement, codes.LIMITATION_TITLE, codes.STEP_TITLE
    if court + enforcement == 0 and day > end:
        return court, enforcement, run_kind, codes.STEP_BARRED
    if kind == codes.COURT_FILING:
        return court + 1, enforcement, run_kind, codes.STEP_SUSPEND
    if kind == codes.ENFORCEMENT_FILING:
        return court, enforcement + 1, run_kind, codes.STEP_SUSPEND
    if kind == codes.ACKNOWLEDGMENT:
        if court + enforcement > 0:
            return court, enforcement, run_kind, codes.STEP_NO_EFFECT
        return court, enforcement, run_kind, codes.STEP_NEW_RUN
    if kind == codes.PROCEEDINGS_END:
        if court == 0:
            return court, enforcement, run_kind, codes.STEP_NO_EFFECT
        court -= 1
    elif kind == codes.ENFORCEMENT_END:
        if enforcement == 0:
            return court, enforcement, run_kind, codes.STEP_NO_EFFECT
        enforcement -= 1
    else:
        return court, enforcement, run_kind, codes.STEP_NO_EFFECT
    if court + enforcement > 0:
        return court, enforcement, run_kind, codes.STEP_STILL_SUSPENDED
    return court, enforcement, run_kind, codes.STEP_NEW_RUN


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def record_step(trace, n_trace, step, day, what, end, how, pending):
    """A row of the limitation trace: step, day, event kind (or the first run's kind), the end
    after it (NULL_DAY while suspended), how that end was found, proceedings pending."""
    if n_trace < trace.shape[0]:
        trace[n_trace, 0] = step
        trace[n_trace, 1] = day
        trace[n_trace, 2] = what
        trace[n_trace, 3] = end
        trace[n_trace, 4] = how
        trace[n_trace, 5] = pending
    return n_trace + 1


# ----------------------------------------------------------------------------- interest (§3a)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def periodic_end(day, lim, calendar):
    """End of a periodic run from ``day``: where the interest of ``day`` stops, absent events."""
    return run_end_at(day, codes.LIMITATION_PERIODIC, 0, lim, calendar)[0]


@njit(cache=True, nogil=True, fastmath=False, _nrt=False)
def first_day_ending_by(x, a, b, lim, calendar):
    """The first day d of a..b whose periodic run from d ends on or after ``x`` (b + 1: none).
    A periodic run's end never decreases with its start (same day and month or 31 December, years
    fixed per version, art. 5 taking the later of two rules only when the new one is not shorter)."""
    if periodic_end(a, lim, calendar) >= x:
        return a
    if periodic_end(b, lim, calendar) < x:
        return b + 1
    lo, hi = a, b  # periodic_end(lo) < x <= periodic_end(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if periodic_end(mid, lim, calendar) >= x:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True, nogil=True, fastmath=False, _nrt=False)
def first_day_reaching(x, lim, calendar):
    """The first day whose periodic run reaches ``x`` (ends on or after it). A periodic run is at
    least its years long and ends at the latest on 31 December a year after that, so the day lies
    in the span searched. Looked up in the calendar's table where it has the day."""
    i = x - calendar[0]
    if 0 <= i < calendar[6].shape[0] and calendar[6][i] != NULL_DAY:
        return np.int64(calendar[6][i])
    reform_day = lim[0]
    years = lim[8 + codes.LIMITATION_PERIODIC]
    year_end_min = lim[14]
    if year_end_min > 0 and years >= year_end_min:
        # under the year-end rule a run from d ends on 31 December of d's year + years: it reaches x
        # from 1 January of x's year - years on, when that day and the one before are new-law days
        y, _, _ = civil_of(x, calendar[0], calendar[1])
        day = day_of(y - years, 1, 1, calendar[2], calendar[3])
        if day > reform_day:
            return day
        # before the reform the transitional rule may still end such runs on 31 December: 1 January
        # is the day when its run reaches x and the day before's does not (the ends never decrease)
        if periodic_end(day, lim, calendar) >= x and periodic_end(day - 1, lim, calendar) < x:
            return day
    years = max(lim[1 + codes.LIMITATION_PERIODIC], years)
    return first_day_ending_by(x, x - 366 * (years + 2), x, lim, calendar)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def interest_run_barred(k, m, events, ev_day, ev_kind, as_of, end, court, enforcement):
    """Whether a periodic run of interest in the state (end, proceedings pending) before the k-th
    limitation event that counts is time-barred on ``as_of`` once the k-th to the (m-1)-th have acted
    on it (§3a). ``events[n]`` holds the n-th's event index (column 3) and the ends of a periodic and
    of a title run starting on its day (columns 4 and 5)."""
    run_kind = codes.LIMITATION_PERIODIC
    for n in range(k, m):
        j = events[n, 3]
        court, enforcement, run_kind, step = limitation_event(ev_kind[j], ev_day[j], end, court, enforcement, run_kind)
        if step == codes.STEP_NEW_RUN or step == codes.STEP_TITLE:
            end = events[n, 5] if run_kind == codes.LIMITATION_TITLE else events[n, 4]
    return court + enforcement == 0 and as_of > end


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def acts_on_interest(kind):
    """An event that can start, stop or suspend an interest run that is running."""
    return (
        kind == codes.ACKNOWLEDGMENT
        or kind == codes.COURT_FILING
        or kind == codes.ENFORCEMENT_FILING
        or kind == codes.TITLE
    )


#: A day before any day: ``interest_rule``'s "every day is after".
NO_DAY_BEFORE = -(2**31) + 1
#: ``interest_rule``'s "the first day whose periodic run reaches the f-th event" (found by the caller, once per f).
REACHING_F = -(2**31) + 2


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def interest_rule(k, f, m, events, ev_day, ev_kind, as_of, court, enforcement):
    """Which interest of the days before the k-th limitation event that counts and after the one
    before it (and after any title_date) is time-barred on ``as_of`` by the days' own runs (§3a):
    (from_day, before, after) — a day before ``from_day`` is barred when ``before``, a later one
    when ``after``.

    ``events[n]`` is the n-th of the ``m`` limitation events that count (``interest_run_barred``); ``f``
    is the first from the k-th on that ``acts_on_interest``; ``court``/``enforcement`` are the
    claim's proceedings pending after the events before the days; ``f < m`` when none are (with
    nothing pending and nothing acting the rule is the claim's plain one: ``interest_rules``).
    ``from_day`` may be REACHING_F: the first day whose periodic run reaches the f-th event's day
    (``first_day_reaching``), which the caller finds once for every k sharing that f.

    Each day's run starts suspended when proceedings are pending (the same for every day); else it
    ends at ``periodic_end(d)``, which grows with d. Until ``f`` nothing acts on it (an end with
    nothing pending changes nothing). ``f`` acts on the days whose run reaches it, and from then on
    they share one state; the others ended before ``f``, so before ``as_of``, unless a later title
    confirms them (a title acts on a barred run)."""
    if court + enforcement > 0:
        barred = interest_run_barred(k, m, events, ev_day, ev_kind, as_of, 0, court, enforcement)
        return NO_DAY_BEFORE, barred, barred
    x = ev_day[events[f, 3]]
    if ev_kind[events[f, 3]] == codes.TITLE:
        barred = interest_run_barred(f, m, events, ev_day, ev_kind, as_of, x, 0, 0)
        return NO_DAY_BEFORE, barred, barred
    after = interest_run_barred(f, m, events, ev_day, ev_kind, as_of, x, 0, 0)
    before = True
    for n in range(f + 1, m):
        if ev_kind[events[n, 3]] == codes.TITLE:
            before = interest_run_barred(n, m, events, ev_day, ev_kind, as_of, 0, 0, 0)
            break
    return REACHING_F, before, after


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def claim_limitation(
    lo, hi, ev_day, ev_kind, dropped, as_of, start, run_kind, custom_years, title_day, lim, calendar, rules, trace
):
    """The claim's limitation clock (§3) through its events lo..hi-1 that count (``dropped`` marked),
    from a first run of ``run_kind`` on ``start``; events before ``title_day`` are absorbed. Steps go
    to ``trace`` while it has rows. Returns the limitation day (NULL_DAY while suspended), the count
    of steps and the count m of limitation events that count, leaving in ``rules[k]`` for each of
    them (k < m) and after the last (k = m) what ``interest_rules`` reads: the court and enforcement
    proceedings pending before the k-th (columns 0 and 1) and its event index (column 3)."""
    m = 0
    for j in range(lo, hi):
        if ev_day[j] > as_of:
            break
        if ev_kind[j] >= codes.ACKNOWLEDGMENT and not dropped[j]:
            rules[m, 3] = j
            m += 1
    end, how = run_end_at(start, run_kind, custom_years, lim, calendar)
    n_trace = record_step(trace, 0, codes.STEP_START, start, run_kind, end, how, 0)
    court = 0
    enforcement = 0
    for k in range(m):
        rules[k, 0] = court
        rules[k, 1] = enforcement
        j = rules[k, 3]
        day = ev_day[j]
        kind = ev_kind[j]
        if day < title_day:  # only a claim with a title_date has days before it (NULL_DAY is int32 min)
            n_trace = record_step(trace, n_trace, codes.STEP_ABSORBED, day, kind, end, -1, court + enforcement)
        else:
            court, enforcement, run_kind, step = limitation_event(kind, day, end, court, enforcement, run_kind)
            how = -1
            if step == codes.STEP_NEW_RUN or step == codes.STEP_TITLE:
                end, how = run_end_at(day, run_kind, custom_years, lim, calendar)
            pending = court + enforcement
            n_trace = record_step(trace, n_trace, step, day, kind, NULL_DAY if pending else end, how, pending)
    rules[m, 0] = court
    rules[m, 1] = enforcement
    return (NULL_DAY if court + enforcement > 0 else end), n_trace, m


@njit(cache=True, nogil=True, fastmath=False, _nrt=False)
def interest_rules(m, rules, ev_day, ev_kind, as_of, plain_split, lim, calendar):
    """The interest rule (§3a, ``interest_rule``) of the days before each of the m limitation events
    that count (``claim_limitation`` left them in ``rules``): ``rules[k, :3]`` becomes (from_day,
    before, after) for the days after the k-th such event (k = 0: from the start) up to the next;
    ``rules[k, 4:6]`` receive the ends of a periodic and of a title run from the k-th event's day
    (``interest_run_barred``). Only a claim that is not time-barred needs these: all the interest
    of a time-barred claim is."""
    titled = False
    for n in range(m):
        j = rules[n, 3]
        # the ends of the runs the event may start (a filing starts none): a title's; after an
        # acknowledgment or the end of proceedings a periodic one, or a title's once a title acted
        kind = ev_kind[j]
        if kind == codes.TITLE:
            titled = True
            rules[n, 5] = run_end_at(ev_day[j], codes.LIMITATION_TITLE, 0, lim, calendar)[0]
        elif kind != codes.COURT_FILING and kind != codes.ENFORCEMENT_FILING:
            rules[n, 4] = run_end_at(ev_day[j], codes.LIMITATION_PERIODIC, 0, lim, calendar)[0]
            if titled:
                rules[n, 5] = run_end_at(ev_day[j], codes.LIMITATION_TITLE, 0, lim, calendar)[0]
    f = 0  # the first from k on that acts on a running interest run (m: none)
    # with nothing pending the rule depends on f alone: found once for every k sharing it
    free_f = -1
    free_from = NO_DAY_BEFORE
    free_before = True
    free_after = True
    for k in range(m + 1):
        court = rules[k, 0]
        enforcement = rules[k, 1]
        f = max(f, k)
        while f < m and not acts_on_interest(ev_kind[rules[f, 3]]):
            f += 1
        if court + enforcement == 0:
            if f >= m:  # nothing will act on these days' runs
                rules[k, 0], rules[k, 1], rules[k, 2] = plain_split, 1, 0
                continue
            if free_f != f:
                free_from, free_before, free_after = interest_rule(k, f, m, rules, ev_day, ev_kind, as_of, 0, 0)
                if free_from == REACHING_F:
                    x = ev_day[rules[f, 3]]
                    i = x - calendar[0]
                    if 0 <= i < calendar[6].shape[0] and calendar[6][i] != NULL_DAY:
                        free_from = calendar[6][i]
                    else:
                        free_from = first_day_reaching(x, lim, calendar)
                free_f = f
            rules[k, 0], rules[k, 1], rules[k, 2] = free_from, free_before, free_after
        else:
            from_day, before, after = interest_rule(k, f, m, rules, ev_day, ev_kind, as_of, court, enforcement)
            rules[k, 0], rules[k, 1], rules[k, 2] = from_day, before, after
