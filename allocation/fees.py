"""What a legal route costs a claim, from the dated fee tables (engine/rules/data/): the court fee
(art. 13 UKSC; in EPU a quarter of it, at least 30 zł, art. 19 ust. 2), the minimum lawyer's fee
(ordinary or EPU scale) and the 17 zł stamp duty on the power of attorney. The value of the claim
(WPS) is its principal due. Each table's version is the last whose effective_from is on or before
the filing day; past a table's ``last_value_still_valid_on`` the costs are flagged stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from allocation.compiled import compiled_loop
from engine.rules.loader import RuleCsv, RuleTableError, read_table

#: the smallest EPU fee, grosz (art. 19 ust. 2 UKSC, "nie mniej niż 30 złotych"): the law's, in
#: court_fee.csv's comment line; kept here as the table has no column for it
EPU_MINIMUM = 3000


def _int(row: dict, column: str, f: RuleCsv) -> int | None:
    value = row[column].strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise RuleTableError(f"{f.path}:{row['_line']}: {column} {value!r} is not a whole number") from None


def _version(f: RuleCsv, day: date) -> list[dict]:
    days = sorted({date.fromisoformat(r["effective_from"]) for r in f.rows})
    chosen = [d for d in days if d <= day]
    if not chosen:
        raise RuleTableError(f"{f.path}: no version in force on {day} (the first is of {days[0]})")
    return [r for r in f.rows if date.fromisoformat(r["effective_from"]) == chosen[-1]]


def _band(values: np.ndarray, up_to: np.ndarray) -> np.ndarray:
    """The index of each value's band (wps_above < value <= wps_up_to; the last band is open)."""
    return np.minimum(np.searchsorted(up_to, values, side="left"), len(up_to) - 1)


