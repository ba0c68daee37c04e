"""The purchaser's view of a claim (``/v1/claims``): everything the store holds of it, and its
balance computed as of any day. Money is a decimal string in PLN ("1234.56"), days are ISO dates."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.agency.schemas import Balance
from api.claims import service
from api.http.auth import PurchaserOrLegal, Store
from api.http.params import ClaimId
from api.http.problems import Problem
from engine.money import pln

router = APIRouter(prefix="/v1/claims", tags=["claims"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404)}
CLAIM_MONEY = ("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price")


def _money(row: dict | None, columns) -> dict | None:
    if row is None:
        return None
    return {k: (pln(v) if k in columns and v is not None else v) for k, v in row.items()}


@router.get("/{claim_id}", responses=ERRORS)
def claim(
    claim_id: ClaimId,
    caller: PurchaserOrLegal,
    store: Store,
    as_of: Annotated[date | None, Query(description="The day of the limitation explanation (default: today).")] = None,
) -> dict[str, Any]:
    """The claim, its debtor (the read is audited), its events, its current stored state, its
    placements, its limitation step by step with the article or resolution behind each step, and
    its contacts (each letter, e-mail or text with its delivery results, or the rule that held it)
    with the debtor's objections and doubtful addresses."""
    found = service.detail(store=store, claim_id=claim_id, who=caller.name, as_of=as_of)
    return {
        "claim": _money(found["claim"], CLAIM_MONEY),
        "debtor": found["debtor"],
        "events": [_money(e, ("amount",)) for e in found["events"]],
        "state": _money(found["state"], service.MONEY),
        "placements": found["placements"],
        "limitation": found["limitation"],
        "contacts": found["contacts"],
    }


@router.get("/{claim_id}/balance", response_model=Balance, responses=ERRORS)
def balance(
    claim_id: ClaimId,
    _caller: PurchaserOrLegal,
    store: Store,
    as_of: Annotated[date | None, Query(description="The day (default: today).")] = None,
) -> Balance:
    """The claim's balance as of a day, computed now from every stored event."""
    row = service.computed_state(store=store, claim_id=claim_id, as_of=as_of or date.today())
    return Balance.of(row)


portfolios_router = APIRouter(prefix="/v1/portfolios", tags=["portfolios"])


@portfolios_router.get("", responses=ERRORS)
def portfolios(_caller: PurchaserOrLegal, store: Store) -> list[dict[str, Any]]:
    """Every portfolio: its claims, its current engine run and that run's totals."""
    return service.portfolios(store=store)


@portfolios_router.get("/{portfolio_id}", responses=ERRORS)
def portfolio(portfolio_id: str, _caller: PurchaserOrLegal, store: Store) -> dict[str, Any]:
    """A portfolio: its claims, its current engine run and that run's totals, its ingests."""
    return service.portfolio(store=store, portfolio_id=portfolio_id)
