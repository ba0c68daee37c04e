"""Slow, obviously-correct reference ("oracle") for ``claim_state``.

Written from /work/shared/spec/ENGINE.md (and SCHEMA.md) only, in plain Python: no numpy, numba or
polars, nothing from ``engine/``. Every number is a Python int (exact); every day a ``datetime.date``.
The fast engine is compared to this file by hypothesis tests, so clarity beats speed here.

Rules ENGINE.md leaves open are filled in exactly as agreed for the engine (see the module
docstrings of the sections below); they are marked "AGREED" in comments.
"""

from __future__ import annotations

import csv
import os
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

RATES_DIR = Path(os.environ.get("CESSION_REFERENCE_RATES_DIR", "/work/shared/domain/rates"))

DEFAULT_WATERFALL: tuple[str, str, str] = ("costs", "interest", "principal")

#: art. 118 KC as amended by the act of 13 April 2018, in force from this day.
REFORM_DAY = date(2018, 7, 9)

#: Years of a run after the reform ("title" = a claim confirmed by an enforcement title, art. 125).
NEW_LAW_YEARS = {"general": 6, "periodic": 3, "business": 3, "sales": 2, "title": 6}
#: Years of a run before the reform.
OLD_LAW_YEARS = {"general": 10, "periodic": 3, "business": 3, "sales": 2, "title": 10}

