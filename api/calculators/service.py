"""One claim's numbers without the store: interest over a period (per rate period, and which of
it is time-barred) and the limitation date with each step that moved it. The command line and
the HTTP API give the engine the same typed values; parsing text is theirs."""

from __future__ import annotations

from datetime import date

from engine.domain import EventKind, InterestBasis, LimitationKind
from engine.interest import InterestCalculation, calculate_interest
from engine.limitation import LimitationResult, explain_limitation


def interest(
    *,
    principal: int,
    first: date,
    last: date,
    basis: InterestBasis,
    rate_bp: int | None = None,
    kind: LimitationKind = LimitationKind.GENERAL,
    years: int | None = None,
    title: date | None = None,
    events: list[tuple[EventKind, date]] = (),
    allow_stale_rates: bool = False,  # type: ignore[assignment]
) -> InterestCalculation:
    """Interest on ``principal`` grosz for the days ``first``..``last`` inclusive (``calculate_interest``)."""
    return calculate_interest(
        principal,
        first,
        last,
        basis,
        contractual_rate_bp=rate_bp,
        limitation_kind=kind,
        limitation_years=years,
        title=title,
        events=list(events),
        allow_stale_rates=allow_stale_rates,
    )


def limitation(
    *,
    due: date,
    kind: LimitationKind,
    as_of: date,
    years: int | None = None,
    title: date | None = None,
    events: list[tuple[EventKind, date]] = (),  # type: ignore[assignment]
) -> LimitationResult:
    """The limitation date of a claim due on ``due`` as of ``as_of``, step by step (``explain_limitation``)."""
    return explain_limitation(due, kind, as_of=as_of, years=years, title=title, events=list(events))
