"""Money at the edges: PLN text in and out, int64 grosz inside. Never a float. (For people, in
tables: api.formats.amount, "1 234,56 zł".)"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from engine.errors import InputError


def to_grosz(text: str | int | Decimal) -> int:
    """'1234.56' / '1 234,56' -> 123456. Refuses more than two decimals and negatives."""
    if isinstance(text, int):
        return text * 100
    cleaned = str(text).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InputError(f"{text!r} is not an amount in PLN (e.g. 1234.56)") from None
    if not value.is_finite() or value < 0:
        raise InputError(f"{text!r}: an amount must be a finite number >= 0")
    grosz = value * 100
    if grosz != grosz.to_integral_value():
        raise InputError(f"{text!r}: at most two decimals (grosz)")
    return int(grosz)


def pln(grosz: int) -> str:
    """123456 -> '1234.56' (the JSON and file form)."""
    sign = "-" if grosz < 0 else ""
    whole, cents = divmod(abs(int(grosz)), 100)
    return f"{sign}{whole}.{cents:02d}"
