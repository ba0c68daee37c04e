"""Engine runs (``/v1/runs``): the latest, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.http.auth import Purchaser, Store
from api.http.problems import Problem
from api.runs import service

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("", responses={code: {"model": Problem} for code in (401, 403)})
def runs(_caller: Purchaser, store: Store, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> list[dict[str, Any]]:
    """The latest engine runs: when, as of which day, how they ended."""
    return [service.summary(record=r) for r in service.latest(store=store, limit=limit)]