@dataclass(frozen=True)
class LegalCosts:
    """The fee tables in force on one filing day."""

    day: date
    court: list[dict]
    lawyer: list[dict]
    duty: int
    stale: tuple[str, ...]
    _court_file: RuleCsv
    _lawyer_file: RuleCsv

    def court_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The court fee's bands as arrays: (wps_up_to, fixed fee, pct_bp, fee_max), an open end or
        no cap as the largest int64."""
        rows, f, big = self.court, self._court_file, np.iinfo(np.int64).max
        return (
            np.array([_int(r, "wps_up_to", f) or big for r in rows], dtype=np.int64),
            np.array([_int(r, "fee", f) or 0 for r in rows], dtype=np.int64),
            np.array([_int(r, "pct_bp", f) or 0 for r in rows], dtype=np.int64),
            np.array([_int(r, "fee_max", f) or big for r in rows], dtype=np.int64),
        )

    def lawyer_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The lawyer's fee's bands as arrays: (wps_up_to, ordinary scale, EPU's scale)."""
        rows, f = self.lawyer, self._lawyer_file
        return (
            np.array([_int(r, "wps_up_to", f) or np.iinfo(np.int64).max for r in rows], dtype=np.int64),
            np.array([_int(r, "ordinary", f) for r in rows], dtype=np.int64),
            np.array([_int(r, "epu", f) for r in rows], dtype=np.int64),
        )

    def court_fee(self, wps: np.ndarray) -> np.ndarray:
        up_to, fixed, pct, cap = self.court_table()
        band = _band(wps, up_to)
        fixed, pct, cap = fixed[band], pct[band], cap[band]
        by_pct = np.minimum((wps * pct + 9_999) // 10_000, cap)
        fee = np.where(pct > 0, by_pct, fixed)
        return (fee + 99) // 100 * 100  # court fees are whole złoty, rounded up (art. 21 UKSC)

    def epu_fee(self, wps: np.ndarray) -> np.ndarray:
        return _epu_of(self.court_fee(wps))

    def lawyer_fee(self, wps: np.ndarray, epu: np.ndarray) -> np.ndarray:
        ordinary, simplified = self._lawyer_scales(wps)
        return np.where(epu, simplified, ordinary)

    def _lawyer_scales(self, wps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lawyer's fee of each claim on the ordinary scale and on EPU's."""
        up_to, ordinary, simplified = self.lawyer_table()
        band = _band(wps, up_to)
        return ordinary[band], simplified[band]

    def costs(self, wps: pl.Series, epu: pl.Series) -> tuple[pl.Series, pl.Series]:
        """Per claim, grosz: (the costs of the route ``epu`` allows — EPU's fee and lawyer's fee
        where true, the court's where not —, the costs in an ordinary court), each the fee + the
        lawyer's fee + the power-of-attorney duty: ``costs_reference``'s, in one compiled pass
        over the claims (numba; at 10M claims the array-at-a-time form makes ~20 arrays of 80 MB,
        ~1.5 s; this ~0.1 s). tests/allocation/test_legal.py holds the two equal."""
        values = wps.fill_null(0).to_numpy().astype(np.int64)
        in_epu = epu.fill_null(False).to_numpy().astype(np.bool_)
        by_epu, in_court = compiled_loop(_costs)(
            values, in_epu, *self.court_table(), *self.lawyer_table(), np.int64(self.duty), np.int64(EPU_MINIMUM)
        )
        return pl.Series("legal_costs", by_epu, dtype=pl.Int64), pl.Series("legal_costs", in_court, dtype=pl.Int64)

    def costs_reference(self, wps: np.ndarray, epu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``costs`` array at a time (numpy), from ``court_fee``, the lawyer's scales and ``_epu_of``:
        the reference the compiled pass is tested against."""
        court = self.court_fee(wps)
        ordinary, simplified = self._lawyer_scales(wps)
        in_court = court + ordinary + self.duty
        return np.where(epu, _epu_of(court) + simplified + self.duty, in_court), in_court


def _costs(
    wps, epu, court_up_to, court_fixed, court_pct, court_cap, lawyer_up_to, ordinary, simplified, duty, epu_min
):  # pragma: no cover - numba
    n = wps.shape[0]
    by_epu = np.empty(n, dtype=np.int64)
    in_court = np.empty(n, dtype=np.int64)
    last_court = court_up_to.shape[0] - 1
    last_lawyer = lawyer_up_to.shape[0] - 1
    for i in range(n):
        v = wps[i]
        b = 0  # the first band whose upper end is >= v (the last band is open)
        while b < last_court and court_up_to[b] < v:
            b += 1
        fee = min((v * court_pct[b] + 9_999) // 10_000, court_cap[b]) if court_pct[b] > 0 else court_fixed[b]
        court = (fee + 99) // 100 * 100
        k = 0
        while k < last_lawyer and lawyer_up_to[k] < v:
            k += 1
        in_court[i] = court + ordinary[k] + duty
        if epu[i]:
            by_epu[i] = max(((court + 3) // 4 + 99) // 100 * 100, epu_min) + simplified[k] + duty
        else:
            by_epu[i] = in_court[i]
    return by_epu, in_court


def warm_costs() -> None:
    one = np.zeros(1, dtype=np.int64)
    compiled_loop(_costs)(one, np.zeros(1, dtype=np.bool_), one, one, one, one, one, one, one, np.int64(0), np.int64(0))


def _epu_of(court_fee: np.ndarray) -> np.ndarray:
    """EPU's fee from the court fee: a quarter, whole złoty rounded up, at least EPU_MINIMUM."""
    quarter = (court_fee + 3) // 4
    return np.maximum((quarter + 99) // 100 * 100, EPU_MINIMUM)


def legal_costs(day: date, rules_dir=None) -> LegalCosts:
    """The fee tables in force on ``day`` (the filing day)."""
    court = read_table("court_fee", ("effective_from", "wps_above", "wps_up_to", "fee", "pct_bp", "fee_max"), rules_dir)
    lawyer = read_table("lawyer_fee", ("effective_from", "wps_above", "wps_up_to", "ordinary", "epu"), rules_dir)
    duty = read_table("power_of_attorney_duty", ("effective_from", "duty"), rules_dir)
    stale = tuple(f.path.stem for f in (court, lawyer, duty) if day > f.last_valid)
    duty_row = _version(duty, day)[-1]
    return LegalCosts(
        day, _version(court, day), _version(lawyer, day), _int(duty_row, "duty", duty) or 0, stale, court, lawyer
    )