ONE_DAY = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# Rate tables
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def load_rate_table(name: str) -> tuple[tuple[date, int], ...]:
    """Rows (effective_from, rate_bp) of ``<RATES_DIR>/<name>.csv``, oldest first.

    Lines starting with '#' are comments; the first other line is the CSV header.
    """
    with open(RATES_DIR / f"{name}.csv", newline="", encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    rows = [
        (date.fromisoformat(r["effective_from"].strip()), int(r["rate_bp"]))
        for r in csv.DictReader(lines)
    ]
    rows.sort()
    return tuple(rows)


def rate_in_table(name: str, d: date) -> int:
    """The rate of the row with the largest effective_from <= d (the last row continues)."""
    rate = None
    for effective_from, rate_bp in load_rate_table(name):
        if effective_from <= d:
            rate = rate_bp
    if rate is None:
        raise ValueError(f"{d} is before the first row of {name}.csv")
    return rate


def rate_of_day(d: date, basis: str, contractual_rate_bp: int | None = None) -> int:
    """Yearly rate in basis points on day d (ENGINE.md section 2 table)."""
    if basis == "none":
        return 0
    if basis in ("statutory_late", "commercial_late"):
        return rate_in_table(basis, d)
    if basis == "contractual":
        cap_start = load_rate_table("maximum_late")[0][0]
        if d < cap_start:
            return contractual_rate_bp  # no cap before 2006-02-20
        return min(contractual_rate_bp, rate_in_table("maximum_late", d))
    raise ValueError(f"unknown interest_basis {basis!r}")


def change_days(basis: str) -> list[date]:
    """Days on which the rate of ``basis`` may change: every row of the deciding table, for
    contractual every row of maximum_late including its first day 2006-02-20 (the caller keeps
    only the days on which the claim's rate really changes)."""
    if basis == "none":
        return []
    if basis in ("statutory_late", "commercial_late"):
        return [d for d, _ in load_rate_table(basis)]
    if basis == "contractual":
        return [d for d, _ in load_rate_table("maximum_late")]
    raise ValueError(f"unknown interest_basis {basis!r}")


def round_half_up_interest(principal: int, rate_bp: int, days: int) -> int:
    """round_half_up(P * bp * n / (10000 * 365)) in exact integers (P, bp, n >= 0)."""
    return (2 * principal * rate_bp * days + 3_650_000) // 7_300_000


def reference_interest_pieces(
    principal: int,
    first_day: date,
    last_day: date,
    basis: str,
    contractual_rate_bp: int | None = None,
) -> list[tuple[date, date, int, int, int]]:
    """Interest on ``principal`` for the days first_day..last_day inclusive, split at rate changes.

    Returns [(piece_first_day, piece_last_day, days, rate_bp, interest_grosz)]; each piece is
    rounded half up on its own. An empty window (first_day > last_day) gives [].
    """
    if first_day > last_day:
        return []
    # ENGINE.md: "split each window at rate changes" -- changes of the claim's rate of the day. A
    # table row that leaves it unchanged (a cap moving above a lower contractual rate) is no split.
    starts = [first_day] + [
        d
        for d in change_days(basis)
        if first_day < d <= last_day
        and rate_of_day(d, basis, contractual_rate_bp) != rate_of_day(d - ONE_DAY, basis, contractual_rate_bp)
    ]
    pieces = []
    for i, start in enumerate(starts):
        end = starts[i + 1] - ONE_DAY if i + 1 < len(starts) else last_day
        days = (end - start).days + 1
        rate = rate_of_day(start, basis, contractual_rate_bp)
        pieces.append((start, end, days, rate, round_half_up_interest(principal, rate, days)))
    return pieces


# ---------------------------------------------------------------------------------------------
# Calendar: public holidays of Poland (holidays.md) and art. 115 KC
# ---------------------------------------------------------------------------------------------


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the algorithm's own name)
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=None)
def polish_holidays(year: int) -> frozenset[date]:
    """Public holidays (days free from work) of Poland in ``year`` per holidays.md."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),  # Nowy Rok
        easter,  # Wielkanoc
        easter + timedelta(days=1),  # Poniedziałek Wielkanocny
        date(year, 5, 1),  # Święto Pracy
        date(year, 5, 3),  # Święto Konstytucji 3 Maja
        easter + timedelta(days=49),  # Zielone Świątki (a Sunday)
        easter + timedelta(days=60),  # Boże Ciało
        date(year, 8, 15),  # Wniebowzięcie NMP
        date(year, 11, 1),  # Wszystkich Świętych
        date(year, 11, 11),  # Narodowe Święto Niepodległości
        date(year, 12, 25),  # Boże Narodzenie
        date(year, 12, 26),
    }
    if year >= 2011:
        days.add(date(year, 1, 6))  # Trzech Króli, from 2011
    if year >= 2025:
        days.add(date(year, 12, 24))  # Wigilia, from 2025
    if year == 2018:
        days.add(date(2018, 11, 12))  # one-off holiday
    return frozenset(days)


def is_holiday(d: date) -> bool:
    return d in polish_holidays(d.year)


def is_deadline_moving_day(d: date) -> bool:
    """Saturday, Sunday or public holiday (art. 115 KC)."""
    return d.weekday() >= 5 or is_holiday(d)


def move_past_free_days(d: date) -> date:
    while is_deadline_moving_day(d):
        d += ONE_DAY
    return d


# ---------------------------------------------------------------------------------------------
# Limitation (ENGINE.md section 3)
# ---------------------------------------------------------------------------------------------


def add_years(d: date, n: int) -> date:
    """Same day and month n years later; 29 February lands on 28 February."""
    try:
        return date(d.year + n, d.month, d.day)
    except ValueError:  # 29 February into a common year
        return date(d.year + n, 2, 28)


def run_years(kind: str, limitation_years: int | None, old_law: bool) -> int:
    if kind == "custom":
        return limitation_years
    return (OLD_LAW_YEARS if old_law else NEW_LAW_YEARS)[kind]


def new_law_end(start: date, years: int) -> date:
    """art. 118 KC since 2018-07-09: add the years, then 31 December when the period is >= 2 years."""
    end = add_years(start, years)
    if years >= 2:
        end = date(end.year, 12, 31)
    return end


def run_end(start: date, kind: str, limitation_years: int | None = None) -> date:
    """Last day of a run of ``kind`` starting on ``start``, after the art. 115 move."""
    new_n = run_years(kind, limitation_years, old_law=False)
    if start < REFORM_DAY:  # transitional rule, art. 5 of the 2018 act
        old_n = run_years(kind, limitation_years, old_law=True)
        old_end = add_years(start, old_n)
        if old_end < REFORM_DAY:
            end = old_end
        elif new_n < old_n:
            end = min(old_end, new_law_end(REFORM_DAY, new_n))
        else:
            end = new_law_end(start, new_n)
    else:
        end = new_law_end(start, new_n)
    return move_past_free_days(end)


# ---------------------------------------------------------------------------------------------
# Events that count (ENGINE.md section 1)
# ---------------------------------------------------------------------------------------------


def counted_events(events: list[dict], as_of: date) -> list[dict]:
    """One claim's events that count as of ``as_of``, in (event_date, event_id) order.

    AGREED: every reversal with event_date <= as_of removes the event it names, even if that
    reversal is itself named by another reversal (a reversal of a reversal restores nothing);
    reversals themselves never count.
    """
    known = [e for e in events if e["event_date"] <= as_of]
    reversed_ids = {e["reverses"] for e in known if e["kind"] == "reversal"}
    kept = [e for e in known if e["kind"] != "reversal" and e["event_id"] not in reversed_ids]
    return sorted(kept, key=lambda e: (e["event_date"], e["event_id"]))


# ---------------------------------------------------------------------------------------------
# One claim
# ---------------------------------------------------------------------------------------------


class _Limitation:
    """The limitation state machine of one claim (ENGINE.md section 3 + AGREED details)."""

    def __init__(self, claim: dict):
        self.kind = claim["limitation_kind"]
        self.years = claim["limitation_years"]
        self.titled = claim["title_date"] is not None
        self.suspended: str | None = None  # None, "court" or "enforcement"
        first_start = claim["title_date"] if self.titled else claim["due_date"]
        self.end = self._end_of_run_from(first_start)

    def _end_of_run_from(self, start: date) -> date:
        if self.titled:  # AGREED: every run of a titled claim is a title run
            return run_end(start, "title")
        return run_end(start, self.kind, self.years)

    def apply(self, event: dict) -> None:
        day, kind = event["event_date"], event["kind"]
        # Not time-barred on the event day: never while suspended, else day <= current end.
        if self.suspended is None and day > self.end:
            return
        if kind == "acknowledgment":
            if self.suspended is None:
                self.end = self._end_of_run_from(day)
        elif kind == "court_filing":
            self.suspended = "court"
        elif kind == "enforcement_filing":
            self.suspended = "enforcement"
        elif kind == "proceedings_end":
            if self.suspended == "court":
                self.suspended = None
                self.end = self._end_of_run_from(day)
        elif kind == "enforcement_end":
            if self.suspended == "enforcement":
                self.suspended = None
                self.end = self._end_of_run_from(day)
        elif kind == "title":
            self.titled = True
            self.suspended = None
            self.end = self._end_of_run_from(day)

    @property
    def limitation_date(self) -> date | None:
        return None if self.suspended is not None else self.end


def _waterfall_for(claim: dict, waterfall) -> tuple[str, str, str]:
    if isinstance(waterfall, dict):
        return tuple(waterfall.get(claim["portfolio_id"], DEFAULT_WATERFALL))
    return tuple(waterfall)


def _claim_state(claim: dict, events: list[dict], as_of: date, order: tuple[str, str, str]) -> dict:
    assert sorted(order) == ["costs", "interest", "principal"], order
    basis, rate = claim["interest_basis"], claim["contractual_rate_bp"]
    balance = {
        "principal": claim["principal"],
        "interest": claim["interest_at_cutoff"],
        "costs": claim["costs_at_cutoff"],
    }
    paid = {"principal": 0, "interest": 0, "costs": 0}
    overpaid = 0
    interest_accrued = 0
    last_payment_date = None
    written_off = False
    accrued_through = max(claim["due_date"], claim["cutoff_date"])
    limitation = _Limitation(claim)

    def accrue_through(day: date) -> None:
        nonlocal accrued_through, interest_accrued
        if day <= accrued_through:
            return
        if not written_off:
            pieces = reference_interest_pieces(
                balance["principal"], accrued_through + ONE_DAY, day, basis, rate
            )
            added = sum(p[4] for p in pieces)
            balance["interest"] += added
            interest_accrued += added
        accrued_through = day

    for event in counted_events(events, as_of):
        accrue_through(event["event_date"])
        kind, amount = event["kind"], event["amount"]
        if kind == "payment":
            remaining = amount
            for bucket in order:
                taken = min(balance[bucket], remaining)
                balance[bucket] -= taken
                paid[bucket] += taken
                remaining -= taken
            overpaid += remaining
            last_payment_date = event["event_date"]  # counted order: the latest payment wins
        elif kind == "cost":
            balance["costs"] += amount
        elif kind == "interest_waiver":
            balance["interest"] -= min(balance["interest"], amount)
        elif kind == "capitalization":
            balance["principal"] += balance["interest"]
            balance["interest"] = 0
        elif kind == "write_off":
            balance = {"principal": 0, "interest": 0, "costs": 0}
            written_off = True
        limitation.apply(event)
    accrue_through(as_of)

    limitation_date = limitation.limitation_date
    return {
        "claim_id": claim["claim_id"],
        "as_of": as_of,
        "principal_due": balance["principal"],
        "interest_due": balance["interest"],
        "costs_due": balance["costs"],
        "total_due": balance["principal"] + balance["interest"] + balance["costs"],
        "interest_accrued": interest_accrued,
        "paid_costs": paid["costs"],
        "paid_interest": paid["interest"],
        "paid_principal": paid["principal"],
        "overpaid": overpaid,
        "last_payment_date": last_payment_date,
        "limitation_date": limitation_date,
        "time_barred": limitation_date is not None and as_of > limitation_date,
        "days_past_due": (as_of - claim["due_date"]).days,
    }


def _events_by_claim(events: list[dict]) -> dict[int, list[dict]]:
    by_claim: dict[int, list[dict]] = {}
    for e in events:
        by_claim.setdefault(e["claim_id"], []).append(e)
    return by_claim


def reference_claim_state(
    claims: list[dict],
    events: list[dict],
    as_of: date,
    *,
    waterfall: tuple[str, str, str] | dict[str, tuple[str, str, str]] = DEFAULT_WATERFALL,
) -> list[dict]:
    """claim_state (SCHEMA.md) of every claim as of ``as_of``, in the input order of ``claims``.

    ``waterfall`` is one order for all claims, or portfolio_id -> order (missing portfolios use
    costs, interest, principal).
    """
    by_claim = _events_by_claim(events)
    return [
        _claim_state(c, by_claim.get(c["claim_id"], []), as_of, _waterfall_for(c, waterfall))
        for c in claims
    ]


def reference_limitation_date(claim: dict, events: list[dict], as_of: date) -> date | None:
    """limitation_date of one claim as of ``as_of`` (events of other claims are ignored)."""
    limitation = _Limitation(claim)
    mine = [e for e in events if e.get("claim_id", claim["claim_id"]) == claim["claim_id"]]
    for event in counted_events(mine, as_of):
        limitation.apply(event)
    return limitation.limitation_date
