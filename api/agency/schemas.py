"""The agency integration's bodies (``/v1/agency``): stable, versioned with the path."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class AgencyEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: int = Field(description="A claim placed with your agency.")
    kind: str = Field(description="payment or acknowledgment.", examples=["payment"])
    event_date: date = Field(description="The day it happened (YYYY-MM-DD), not in the future.")
    amount: str | None = Field(
        default=None,
        description='PLN as a decimal string, at most two decimals: "123.45". A payment has one (> 0); '
        "an acknowledgment none.",
        examples=["123.45"],
    )
    external_id: str = Field(
        min_length=1,
        max_length=100,
        description="Your id of the event: an event sent again with the same id (in any batch) is stored once.",
    )


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[AgencyEvent] = Field(min_length=1, max_length=1000)


class PostedEvent(BaseModel):
    index: int
    external_id: str
    event_id: int
    stored: bool = Field(description="false: an event with this external_id was stored before.")


class PostedBatch(BaseModel):
    accepted: int
    events: list[PostedEvent]


class Balance(BaseModel):
    """A claim's state as of a day, computed from every event stored up to the request."""

    claim_id: int
    as_of: date
    principal_due: str
    interest_due: str
    costs_due: str
    total_due: str
    interest_accrued: str
    interest_time_barred: str
    paid_costs: str
    paid_interest: str
    paid_principal: str
    overpaid: str
    last_payment_date: date | None
    limitation_date: date | None
    time_barred: bool
    days_past_due: int
