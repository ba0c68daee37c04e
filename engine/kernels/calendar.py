"""Civil-calendar arithmetic on int day numbers (days since 1970-01-01, Arrow date32).

Howard Hinnant's ``days_from_civil`` / ``civil_from_days`` (proleptic Gregorian), exact for any
int32 day. Pure functions, no I/O.
"""

import numpy as np
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


#: Civil dates packed in one int32 (year << 9 | month << 5 | day) for the tables ``calendar_tables``
#: builds; ``civil_of`` and ``day_of`` read them, and fall back to the arithmetic above outside them.
CIVIL_YEAR_SHIFT = 9
CIVIL_MONTH_SHIFT = 5


def calendar_tables(first_day, n_days, first_year, n_years):
    """(civil, month_start) for ``n_days`` days from day ``first_day`` and ``n_years`` years from
    ``first_year``: civil[i] = year << 9 | month << 5 | day of first_day + i; month_start[12 k + m - 1]
    = the day number of the first of month m of year first_year + k. Plain numpy, built once."""
    days = np.arange(first_day, first_day + n_days, dtype="datetime64[D]")
    months = days.astype("datetime64[M]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    civil = ((years << CIVIL_YEAR_SHIFT) | (month << CIVIL_MONTH_SHIFT) | day).astype(np.int32)
    first_month = np.datetime64(f"{first_year:04d}-01", "M")
    month_start = np.arange(first_month, first_month + 12 * n_years).astype("datetime64[D]").astype(np.int32)
    return civil, month_start


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def civil_of(day, first_day, civil):
    """(year, month, day) of ``day``: one look-up inside the table, the arithmetic outside it."""
    i = day - first_day
    if 0 <= i < civil.shape[0]:
        v = civil[i]
        return v >> CIVIL_YEAR_SHIFT, (v >> CIVIL_MONTH_SHIFT) & 15, v & 31
    return civil_from_days(day)


@njit(cache=True, nogil=True, fastmath=False, inline="always")
def day_of(y, m, d, first_year, month_start):
    """The day number of y-m-d: one look-up inside the table, the arithmetic outside it."""
    k = (y - first_year) * 12 + m - 1
    if 0 <= k < month_start.shape[0]:
        return month_start[k] + d - 1
    return days_from_civil(y, m, d)
