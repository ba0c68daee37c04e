"""Slow, obviously-correct reference ("oracle") for ``claim_state``.

Written from the engine's specification (docs/engine.md, amended 2026-12, and docs/data-contract.md)
only, in plain Python: no numpy, numba or polars, nothing from ``engine/`` but the rate tables' CSV
files. Every number is a Python int (exact); every day a ``datetime.date``. The fast engine is
compared to this file by hypothesis tests, so clarity beats speed here.

Rules docs/engine.md leaves open are filled in exactly as agreed for the engine (see the module
docstrings of the sections below); they are marked "AGREED" in comments.
"""

from __future__ import annotations

import csv
import os
from datetime import date, timedelta
from functools import cache
from pathlib import Path

#: The rate tables as the repository ships them (the same CSV files the engine reads).
RATES_DIR = Path(
    os.environ.get("CESSION_REFERENCE_RATES_DIR", Path(__file__).resolve().parents[2] / "engine" / "rules" / "data")
)

#: commercial_late_medical: the commercial rate less 2 pp from this day (reference + 8 pp instead of + 10 pp).
MEDICAL_FROM = date(2020, 1, 1)
MEDICAL_LESS_BP = 200

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


@cache
def load_rate_table(name: str) -> tuple[tuple[date, int], ...]:
    """Rows (effective_from, rate_bp) of ``<RATES_DIR>/<name>.csv``, oldest first.

    Lines starting with '#' are comments; the first other line is the CSV header.
    """
    with open(RATES_DIR / f"{name}.csv", newline="", encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    rows = [(date.fromisoformat(r["effective_from"].strip()), int(r["rate_bp"])) for r in csv.DictReader(lines)]
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
    """Yearly rate in basis points on day d (docs/engine.md §2 table)."""
    if basis == "none":
        return 0
    if basis in ("statutory_late", "commercial_late"):
        return rate_in_table(basis, d)
    if basis == "commercial_late_medical":
        return rate_in_table("commercial_late", d) - (MEDICAL_LESS_BP if d >= MEDICAL_FROM else 0)
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
    if basis == "commercial_late_medical":
        return [d for d, _ in load_rate_table("commercial_late")] + [MEDICAL_FROM]
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
    # docs/engine.md: "split each window at rate changes" -- changes of the claim's rate of the day. A
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
# Limitation (docs/engine.md §3)
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
    """Last day of a run of ``kind`` starting on ``start``. Not moved off a Saturday, Sunday or
    holiday: art. 115 KC does not apply to the end of a limitation period (III CZP 21/23)."""
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
    return end


# ---------------------------------------------------------------------------------------------
# Events that count (docs/engine.md §1)
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


class _Run:
    """A limitation run and the events that act on it (section 3): its end, the court and
    enforcement proceedings pending, and the years of its next runs ("title" after a title)."""

    def __init__(self, end: date | None, kind: str, years: int | None, court: int = 0, enforcement: int = 0):
        self.end = end
        self.kind = kind
        self.years = years
        self.court = court
        self.enforcement = enforcement

    @property
    def pending(self) -> bool:
        return self.court + self.enforcement > 0

    def apply(self, event: dict) -> None:
        day, kind = event["event_date"], event["kind"]
        if kind == "title":  # acts even on a barred claim; the court proceedings end with it
            self.kind = "title"
            self.court = 0
            self.end = run_end(day, "title")
            return
        barred_on_the_day = not self.pending and day > self.end
        if kind == "court_filing" and not barred_on_the_day:
            self.court += 1
        elif kind == "enforcement_filing" and not barred_on_the_day:
            self.enforcement += 1
        elif kind == "acknowledgment" and not barred_on_the_day and not self.pending:
            self.end = run_end(day, self.kind, self.years)
        elif kind == "proceedings_end" and self.court > 0:
            self.court -= 1
            if not self.pending:
                self.end = run_end(day, self.kind, self.years)
        elif kind == "enforcement_end" and self.enforcement > 0:
            self.enforcement -= 1
            if not self.pending:
                self.end = run_end(day, self.kind, self.years)

    @property
    def limitation_date(self) -> date | None:
        return None if self.pending else self.end


LIMITATION_KINDS = (
    "acknowledgment",
    "court_filing",
    "proceedings_end",
    "title",
    "enforcement_filing",
    "enforcement_end",
)


def limitation_events(claim: dict, counted: list[dict]) -> list[dict]:
    """The counted events that act on limitation: a claim with title_date ignores those before it."""
    title = claim["title_date"]
    return [e for e in counted if e["kind"] in LIMITATION_KINDS and (title is None or e["event_date"] >= title)]


def claim_run(claim: dict, events: list[dict]) -> _Run:
    """The claim's run after ``events`` (limitation events, in order)."""
    if claim["title_date"] is not None:
        run = _Run(run_end(claim["title_date"], "title"), "title", None)
    else:
        run = _Run(
            run_end(claim["due_date"], claim["limitation_kind"], claim["limitation_years"]),
            claim["limitation_kind"],
            claim["limitation_years"],
        )
    for e in events:
        run.apply(e)
    return run


def interest_end(claim: dict, lim_events: list[dict], limitation_date: date | None, d: date) -> date | None:
    """iend(d) of section 3a: the last day the interest of day ``d`` can be pursued (None: suspended)."""
    title = claim["title_date"]
    if title is not None and d <= title:
        return limitation_date
    before = [e for e in lim_events if e["event_date"] < d]
    after = [e for e in lim_events if e["event_date"] >= d]
    claims_own = claim_run(claim, before)
    if claims_own.pending:  # starts suspended: the same proceedings claim it
        run = _Run(None, "periodic", None, claims_own.court, claims_own.enforcement)
    else:
        run = _Run(run_end(d, "periodic"), "periodic", None)
    for e in after:
        run.apply(e)
    own = run.limitation_date
    if own is None:
        return limitation_date
    if limitation_date is None:
        return own
    return min(own, limitation_date)


def _waterfall_for(claim: dict, waterfall) -> tuple[str, str, str]:
    if isinstance(waterfall, dict):
        return tuple(waterfall.get(claim["portfolio_id"], DEFAULT_WATERFALL))
    return tuple(waterfall)


def _take_oldest(tranches: list[list], amount: int) -> None:
    """``amount`` off the oldest tranches first (section 3a, art. 451 § 3 KC)."""
    while amount > 0 and tranches:
        taken = min(tranches[0][0], amount)
        tranches[0][0] -= taken
        amount -= taken
        if tranches[0][0] == 0:
            tranches.pop(0)


def _claim_state(claim: dict, events: list[dict], as_of: date, order: tuple[str, str, str]) -> dict:
    assert sorted(order) == ["costs", "interest", "principal"], order
    basis, rate = claim["interest_basis"], claim["contractual_rate_bp"]
    counted = counted_events(events, as_of)
    lim_events = limitation_events(claim, counted)
    limitation_date = claim_run(claim, lim_events).limitation_date

    flags: dict[tuple, bool] = {}

    def barred(d: date) -> bool:
        """Whether the interest of day d is time-barred on as_of (section 3a). iend(d) depends on d
        only through the events before it, its periodic run's end and whether d <= title_date:
        remembered by those."""
        key = (
            sum(e["event_date"] < d for e in lim_events),
            run_end(d, "periodic"),
            claim["title_date"] is not None and d <= claim["title_date"],
        )
        if key not in flags:
            end = interest_end(claim, lim_events, limitation_date, d)
            flags[key] = end is not None and as_of > end
        return flags[key]

    balance = {
        "principal": claim["principal"],
        "interest": claim["interest_at_cutoff"],
        "costs": claim["costs_at_cutoff"],
    }
    # the interest balance as tranches [amount, barred], oldest first
    tranches: list[list] = []
    if claim["interest_at_cutoff"] > 0:
        tranches.append([claim["interest_at_cutoff"], barred(claim["due_date"] + ONE_DAY)])
    paid = {"principal": 0, "interest": 0, "costs": 0}
    overpaid = 0
    interest_accrued = 0
    last_payment_date = None
    written_off = False
    accrued_through = max(claim["due_date"], claim["cutoff_date"])

    def accrue_through(day: date) -> None:
        nonlocal accrued_through, interest_accrued
        if day <= accrued_through:
            return
        if not written_off:
            principal = balance["principal"]
            pieces = reference_interest_pieces(principal, accrued_through + ONE_DAY, day, basis, rate)
            for first, last, _, bp, amount in pieces:
                # the piece cut into maximal runs of days with one flag
                runs: list[list] = []  # [first day, days, barred]
                d = first
                while d <= last:
                    flag = barred(d)
                    if runs and runs[-1][2] == flag:
                        runs[-1][1] += 1
                    else:
                        runs.append([d, 1, flag])
                    d += ONE_DAY
                left = amount
                for k, (_, n, flag) in enumerate(runs):
                    share = left if k == len(runs) - 1 else min(left, round_half_up_interest(principal, bp, n))
                    left -= share
                    if share == 0:
                        continue
                    if tranches and tranches[-1][1] == flag:
                        tranches[-1][0] += share
                    else:
                        tranches.append([share, flag])
                balance["interest"] += amount
                interest_accrued += amount
        accrued_through = day

    for event in counted:
        accrue_through(event["event_date"])
        kind, amount = event["kind"], event["amount"]
        if kind == "payment":
            remaining = amount
            for bucket in order:
                taken = min(balance[bucket], remaining)
                balance[bucket] -= taken
                paid[bucket] += taken
                remaining -= taken
                if bucket == "interest":
                    _take_oldest(tranches, taken)
            overpaid += remaining
            last_payment_date = event["event_date"]  # counted order: the latest payment wins
        elif kind == "cost":
            balance["costs"] += amount
        elif kind == "interest_waiver":
            taken = min(balance["interest"], amount)
            balance["interest"] -= taken
            _take_oldest(tranches, taken)
        elif kind == "capitalization":
            balance["principal"] += balance["interest"]
            balance["interest"] = 0
            tranches = []
        elif kind == "write_off":
            balance = {"principal": 0, "interest": 0, "costs": 0}
            tranches = []
            written_off = True
    accrue_through(as_of)

    assert sum(t[0] for t in tranches) == balance["interest"]
    return {
        "claim_id": claim["claim_id"],
        "as_of": as_of,
        "principal_due": balance["principal"],
        "interest_due": balance["interest"],
        "costs_due": balance["costs"],
        "total_due": balance["principal"] + balance["interest"] + balance["costs"],
        "interest_accrued": interest_accrued,
        "interest_time_barred": sum(amount for amount, flag in tranches if flag),
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
    """claim_state (docs/data-contract.md) of every claim as of ``as_of``, in the input order of ``claims``.

    ``waterfall`` is one order for all claims, or portfolio_id -> order (missing portfolios use
    costs, interest, principal).
    """
    by_claim = _events_by_claim(events)
    return [_claim_state(c, by_claim.get(c["claim_id"], []), as_of, _waterfall_for(c, waterfall)) for c in claims]


def reference_limitation_date(claim: dict, events: list[dict], as_of: date) -> date | None:
    """limitation_date of one claim as of ``as_of`` (events of other claims are ignored)."""
    mine = [e for e in events if e.get("claim_id", claim["claim_id"]) == claim["claim_id"]]
    return claim_run(claim, limitation_events(claim, counted_events(mine, as_of))).limitation_date
