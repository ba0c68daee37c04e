"""The agency integration (``/v1/agency``): post payments and events, see a claim's balance."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.agency import service
from api.agency.schemas import Balance, ChangePage, EventBatch, PlacementPage, PostedBatch, Return, Returned
from api.http.auth import Agency, Store
from api.http.params import ClaimId, IdempotencyKey
from api.http.problems import Problem
from api.http.responses import json_response

router = APIRouter(prefix="/v1/agency", tags=["agency"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 409, 422)}


@router.post("/events", status_code=201, response_model=PostedBatch, responses=ERRORS)
def post_events(
    batch: EventBatch,
    caller: Agency,
    store: Store,
    idempotency_key: IdempotencyKey,
):
    """Post a batch of payments and acknowledgments (1 to 1000) of claims placed with your agency:
    all are stored or none, with each bad item's index, field and rule."""
    return posted(batch, store, caller, service.poster(caller=caller), idempotency_key)


def posted(batch: EventBatch, store, caller, poster, idempotency_key: str) -> JSONResponse:
    """A batch through api/events/service.py, the response as stored (and marked when given again)."""
    from api.events import service as events

    answer = events.post_events(
        store=store,
        caller=caller,
        poster=poster,
        items=[e.model_dump() for e in batch.events],
        idempotency_key=idempotency_key,
        digest=events.body_digest(body=batch.model_dump(mode="json")),
        today=date.today(),
    )
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get("/claims/{claim_id}/balance", response_model=Balance, responses=ERRORS)
def balance(
    claim_id: ClaimId,
    caller: Agency,
    store: Store,
    as_of: Annotated[date | None, Query(description="The day (default: today).")] = None,
):
    """A claim's balance and its split as of a day, computed now from every stored event."""
    row = service.balance(store=store, caller=caller, claim_id=claim_id, as_of=as_of or date.today())
    return json_response(Balance.of(row))  # validated once, by Balance.of


@router.get("/placements", response_model=PlacementPage, responses=ERRORS)
def placements(
    caller: Agency,
    store: Store,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before (none: the first page).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Placements per page.")] = 100,
):
    """Your agency's open placements, oldest first, with each claim, its debtor and its balance."""
    return json_response(service.placements_json(store=store, caller=caller, cursor=cursor, limit=limit))


@router.post("/placements/{claim_id}/return", response_model=Returned, responses=ERRORS)
def return_case(claim_id: ClaimId, body: Return, caller: Agency, store: Store) -> dict:
    """Give a case back, with a reason code: its placement with your agency ends today."""
    return service.return_case(
        store=store, caller=caller, claim_id=claim_id, reason=body.reason, note=body.note, today=date.today()
    )


@router.get("/changes", response_model=ChangePage, responses=ERRORS)
def changes(
    caller: Agency,
    store: Store,
    cursor: Annotated[str | None, Query(description="next_cursor of the last answer (none: from the start).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Changes per answer.")] = 100,
) -> dict:
    """New placements, recalls and returns of your agency's cases since the cursor, oldest first."""
    return service.changes_since(store=store, caller=caller, cursor=cursor, limit=limit)
