"""An agency's webhooks: its change feed (placed, recalled, returned; engine/store/changes.py)
delivered to its URL, in order, at least once, signed.

Each delivery POSTs ``{"webhook_id": ..., "changes": [...]}`` (up to ``BATCH`` changes, oldest
first) with the headers ``Cession-Webhook-Id``, ``Cession-Delivery-Id`` and ``Cession-Signature:
t=<unix time>,v1=<hex>``, where the hex is HMAC-SHA256 of ``"<t>.<body>"`` under the webhook's
secret (``verify`` checks one, as a receiver should: the signature, then that ``t`` is recent). A 2xx
answer moves the webhook past those changes; anything else (or no answer in ``TIMEOUT`` s) is
tried again with the same changes after a backoff that doubles up to an hour. A later change is
never sent before an earlier one is delivered, so a receiver that dedupes by ``change_id`` sees
each change once and in order. `cession webhooks deliver` runs the deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from api.keys.service import Caller
from engine.errors import InputError, NotFound
from engine.store import changes
from engine.store.models import Webhook, WebhookDelivery
from engine.store.records import AuditAction, audit

HOOKS = Webhook.__table__
DELIVERIES = WebhookDelivery.__table__
BATCH = 100
TIMEOUT = 10.0
MOST_PER_AGENCY = 5
FIRST_RETRY = timedelta(seconds=10)
LAST_RETRY = timedelta(hours=1)
#: a signature older than this is refused by ``verify`` (replays)
TOLERANCE = 300


@dataclass(frozen=True)
class Sent:
    """What a receiver answered: its status code (None: no answer) and the error, if any."""

    status_code: int | None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


#: posts (url, body, headers) and says what came back; httpx by default, a fake in tests
Send = Callable[[str, bytes, dict], Sent]


def signature(*, secret: str, body: bytes, at: int) -> str:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(*, secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = TOLERANCE) -> bool:
    """Whether ``header`` (Cession-Signature) signs ``body`` under ``secret`` within ``tolerance`` s."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        at = int(parts["t"])
    except (ValueError, KeyError):
        return False
    now = time.time() if now is None else now
    expected = signature(secret=secret, body=body, at=at).split("v1=", 1)[1]
    return abs(now - at) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def _hook(row) -> dict:
    hook = dict(row._mapping)
    hook.pop("secret", None)
    return hook


def register(*, store: sa.Engine, caller: Caller, url: str) -> dict:
    """A new webhook of the caller's agency, its secret in the answer (shown once). Delivery starts
    from the feed's next change."""
    if not caller.agency_id:
        raise InputError("only an agency's key registers an agency's webhook")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InputError(f"url {url!r}: an absolute http(s) URL")
    refused = _private(url)
    if refused:
        raise InputError(refused)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with store.begin() as conn:
        active = conn.execute(
            sa.select(sa.func.count()).where(HOOKS.c.agency_id == caller.agency_id, HOOKS.c.active)
        ).scalar_one()
        if active >= MOST_PER_AGENCY:
            raise InputError(f"agency {caller.agency_id} has {active} active webhooks: delete one first")
        newest = conn.execute(sa.select(sa.func.max(changes.CHANGES.c.change_id))).scalar() or 0
        webhook_id = conn.execute(
            sa.insert(HOOKS)
            .values(
                agency_id=caller.agency_id,
                url=url,
                secret=secret,
                active=True,
                created_at=datetime.now(UTC),
                delivered_through=newest,
                failures=0,
                next_attempt_at=None,
            )
            .returning(HOOKS.c.webhook_id)
        ).scalar_one()
        audit(
            conn,
            AuditAction.API_WRITE,
            f"webhook:{webhook_id}",
            {"operation": "webhook.register", "url": url},
            caller.name,
        )
        row = conn.execute(sa.select(HOOKS).where(HOOKS.c.webhook_id == webhook_id)).one()
    return _hook(row) | {"secret": secret}


def listed(*, store: sa.Engine, caller: Caller) -> list[dict]:
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(HOOKS).where(HOOKS.c.agency_id == caller.agency_id).order_by(HOOKS.c.webhook_id)
        ).all()
    return [_hook(r) for r in rows]


def _own(conn: sa.Connection, caller: Caller, webhook_id: int):
    row = conn.execute(
        sa.select(HOOKS).where(HOOKS.c.webhook_id == webhook_id, HOOKS.c.agency_id == caller.agency_id)
    ).first()
    if row is None:
        raise NotFound(f"webhook {webhook_id}: not found")
    return row


def deactivate(*, store: sa.Engine, caller: Caller, webhook_id: int) -> dict:
    with store.begin() as conn:
        _own(conn, caller, webhook_id)
        conn.execute(sa.update(HOOKS).where(HOOKS.c.webhook_id == webhook_id).values(active=False))
        audit(conn, AuditAction.API_WRITE, f"webhook:{webhook_id}", {"operation": "webhook.delete"}, caller.name)
        return _hook(conn.execute(sa.select(HOOKS).where(HOOKS.c.webhook_id == webhook_id)).one())


