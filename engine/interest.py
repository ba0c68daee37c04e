"""Interest over a period, piece by piece as a Polish interest calculator prints it (ENGINE.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.domain import InterestBasis
from engine.rules import RuleBook, from_day_number
from engine.single import day_before, events_of, one_claim
from engine.state import explain_claim, prepare


@dataclass(frozen=True)
class InterestPiece:
    first: date
    last: date
    days: int
    rate_bp: int
    interest: int  # grosz, rounded half up on its own


@dataclass(frozen=True)
class InterestCalculation:
    principal: int
    first: date
    last: date
    basis: InterestBasis
    pieces: tuple[InterestPiece, ...]
    stale_rate_tables: dict[str, str]

    @property
    def total(self) -> int:
        return sum(p.interest for p in self.pieces)

    @property
    def days(self) -> int:
        return sum(p.days for p in self.pieces)


def calculate_interest(
    principal: int,
    first: date,
    last: date,
    basis: InterestBasis | str,
    *,
    contractual_rate_bp: int | None = None,
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> InterestCalculation:
    """Interest on ``principal`` grosz for the days ``first``..``last`` inclusive (the day after the
    deadline up to the day of payment), split where the rate changes."""
    basis = InterestBasis(basis)
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    claim = one_claim(due=day_before(first), principal=principal, basis=basis, contractual_rate_bp=contractual_rate_bp)
    p = prepare(claim, events_of([]), last, allow_stale_rates=allow_stale_rates, rules=rules)
    _, pieces, _ = explain_claim(p)
    return InterestCalculation(
        principal=principal,
        first=first,
        last=last,
        basis=basis,
        pieces=tuple(
            InterestPiece(from_day_number(a), from_day_number(b), int(n), int(bp), int(i)) for a, b, n, bp, i in pieces
        ),
        stale_rate_tables=p.provenance["stale_rate_tables"],
    )
