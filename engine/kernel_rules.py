"""The rule book (``engine.rules``) as the kernel's arrays: the rate tables of every interest basis
one after another, the limitation periods before and after the 2018 reform, and the civil
calendar the limitation kernel walks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from engine.domain import InterestBasis, LimitationKind
from engine.kernels.calendar import calendar_tables
from engine.kernels.limitation import fill_run_end_tables
from engine.packing import frozen
from engine.rules import RuleBook, day_number

#: Which rate table decides each interest basis (engine/domain.py), and whether it caps a contractual
#: rate: a basis without a table pays its contract rate, which is 0 (zeroed but for contract-rate bases).
BASIS_TABLE: dict[InterestBasis, tuple[str | None, bool]] = {
    b: (b.rates.table, b.capped) if b.rates is not None else (None, True) for b in InterestBasis
}
#: By basis code (the basis's place in InterestBasis): whether the claim's own contractual rate is its rate.
CONTRACT_RATE = np.array([b.contract_rate for b in InterestBasis])


@dataclass(frozen=True)
class KernelRules:
    """The rule book as the kernel's arrays."""

    rate_day: np.ndarray
    rate_bp: np.ndarray
    rate_last: np.ndarray
    basis_first_row: np.ndarray
    basis_end_row: np.ndarray
    basis_capped: np.ndarray
    limitation: np.ndarray
    calendar_base: int
    civil: np.ndarray
    first_year: int
    month_start: np.ndarray
    run_ends: np.ndarray
    run_hows: np.ndarray
    reaching: np.ndarray

    @property
    def rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rate tables as ``kernels.interest.accrue`` takes them."""
        return self.rate_day, self.rate_bp, self.rate_last

    @property
    def calendar(self) -> tuple:
        """The calendar tables as ``kernels.limitation.law_end`` takes them."""
        return (
            self.calendar_base,
            self.civil,
            self.first_year,
            self.month_start,
            self.run_ends,
            self.run_hows,
            self.reaching,
        )

    @classmethod
    def of(cls, rules: RuleBook) -> KernelRules:
        """The kernels' arrays of ``rules``; the last rule book's are kept (``load_rules`` gives the
        same book each time, and one claim's balance spent ~0.1 ms of its ~1 ms rebuilding them)."""
        global _last_of
        last = _last_of  # one tuple, read once: safe from other threads replacing it
        if last is not None and last[0] is rules:
            return last[1]
        made = cls._of(rules)
        _last_of = (rules, made)
        return made

    @classmethod
    def _of(cls, rules: RuleBook) -> KernelRules:
        days, bps, lasts, first, end, capped = [], [], [], [], [], []
        row = 0
        for basis in InterestBasis:
            table_name, is_cap = BASIS_TABLE[basis]
            first.append(row)
            if table_name is not None:
                table = rules.rates[table_name]
                day, bp = table.days, table.bps
                if not is_cap:  # a row that repeats the rate before it starts no new piece: drop it
                    keep = np.ones(len(bp), dtype=np.bool_)
                    keep[1:] = bp[1:] != bp[:-1]
                    day, bp = day[keep], bp[keep]
                days.append(day)
                bps.append(bp)
                lasts.append(np.append(day[1:].astype(np.int64) - 1, np.iinfo(np.int32).max))
                row += len(bp)
            end.append(row)
            capped.append(is_cap)
        lim = rules.limitation

        def years(version) -> list[int]:
            return [version.years[k] or 0 for k in LimitationKind]

        limitation = np.array(
            [day_number(lim.reform_day)]
            + years(lim.before)
            + [lim.before.year_end_min_years or 0]
            + years(lim.after)
            + [lim.after.year_end_min_years or 0],
            dtype=np.int64,
        )
        # civil dates for every day of the holiday calendar's years, month starts far enough past its end
        # for any statutory run from a day in it (outside both the kernels compute the same arithmetically)
        first_year, last_year = rules.holidays.first_year, rules.holidays.last_year
        n_days = day_number(date(last_year + 1, 1, 1)) - rules.holidays.base_day
        n_years = last_year - first_year + 1 + int(limitation[1:].max()) + 1
        civil, month_start = _calendar_tables(rules.holidays.base_day, n_days, first_year, n_years)
        run_ends, run_hows, reaching = _run_end_tables(
            limitation.tobytes(), rules.holidays.base_day, n_days, first_year, n_years
        )
        return cls(
            rate_day=frozen(np.concatenate(days).astype(np.int32)),
            rate_bp=frozen(np.concatenate(bps).astype(np.int32)),
            rate_last=frozen(np.concatenate(lasts).astype(np.int32)),
            basis_first_row=frozen(np.array(first, dtype=np.int64)),
            basis_end_row=frozen(np.array(end, dtype=np.int64)),
            basis_capped=frozen(np.array(capped, dtype=np.bool_)),
            limitation=frozen(limitation),
            calendar_base=rules.holidays.base_day,
            civil=civil,
            first_year=first_year,
            month_start=month_start,
            run_ends=run_ends,
            run_hows=run_hows,
            reaching=reaching,
        )


#: (the rule book, its KernelRules) of the last ``KernelRules.of`` (a RuleBook and a KernelRules are frozen)
_last_of: tuple[RuleBook, KernelRules] | None = None


def rate_tables_in_order() -> list[str]:
    """The rate tables the interest bases read, in the bases' order."""
    return [table for table, _ in BASIS_TABLE.values() if table is not None]


@cache
def _calendar_tables(first_day: int, n_days: int, first_year: int, n_years: int) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.calendar.calendar_tables``, built once per calendar rather than on every
    ``prepare``: ~13 ms each."""
    civil, month_start = calendar_tables(first_day, n_days, first_year, n_years)
    return frozen(civil), frozen(month_start)


@cache
def _run_end_tables(
    limitation: bytes, first_day: int, n_days: int, first_year: int, n_years: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs' ends by their first day over the calendar's days (``fill_run_end_tables``), built
    once per rule book: the kernels look them up instead of computing them for every claim and event."""
    civil, month_start = _calendar_tables(first_day, n_days, first_year, n_years)
    kinds = len(LimitationKind)
    ends = np.empty((kinds, n_days), dtype=np.int32)
    hows = np.empty((kinds, n_days), dtype=np.int8)
    reaching = np.empty(n_days, dtype=np.int32)
    empty = (np.empty((kinds, 0), dtype=np.int32), np.empty((kinds, 0), dtype=np.int8), np.empty(0, dtype=np.int32))
    calendar = (first_day, civil, first_year, month_start, *empty)
    fill_run_end_tables(np.frombuffer(limitation, dtype=np.int64), calendar, ends, hows, reaching)
    return frozen(ends), frozen(hows), frozen(reaching)
