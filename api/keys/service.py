"""The HTTP API's keys: made at random and shown once, kept as their SHA-256, revoked, checked.

A key reads ``cession_<key_id>_<secret>``: the key id finds the stored key (and names it in lists
and the audit log), the secret (32 random bytes, base64url) makes it unguessable. Only the SHA-256
of the whole key is stored: a key is 256 bits of randomness, so a fast hash is as safe as a slow
one here (what GitHub and Stripe do with their tokens), and checking a key costs microseconds on
every request. A lost key is revoked and replaced, never recovered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from engine.domain import KeyRole
from engine.errors import InputError, NotFound
from engine.store import keys as repository
from engine.store.records import AuditAction, actor, audit

PREFIX = "cession_"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str  # shown once
    role: KeyRole
    agency_id: str | None
    label: str | None

    def summary(self) -> dict:
        return {
            "key_id": self.key_id,
            "key": self.key,
            "role": self.role.value,
            "agency_id": self.agency_id,
            "label": self.label,
        }


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the key's id and role, and the agency of an agency's key."""

    key_id: str
    role: KeyRole
    agency_id: str | None

    @property
    def name(self) -> str:
        """As the audit log names the caller."""
        return f"key:{self.key_id}"


def _sha256(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create(
    *, store: sa.Engine, role: str, agency_id: str | None = None, label: str | None = None, who: str | None = None
) -> NewKey:
    """A new key for ``role`` (an agency's key names its agency, which must be in the store; other
    roles name none). The key is in the result and nowhere else."""
    try:
        kind = KeyRole(role)
    except ValueError:
        raise InputError(f"role {role!r}: one of {', '.join(r.value for r in KeyRole)}") from None
    if kind is KeyRole.AGENCY and not agency_id:
        raise InputError("an agency key names its agency: --agency ID")
    if kind is not KeyRole.AGENCY and agency_id:
        raise InputError(f"a {kind.value} key belongs to no agency: leave out --agency")
    key_id = "k" + secrets.token_hex(8)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = repository.KeyRecord(
        key_id, _sha256(key), kind, agency_id, label, datetime.now(UTC), who or actor(), revoked_at=None
    )
    with store.begin() as conn:
        if agency_id and not repository.agency_exists(conn, agency_id):
            raise InputError(f"agency {agency_id!r}: not in the store (add it first: cession agencies add)")
        repository.insert_key(conn, record)
        audit(conn, AuditAction.KEY_CREATED, key_id, {"role": kind.value, "agency_id": agency_id}, who)
    return NewKey(key_id, key, kind, agency_id, label)


def listed(*, store: sa.Engine, include_revoked: bool = True) -> list[repository.KeyRecord]:
    with store.connect() as conn:
        return repository.list_keys(conn, include_revoked=include_revoked)


def revoke(*, store: sa.Engine, key_id: str, who: str | None = None) -> repository.KeyRecord:
    """Revoke a key: from the next request on it is refused (401). Revoking a revoked key is an error
    that says so; the key's row stays, for the audit log."""
    with store.begin() as conn:
        found = repository.find_key(conn, key_id)
        if found is None:
            raise NotFound(f"key {key_id!r}: no such key (cession keys list)")
        if found.revoked:
            raise InputError(f"key {key_id!r}: already revoked on {found.revoked_at:%Y-%m-%d %H:%M:%S} UTC")
        repository.revoke_key(conn, key_id, datetime.now(UTC))
        audit(conn, AuditAction.KEY_REVOKED, key_id, {"role": found.role.value, "agency_id": found.agency_id}, who)
        return repository.find_key(conn, key_id)  # type: ignore[return-value]


def _key_id_of(key: str) -> str | None:
    """The key id a presented key claims, or None when it is not shaped like one of ours."""
    if not key.startswith(PREFIX):
        return None
    key_id, sep, secret = key[len(PREFIX) :].partition("_")
    if not sep or not secret or len(key_id) != 17:
        return None
    return key_id


def authenticate(*, store: sa.Engine, key: str) -> Caller | None:
    """The caller a presented key stands for, or None: an unknown, malformed or revoked key. The
    hashes are compared in constant time."""
    key_id = _key_id_of(key)
    if key_id is None:
        return None
    with store.connect() as conn:
        found = repository.find_key(conn, key_id)
    if found is None or found.revoked or not hmac.compare_digest(found.key_sha256, _sha256(key)):
        return None
    return Caller(found.key_id, found.role, found.agency_id)


@dataclass
class CheckedKeys:
    """The keys one server process found valid, each trusted for ``seconds`` before the store is
    asked again (``CESSION_API_KEY_CACHE_SECONDS``): most requests then read no key from the
    store. The price is the bound it states: a key revoked in the store is refused by this process
    at most ``seconds`` later (0: no cache, every request asks the store). Only valid keys are
    kept, under the SHA-256 of the presented key (never the key), at most ``size`` of them; an
    unknown or revoked key is asked of the store every time. ``clock`` (monotonic seconds) is for
    tests."""

    seconds: float
    size: int = 4096
    clock: Callable[[], float] = time.monotonic
    _valid: dict[str, tuple[float, Caller]] = field(default_factory=dict, repr=False)

    def trusted(self, *, key: str) -> Caller | None:
        """This process's answer for ``key`` of at most ``seconds`` ago, if it has one (no I/O)."""
        kept = self._valid.get(_sha256(key)) if self.seconds > 0 else None
        if kept is not None and self.clock() < kept[0]:
            return kept[1]
        return None

    def caller(self, *, store: sa.Engine, key: str) -> Caller | None:
        """``authenticate(store=store, key=key)``, or this process's answer of at most ``seconds`` ago."""
        if self.seconds <= 0:
            return authenticate(store=store, key=key)
        found = self.trusted(key=key)
        if found is not None:
            return found
        digest = _sha256(key)
        now = self.clock()
        found = authenticate(store=store, key=key)
        if found is None:
            self._valid.pop(digest, None)
            return None
        if len(self._valid) >= self.size:
            self._valid = {d: k for d, k in self._valid.items() if now < k[0]}
            while len(self._valid) >= self.size:  # every one still fresh: the oldest goes
                del self._valid[next(iter(self._valid))]
        self._valid[digest] = (now + self.seconds, found)
        return found
