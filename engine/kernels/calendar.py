"""Civil-calendar arithmetic on int day numbers (days since 1970-01-01, Arrow date32).

Howard Hinnant's ``days_from_civil`` / ``civil_from_days`` (proleptic Gregorian), exact for any
int32 day. Pure functions, no I/O.
"""

from numba import njit

NULL_DAY = -(2**31)  # the kernels' null date (int32 min); never a real day


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def days_from_civil(y, m, d):
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (1 if m <= 2 else 0), m, d


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def is_leap(y):
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def add_years(day, years):
    """The same day and month ``years`` later; 29 February lands on 28 February."""
    y, m, d = civil_from_days(day)
    y += years
    if m == 2 and d == 29 and not is_leap(y):
        d = 28
    return days_from_civil(y, m, d)
