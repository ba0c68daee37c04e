"""The closed vocabularies of docs/data-contract.md and the integer codes the kernels use for them.

Every enum's string value is its public spelling (docs/data-contract.md); its position in ``CODES`` is the
int8 code a kernel sees. Codes are internal: never store them, store the strings.
"""

from __future__ import annotations

from enum import StrEnum


class DebtorKind(StrEnum):
    CONSUMER = "consumer"
    BUSINESS = "business"


class InterestBasis(StrEnum):
    NONE = "none"
    STATUTORY_LATE = "statutory_late"
    COMMERCIAL_LATE = "commercial_late"
    CONTRACTUAL = "contractual"
    #: commercial_late less 2 pp from 2020 for a public entity that is a medical entity (art. 4 pkt 3 of the
    #: 2013 act); kept last so the other bases keep their codes
    COMMERCIAL_LATE_MEDICAL = "commercial_late_medical"


class LimitationKind(StrEnum):
    GENERAL = "general"
    PERIODIC = "periodic"
    BUSINESS = "business"
    SALES = "sales"
    CUSTOM = "custom"
    # Not a value of claims.limitation_kind: the kind of a run that starts from an enforcement
    # title (art. 125 KC). Kept last so the claim kinds keep their codes.
    TITLE = "title"


CLAIM_LIMITATION_KINDS: tuple[LimitationKind, ...] = tuple(
    k for k in LimitationKind if k is not LimitationKind.TITLE
)


class EventKind(StrEnum):
    PAYMENT = "payment"
    REVERSAL = "reversal"
    COST = "cost"
    INTEREST_WAIVER = "interest_waiver"
    CAPITALIZATION = "capitalization"
    WRITE_OFF = "write_off"
    ACKNOWLEDGMENT = "acknowledgment"
    COURT_FILING = "court_filing"
    PROCEEDINGS_END = "proceedings_end"
    TITLE = "title"
    ENFORCEMENT_FILING = "enforcement_filing"
    ENFORCEMENT_END = "enforcement_end"


#: Event kinds whose ``amount`` must be present and > 0 (docs/data-contract.md); all others carry none.
AMOUNT_EVENT_KINDS: frozenset[EventKind] = frozenset(
    {EventKind.PAYMENT, EventKind.COST, EventKind.INTEREST_WAIVER}
)


class Bucket(StrEnum):
    """A balance a payment can go to (art. 451 § 1 KC)."""

    COSTS = "costs"
    INTEREST = "interest"
    PRINCIPAL = "principal"


def code_of(member: StrEnum) -> int:
    """The kernel code of an enum member: its position in its enum."""
    return list(type(member)).index(member)

