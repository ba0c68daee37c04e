"""Interest over a period, piece by piece as a Polish interest calculator prints it (docs/engine.md §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.domain import EventKind, InterestBasis, LimitationKind
from engine.errors import InputError
from engine.inputs import prepare
from engine.kernel_run import explain_claim
from engine.rules import RuleBook, from_day_number, load_rules
from engine.single import day_before, events_of, one_claim


@dataclass(frozen=True)
class InterestPiece:
    first: date
    last: date
    days: int
    rate_bp: int
    interest: int  # grosz, rounded half up on its own


@dataclass(frozen=True)
class InterestTranche:
    """Interest of days first..last whose own limitation (docs/engine.md §3a) gives one answer."""

    first: date
    last: date
    amount: int  # grosz
    time_barred: bool  # on the last day of the calculation
    why: str  # the rule behind the flag


@dataclass(frozen=True)
class InterestCalculation:
    principal: int
    first: date
    last: date
    basis: InterestBasis
    pieces: tuple[InterestPiece, ...]
    tranches: tuple[InterestTranche, ...]
    limitation_date: date | None  # the claim's, on the last day
    stale_rate_tables: dict[str, str]

    @property
    def total(self) -> int:
        return sum(p.interest for p in self.pieces)

    @property
    def days(self) -> int:
        return sum(p.days for p in self.pieces)

    @property
    def time_barred(self) -> int:
        return sum(t.amount for t in self.tranches if t.time_barred)


def calculate_interest(
    principal: int,
    first: date,
    last: date,
    basis: InterestBasis | str,
    *,
    contractual_rate_bp: int | None = None,
    limitation_kind: LimitationKind | str = LimitationKind.GENERAL,
    limitation_years: int | None = None,
    title: date | None = None,
    events: list[tuple[EventKind | str, date]] = (),  # type: ignore[assignment]
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
) -> InterestCalculation:
    """Interest on ``principal`` grosz for the days ``first``..``last`` inclusive (the day after the
    deadline up to the day of payment), split where the rate changes, and which of it is
    time-barred on ``last`` (the claim due the day before ``first``, of ``limitation_kind``, with
    its ``title`` and limitation ``events``)."""
    basis = InterestBasis(basis)
    if last < first:
        raise InputError(f"the period ends ({last}) before it starts ({first})")
    rules = rules or load_rules()
    facts = sorted(((EventKind(k).value, d) for k, d in events), key=lambda f: f[1])
    claim = one_claim(
        due=day_before(first),
        principal=principal,
        basis=basis,
        contractual_rate_bp=contractual_rate_bp,
        limitation_kind=LimitationKind(limitation_kind),
        limitation_years=limitation_years,
        title=title,
    )
    p = prepare(claim, events_of(facts), last, allow_stale_rates=allow_stale_rates, rules=rules)
    explained = explain_claim(p)
    limitation = explained.limitation_date
    claim_barred = limitation is not None and last > limitation
    tranches = []
    for a, b, amount, barred in explained.tranches.tolist():
        first_day, last_day = from_day_number(a), from_day_number(b)
        if claim_barred:
            why = f"the claim itself is time-barred since {limitation + timedelta(days=1)}: its interest with it (III CZP 42/04)"
        elif title is not None and last_day <= title:
            why = "up to the title: confirmed with the claim (art. 125 § 1 KC)"
        elif barred:
            why = "each day's interest runs 3 years on its own (art. 118 KC, III CZP 42/04): ended"
        else:
            why = "its own 3-year run has not ended (art. 118 KC)"
        tranches.append(InterestTranche(first_day, last_day, int(amount), claim_barred or bool(barred), why))
    return InterestCalculation(
        principal=principal,
        first=first,
        last=last,
        basis=basis,
        pieces=tuple(
            InterestPiece(from_day_number(a), from_day_number(b), int(n), int(bp), int(i))
            for a, b, n, bp, i in explained.pieces
        ),
        tranches=tuple(tranches),
        limitation_date=limitation,
        stale_rate_tables=p.provenance["stale_rate_tables"],
    )
