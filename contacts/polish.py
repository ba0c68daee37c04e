"""Numbers, dates and account numbers in a letter as a Polish reader reads them: ``1 234,56 zł``,
``7 grudnia 2026 r.``, ``07.12.2026``; an account number as ``engine.store.virtual_accounts.display`` writes it
(``61 1090 1014 0000 0712 1981 2874``).

Amounts group thousands with a no-break space (U+00A0, CLDR's Polish grouping sign) so that an amount
never breaks across lines on paper."""

from __future__ import annotations

from datetime import date

GROUP = "\u00a0"
#: the month in the genitive, as a date is written: "7 grudnia 2026 r."
MONTHS = (
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def amount(grosz: int, currency: bool = True) -> str:
    """123456 -> '1 234,56 zł' (no-break spaces)."""
    sign = "-" if grosz < 0 else ""
    whole, cents = divmod(abs(int(grosz)), 100)
    text = f"{sign}{whole:,}".replace(",", GROUP) + f",{cents:02d}"
    return f"{text}{GROUP}zł" if currency else text


def long_date(value: date | str) -> str:
    """2026-12-07 -> '7 grudnia 2026 r.'"""
    d = _day(value)
    return f"{d.day}{GROUP}{MONTHS[d.month - 1]} {d.year}{GROUP}r."


def short_date(value: date | str) -> str:
    """2026-12-07 -> '07.12.2026'"""
    d = _day(value)
    return f"{d.day:02d}.{d.month:02d}.{d.year}"


def percent(basis_points: int) -> str:
    """1150 -> '11,50%'"""
    whole, rest = divmod(int(basis_points), 100)
    return f"{whole},{rest:02d}%"
