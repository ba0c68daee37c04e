"""Command-line text into typed values, or an ``InputError`` naming the option and the rule.

``--as-of`` (``days``) takes one day, a comma list of days, or a monthly range ``FIRST..LAST``:
the last day of every month from FIRST to LAST, both included (``2026-01-31..2026-12-31`` is the
twelve month-ends of 2026). Items combine: ``2025-12-31,2026-01-31..2026-06-30``.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal, InvalidOperation

from engine.domain import (
    CLAIM_LIMITATION_KINDS,
    CONTRACT_RATE_BASES,
    EXECUTOR_NAMES,
    OWN_YEARS_KINDS,
    EventKind,
    InterestBasis,
    LimitationKind,
)
from engine.errors import InputError
from engine.money import to_grosz

EXECUTORS = EXECUTOR_NAMES


def day(text: str, option: str) -> date:
    """``YYYY-MM-DD`` as a date."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option}: {text.strip()!r} is not a date YYYY-MM-DD") from None


def day_or_none(text: str | None, option: str) -> date | None:
    return None if text is None else day(text, option)


def day_or_today(text: str | None, option: str) -> date:
    return date.today() if text is None else day(text, option)


def month_ends(first: date, last: date) -> list[date]:
    """The last day of every month whose month-end lies in [first, last]."""
    days, year, month = [], first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return days
        if end >= first:
            days.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def days(text: str | None) -> list[date]:
    """``--as-of`` as days in the order given, each once (see the module docstring); today when not given."""
    if text is None:
        return [date.today()]
    found: list[date] = []
    for item in text.split(","):
        if ".." in item:
            first, _, last = item.partition("..")
            a, b = day(first, "--as-of"), day(last, "--as-of")
            if b < a:
                raise InputError(f"--as-of {item.strip()!r}: the range ends before it starts")
            ends = month_ends(a, b)
            if not ends:
                raise InputError(f"--as-of {item.strip()!r}: no month-end between those days")
            found += ends
        else:
            found.append(day(item, "--as-of"))
    return list(dict.fromkeys(found))


def grosz(text: str, option: str) -> int:
    """An amount in PLN (``1234.56``, ``1 234,56``) as grosz."""
    try:
        return to_grosz(text)
    except InputError as e:
        raise InputError(f"{option}: {e}") from None


def grosz_or_none(text: str | None, option: str) -> int | None:
    return None if text is None else grosz(text, option)


def interest_basis(text: str) -> InterestBasis:
    try:
        return InterestBasis(text)
    except ValueError:
        raise InputError(f"--basis {text!r}: one of {', '.join(InterestBasis)}") from None


def rate_bp(text: str | None, basis: InterestBasis) -> int | None:
    """``--rate`` (a yearly percentage, contractual interest only) in basis points."""
    if text is None:
        if basis.contract_rate:
            raise InputError(f"--basis {basis} needs --rate (yearly %, e.g. 12.5)")
        return None
    if not basis.contract_rate:
        raise InputError(
            f"--rate is a contractual rate: use it with --basis {InterestBasis.spelled(CONTRACT_RATE_BASES)}"
        )
    try:
        scaled = Decimal(text.replace(",", ".")) * 100
    except InvalidOperation:
        raise InputError(f"--rate {text!r} is not a percentage like 12.5") from None
    if scaled != scaled.to_integral_value() or scaled < 0:
        raise InputError(f"--rate {text!r}: a percentage >= 0 with at most two decimals")
    return int(scaled)


def limitation_kind(kind: str, years: int | None) -> LimitationKind:
    """--kind (and --years) as the claim's LimitationKind."""
    try:
        found = LimitationKind(kind)
    except ValueError:
        raise InputError(f"--kind {kind!r}: one of {', '.join(CLAIM_LIMITATION_KINDS)}") from None
    if not found.claim:
        raise InputError(f"--kind {kind}: give the claim's own kind and --title DAY")
    if found.own_years != (years is not None):
        own = LimitationKind.spelled(OWN_YEARS_KINDS)
        raise InputError(f"--years goes with --kind {own}, and {own} needs --years")
    return found


def limitation_events(texts: list[str] | None) -> list[tuple[EventKind, date]]:
    """--event KIND:YYYY-MM-DD values as (EventKind, date)."""
    facts = []
    for text in texts or []:
        name, _, when = text.partition(":")
        try:
            facts.append((EventKind(name), date.fromisoformat(when)))
        except ValueError:
            raise InputError(f"--event {text!r}: expected KIND:YYYY-MM-DD") from None
    return facts


def executor(name: str | None) -> str | None:
    """--executor: one of EXECUTORS (None: the setting)."""
    if name is not None and name not in EXECUTORS:
        raise InputError(f"--executor {name!r}: one of {', '.join(EXECUTORS)}")
    return name
