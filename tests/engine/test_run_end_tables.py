"""The runs' ends the kernels look up (``fill_run_end_tables``) are those they would compute: every
kind's end and how it was found, and the first day whose periodic run reaches a day, on every day of
2017-2027 (the reform and the years around it) and every 17th day of the rest."""

from datetime import date

import numpy as np

from engine.domain import LimitationKind
from engine.kernel_rules import KernelRules
from engine.kernels.calendar import NULL_DAY
from engine.kernels.limitation import first_day_reaching, new_run_end, run_end_at
from engine.rules import day_number, load_rules


def _days(k: KernelRules) -> list[int]:
    base, n = k.calendar_base, k.run_ends.shape[1]
    dense = range(day_number(date(2017, 1, 1)), day_number(date(2028, 1, 1)))
    return sorted(set(dense) | set(range(base, base + n, 17)) | {base, base + 1, base + n - 2, base + n - 1})


def _bare(k: KernelRules) -> tuple:
    """The calendar without the tables: every end computed."""
    kinds = len(LimitationKind)
    return (
        k.calendar_base,
        k.civil,
        k.first_year,
        k.month_start,
        np.empty((kinds, 0), dtype=np.int32),
        np.empty((kinds, 0), dtype=np.int8),
        np.empty(0, dtype=np.int32),
    )


def test_the_tables_hold_the_computed_ends():
    k = KernelRules.of(load_rules())
    bare = _bare(k)
    own = [kind for kind in range(len(LimitationKind)) if k.limitation[1 + kind] == 0 or k.limitation[8 + kind] == 0]
    assert own == [list(LimitationKind).index(LimitationKind.CUSTOM)]
    for day in _days(k):
        i = day - k.calendar_base
        for kind in range(len(LimitationKind)):
            if kind in own:
                assert k.run_ends[kind, i] == NULL_DAY
                assert run_end_at(day, kind, 7, k.limitation, k.calendar) == new_run_end(
                    day, kind, 7, k.limitation, bare
                )
                continue
            end, how = new_run_end(day, kind, 0, k.limitation, bare)
            assert (k.run_ends[kind, i], k.run_hows[kind, i]) == (end, how), (day, kind)
        reaching = first_day_reaching(day, k.limitation, bare)
        if k.reaching[i] != NULL_DAY:
            assert k.reaching[i] == reaching, day
    for day in _days(k)[::97]:  # the look-ups the kernels make give the same
        for kind in range(len(LimitationKind)):
            assert run_end_at(day, kind, 5, k.limitation, k.calendar) == new_run_end(day, kind, 5, k.limitation, bare)
        assert first_day_reaching(day, k.limitation, k.calendar) == first_day_reaching(day, k.limitation, bare)


def test_days_outside_the_tables_are_computed():
    k = KernelRules.of(load_rules())
    bare = _bare(k)
    past = k.calendar_base + k.run_ends.shape[1] + 400
    before = k.calendar_base - 400
    for day in (before, past):
        assert run_end_at(day, 0, 0, k.limitation, k.calendar) == new_run_end(day, 0, 0, k.limitation, bare)
        assert first_day_reaching(day, k.limitation, k.calendar) == first_day_reaching(day, k.limitation, bare)
    assert k.reaching[0] == NULL_DAY  # its first day reaching lies before the table
