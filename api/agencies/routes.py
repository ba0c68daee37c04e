"""Agencies over HTTP (``/v1/agencies``): the purchaser's team lists them; an admin adds one or
stops placing with one. The same service as `cession agencies`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path

from allocation.agencies import AgencySpec
from api.agencies import service
from api.http.auth import Admin, Purchaser, Store
from api.http.problems import Problem
from engine.errors import Conflict, NotFound
from engine.money import pln

router = APIRouter(prefix="/v1/agencies", tags=["agencies"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 422)}
AgencyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
#: the store's money columns of an agency (grosz): decimal strings in PLN here
MONEY = ("capacity_balance", "balance_min", "balance_max", "open_balance")


def _jsonable(row: dict) -> dict:
    out = {}
    for key, value in row.items():
        if key in MONEY and value is not None:
            value = pln(int(value))
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, (date, datetime)):
            value = value.isoformat()
        out[key] = value
    return out


def _agencies(store) -> list[dict]:
    return [_jsonable(r) for r in service.listed(store=store).sort("agency_id").to_dicts()]


@router.get("", responses=ERRORS)
def agencies(_caller: Purchaser, store: Store) -> list[dict[str, Any]]:
    """Every agency with its open cases and open balance (money in PLN as decimal strings)."""
    return _agencies(store)


@router.post("", status_code=201, responses={**ERRORS, 409: {"model": Problem}})
def add(body: AgencySpec, _caller: Admin, store: Store) -> dict[str, Any]:
    """Add an agency (capacity in cases and in balance, regions, debtor kinds, balance band,
    commission, term). An id already stored is refused."""
    if any(a["agency_id"] == body.agency_id for a in _agencies(store)):
        raise Conflict(f"agency {body.agency_id!r} is already stored (`cession agencies update` changes it)")
    service.add(store=store, agency=body)
    return next(a for a in _agencies(store) if a["agency_id"] == body.agency_id)


@router.delete("/{agency_id}", responses=ERRORS)
def deactivate(agency_id: AgencyId, _caller: Admin, store: Store) -> dict[str, Any]:
    """No new placements with the agency; the next allocation recalls its open cases."""
    if not any(a["agency_id"] == agency_id for a in _agencies(store)):
        raise NotFound(f"agency {agency_id!r}: not found")
    service.deactivate(store=store, agency_id=agency_id)
    return next(a for a in _agencies(store) if a["agency_id"] == agency_id)
