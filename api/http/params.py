"""Path and query parameters shared by the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Path

#: the store keeps ids as BIGINT: anything outside 1..2^63-1 is refused as input (422), never sent to SQL
ID_MAX = 2**63 - 1
ClaimId = Annotated[int, Path(ge=1, le=ID_MAX, description="A claim's id (claims.claim_id).")]
IdempotencyKey = Annotated[
    str,
    Header(
        min_length=1,
        max_length=200,
        description="One key per batch: a retry with the same key and body gets the first response "
        "again and stores nothing new; the same key with another body is refused (409).",
    ),
]
