"""The HTTP API's keys and its idempotent writes in the store (``api_keys``, ``api_requests``): the
repository; api/keys/service.py makes and checks the keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine.domain import KeyRole
from engine.store.models import Agency, ApiKey, ApiRequest

KEYS = ApiKey.__table__
REQUESTS = ApiRequest.__table__


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    key_sha256: str
    role: KeyRole
    agency_id: str | None
    label: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def summary(self) -> dict:
        """As the command line and the API show it (never the hash)."""
        return {
            "key_id": self.key_id,
            "role": self.role.value,
            "agency_id": self.agency_id,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _record(row) -> KeyRecord:
    return KeyRecord(
        row.key_id,
        row.key_sha256,
        KeyRole(row.role),
        row.agency_id,
        row.label,
        row.created_at,
        row.created_by,
        row.revoked_at,
    )


def agency_exists(conn: sa.Connection, agency_id: str) -> bool:
    return conn.execute(sa.select(Agency.agency_id).where(Agency.agency_id == agency_id)).first() is not None


def insert_key(conn: sa.Connection, record: KeyRecord) -> None:
    conn.execute(
        sa.insert(KEYS).values(
            key_id=record.key_id,
            key_sha256=record.key_sha256,
            role=record.role.value,
            agency_id=record.agency_id,
            label=record.label,
            created_at=record.created_at,
            created_by=record.created_by,
            revoked_at=None,
        )
    )


def find_key(conn: sa.Connection, key_id: str) -> KeyRecord | None:
    row = conn.execute(sa.select(KEYS).where(KEYS.c.key_id == key_id)).first()
    return None if row is None else _record(row)


def list_keys(conn: sa.Connection, *, include_revoked: bool = True) -> list[KeyRecord]:
    query = sa.select(KEYS).order_by(KEYS.c.created_at, KEYS.c.key_id)
    if not include_revoked:
        query = query.where(KEYS.c.revoked_at.is_(None))
    return [_record(row) for row in conn.execute(query)]


def revoke_key(conn: sa.Connection, key_id: str, at: datetime) -> bool:
    """Revoke a key not yet revoked; False when there is no such key or it was revoked already."""
    done = conn.execute(
        sa.update(KEYS).where(KEYS.c.key_id == key_id, KEYS.c.revoked_at.is_(None)).values(revoked_at=at)
    )
    return done.rowcount == 1


@dataclass(frozen=True)
class StoredResponse:
    operation: str
    body_sha256: str
    status: int
    response: dict


def find_request(conn: sa.Connection, key_id: str, idempotency_key: str) -> StoredResponse | None:
    row = conn.execute(
        sa.select(REQUESTS.c.operation, REQUESTS.c.body_sha256, REQUESTS.c.status, REQUESTS.c.response).where(
            REQUESTS.c.key_id == key_id, REQUESTS.c.idempotency_key == idempotency_key
        )
    ).first()
    return None if row is None else StoredResponse(row.operation, row.body_sha256, row.status, row.response)


def insert_request(
    conn: sa.Connection, key_id: str, idempotency_key: str, answer: StoredResponse, at: datetime
) -> None:
    """Record a write's response under its key (the primary key refuses a second one: a concurrent
    retry that lost the race gets an IntegrityError, then reads this row)."""
    conn.execute(
        sa.insert(REQUESTS),  # the values as parameters: a statement compiled once (records.audit)
        {
            "key_id": key_id,
            "idempotency_key": idempotency_key,
            "operation": answer.operation,
            "body_sha256": answer.body_sha256,
            "status": answer.status,
            "response": answer.response,
            "at": at,
        },
    )


def answer_request(conn: sa.Connection, key_id: str, idempotency_key: str, status: int, response: dict) -> None:
    """The response of a write recorded under its key (``insert_request`` made the row first)."""
    conn.execute(_ANSWER, {"k": key_id, "i": idempotency_key, "s": status, "r": response})


#: built once: ``answer_request`` is a statement of every write of the HTTP API
_ANSWER = (
    sa.update(REQUESTS)
    .where(REQUESTS.c.key_id == sa.bindparam("k"), REQUESTS.c.idempotency_key == sa.bindparam("i"))
    .values(status=sa.bindparam("s"), response=sa.bindparam("r"))
)
