"""The legal team's routes (``/v1/legal``): the legal queues, and the events of the legal route."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.agency.routes import posted
from api.agency.schemas import EventBatch, PlacementPage, PostedBatch
from api.http.auth import Legal, Store
from api.http.params import IdempotencyKey
from api.http.problems import Problem
from api.legal import service

router = APIRouter(prefix="/v1/legal", tags=["legal"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 409, 422)}
QueueName = Literal[tuple(q.value for q in service.LEGAL_QUEUES)]  # type: ignore[valid-type]


@router.get("/queues/{queue}", response_model=PlacementPage, responses=ERRORS)
def queue(
    queue: QueueName,  # type: ignore[valid-type]
    caller: Legal,
    store: Store,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before (none: the first page).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Placements per page.")] = 100,
) -> dict:
    """A legal queue's open cases in the allocation's order: claims whose limitation ends within the
    strategy's window first, by limitation date; each with its claim, debtor and balance."""
    return service.queue(store=store, caller=caller, name=queue, cursor=cursor, limit=limit)


@router.post("/events", status_code=201, response_model=PostedBatch, responses=ERRORS)
def post_events(batch: EventBatch, caller: Legal, store: Store, idempotency_key: IdempotencyKey):
    """Record filings, their ends, titles, enforcement and court costs (1 to 1000 a batch): all are
    stored or none, with each bad item's index, field and rule."""
    return posted(batch, store, caller, service.poster(caller=caller), idempotency_key)
