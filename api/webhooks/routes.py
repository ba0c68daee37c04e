"""An agency's webhooks (``/v1/agency/webhooks``): register, list, delete, see the deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import Agency, Store
from api.http.problems import Problem
from api.webhooks import service

router = APIRouter(prefix="/v1/agency/webhooks", tags=["agency"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 422)}
WebhookId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=8, max_length=2000, description="Where to POST the changes (http or https).")


class WebhookOut(BaseModel):
    webhook_id: int
    agency_id: str
    url: str
    active: bool
    created_at: datetime
    delivered_through: int = Field(description="The last change_id delivered.")
    failures: int = Field(description="Failed deliveries in a row since the last success.")
    next_attempt_at: datetime | None


class CreatedWebhook(WebhookOut):
    secret: str = Field(description="Signs every delivery (Cession-Signature); shown only now.")


class Delivery(BaseModel):
    delivery_id: int
    webhook_id: int
    first_change_id: int
    last_change_id: int
    at: datetime
    attempt: int
    delivered: bool
    status_code: int | None
    error: str | None


@router.post("", status_code=201, response_model=CreatedWebhook, responses=ERRORS)
def register(body: NewWebhook, caller: Agency, store: Store) -> dict:
    """Register a URL for your agency's changes: from the next change on, each is POSTed there, in
    order, at least once, signed with the secret in this answer (HMAC-SHA256 of "<t>.<body>")."""
    return service.register(store=store, caller=caller, url=body.url)


@router.get("", response_model=list[WebhookOut], responses=ERRORS)
def listed(caller: Agency, store: Store) -> list[dict]:
    """Your agency's webhooks and where each stands."""
    return service.listed(store=store, caller=caller)


@router.delete("/{webhook_id}", response_model=WebhookOut, responses=ERRORS)
def delete(webhook_id: WebhookId, caller: Agency, store: Store) -> dict:
    """Stop delivering to a webhook (kept, with its deliveries)."""
    return service.deactivate(store=store, caller=caller, webhook_id=webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=list[Delivery], responses=ERRORS)
def deliveries(
    webhook_id: WebhookId, caller: Agency, store: Store, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict]:
    """A webhook's latest deliveries, newest first: which changes, which attempt, how it ended."""
    return service.deliveries(store=store, caller=caller, webhook_id=webhook_id, limit=limit)
