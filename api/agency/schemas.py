"""The agency integration's bodies (``/v1/agency``): stable, versioned with the path."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.domain import ReturnReason


class AgencyEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_id: int = Field(
        ge=1, le=2**63 - 1, description="An agency: a claim placed with it; the legal team: a stored claim."
    )
    kind: str = Field(
        description="An agency: payment or acknowledgment. The legal team: court_filing, proceedings_end, "
        "title, enforcement_filing, enforcement_end or cost.",
        examples=["payment"],
    )
    event_date: date = Field(description="The day it happened (YYYY-MM-DD), not in the future.")
    amount: str | None = Field(
        default=None,
        description='PLN as a decimal string, at most two decimals: "123.45". A payment and a cost have one '
        "(> 0); the other kinds none.",
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

    @classmethod
    def of(cls, row: dict) -> Balance:
        """From a claim_state row (money in grosz)."""
        from engine.money import pln

        money = {"principal_due", "interest_due", "costs_due", "total_due", "interest_accrued"}
        money |= {"interest_time_barred", "paid_costs", "paid_interest", "paid_principal", "overpaid"}
        return cls(**{k: (pln(v) if k in money else v) for k, v in row.items() if k in cls.model_fields})


ReturnCode = Literal[tuple(r.value for r in ReturnReason)]  # type: ignore[valid-type]


class Return(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReturnCode = Field(  # type: ignore[valid-type]
        description="; ".join(f"{r.value}: {r.about}" for r in ReturnReason)
    )
    note: str | None = Field(default=None, max_length=2000, description="Free text for the purchaser's team.")


class Returned(BaseModel):
    claim_id: int
    placement_id: int
    returned_on: date
    reason: str


class PlacedClaim(BaseModel):
    portfolio_id: str
    seller_ref: str
    due_date: date
    principal: str
    title_date: date | None


class PlacedDebtor(BaseModel):
    debtor_id: int
    debtor_kind: str
    name: str
    national_id: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    phone: str | None
    email: str | None


class PlacedBalance(BaseModel):
    """The claim's balance in the current stored state (the day of the last engine run)."""

    as_of: date
    principal_due: str
    interest_due: str
    costs_due: str
    total_due: str
    limitation_date: date | None
    time_barred: bool


class PlacementItem(BaseModel):
    claim_id: int
    placement_id: int
    placed_on: date
    queue: str
    priority: int | None = Field(description="Order in a legal queue (1 first), as the allocation set it.")
    claim: PlacedClaim
    debtor: PlacedDebtor | None
    balance: PlacedBalance | None = Field(description="None before the engine's first run of the claim.")


class PlacementPage(BaseModel):
    items: list[PlacementItem]
    next_cursor: str | None = Field(description="Pass it as ?cursor= for the next page; null: the last page.")


class Change(BaseModel):
    change_id: int
    change: str = Field(description="placed, recalled (by the purchaser) or returned (by your agency).")
    claim_id: int
    placement_id: int
    day: date
    reason: str | None = Field(description="A recall's or a return's reason (e.g. no_payment, returned:no_contact).")
    at: datetime


class ChangePage(BaseModel):
    items: list[Change]
    next_cursor: str = Field(description="Ask from it next time (the same cursor when nothing was new).")
    more: bool = Field(description="true: more changes are waiting; ask again at once.")