def deliveries(*, store: sa.Engine, caller: Caller, webhook_id: int, limit: int = 100) -> list[dict]:
    """The webhook's latest deliveries, newest first."""
    with store.connect() as conn:
        _own(conn, caller, webhook_id)
        rows = conn.execute(
            sa.select(DELIVERIES)
            .where(DELIVERIES.c.webhook_id == webhook_id)
            .order_by(DELIVERIES.c.delivery_id.desc())
            .limit(limit)
        ).all()
    return [dict(r._mapping) for r in rows]


def _private(url: str) -> str | None:
    """Why ``url`` may not be posted to, or None: its host resolves to a loopback, private,
    link-local, reserved or multicast address and CESSION_WEBHOOKS_PRIVATE does not allow that, or
    it does not resolve. Checked when a webhook is registered and again before every delivery (a
    name may resolve elsewhere later)."""
    import ipaddress
    import socket

    from engine.settings import WEBHOOKS, read

    if read(WEBHOOKS).webhooks_private:
        return None
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return f"url {url!r}: its host {host!r} does not resolve"
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            return (
                f"url {url!r}: {host} is {address}, a loopback, private or reserved address "
                "(CESSION_WEBHOOKS_PRIVATE=true allows it on the purchaser's own network)"
            )
    return None


def _send_httpx(url: str, body: bytes, headers: dict) -> Sent:
    import httpx

    refused = _private(url)
    if refused:
        return Sent(None, refused[:500])

    try:
        response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as e:
        return Sent(None, f"{type(e).__name__}: {e}"[:500])
    return Sent(response.status_code, None if response.is_success else response.text[:500])


def _backoff(failures: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** (failures - 1), LAST_RETRY)


def deliver_due(*, store: sa.Engine, now: datetime | None = None, send: Send | None = None) -> int:
    """One round: every active webhook that has changes to deliver and is due gets its next batch.
    Returns the deliveries attempted. A webhook is leased before its batch is sent (its next attempt
    set ``LEASE`` ahead, under ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two workers never send
    the same batch, and no transaction stays open while a receiver answers."""
    now = now or datetime.now(UTC)
    send = send or _send_httpx
    attempted = 0
    with store.connect() as conn:
        ids = list(
            conn.execute(sa.select(HOOKS.c.webhook_id).where(HOOKS.c.active).order_by(HOOKS.c.webhook_id)).scalars()
        )
    for webhook_id in ids:
        leased = _lease(store, webhook_id, now)
        if leased is None:
            continue
        hook, pending, delivery_id, attempt = leased
        body = json.dumps(
            {"webhook_id": webhook_id, "changes": [_jsonable(c) for c in pending]}, separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Cession-Webhook-Id": str(webhook_id),
            "Cession-Delivery-Id": str(delivery_id),
            "Cession-Signature": signature(secret=hook.secret, body=body, at=int(now.timestamp())),
        }
        sent = send(hook.url, body, headers)
        attempted += 1
        with store.begin() as conn:
            conn.execute(
                sa.update(DELIVERIES)
                .where(DELIVERIES.c.delivery_id == delivery_id)
                .values(delivered=sent.delivered, status_code=sent.status_code, error=sent.error)
            )
            if sent.delivered:
                values = {"delivered_through": pending[-1]["change_id"], "failures": 0, "next_attempt_at": None}
            else:
                values = {"failures": attempt, "next_attempt_at": now + _backoff(attempt)}
            conn.execute(sa.update(HOOKS).where(HOOKS.c.webhook_id == webhook_id).values(**values))
    return attempted


#: how long a worker holds a webhook while its batch is out (more than a receiver's TIMEOUT)
LEASE = timedelta(seconds=3 * TIMEOUT)


def _lease(store: sa.Engine, webhook_id: int, now: datetime):
    """(webhook, its next batch, the delivery's id, the attempt) with the webhook leased, or None
    when it is not due, has nothing to send or another worker holds it."""
    with store.begin() as conn:
        query = sa.select(HOOKS).where(HOOKS.c.webhook_id == webhook_id, HOOKS.c.active)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        hook = conn.execute(query).first()
        if hook is None:
            return None
        if hook.next_attempt_at is not None and hook.next_attempt_at > now:
            return None
        pending = changes.since(conn, hook.agency_id, hook.delivered_through, BATCH)
        if not pending:
            return None
        attempt = hook.failures + 1
        delivery_id = conn.execute(
            sa.insert(DELIVERIES)
            .values(
                webhook_id=webhook_id,
                first_change_id=pending[0]["change_id"],
                last_change_id=pending[-1]["change_id"],
                at=now,
                attempt=attempt,
                delivered=False,
            )
            .returning(DELIVERIES.c.delivery_id)
        ).scalar_one()
        conn.execute(sa.update(HOOKS).where(HOOKS.c.webhook_id == webhook_id).values(next_attempt_at=now + LEASE))
    return hook, pending, delivery_id, attempt


def _jsonable(change: dict) -> dict:
    return {
        "change_id": change["change_id"],
        "change": change["change"],
        "claim_id": change["claim_id"],
        "placement_id": change["placement_id"],
        "day": change["day"].isoformat(),
        "reason": change["reason"],
        "at": change["at"].isoformat(),
    }
