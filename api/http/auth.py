"""Who is calling: ``Authorization: Bearer <key>`` checked against the store's keys (api/keys/service.py;
a key found valid is trusted by the server process for ``CESSION_API_KEY_CACHE_SECONDS``, 5 s by
default: the bound on how long a revoked key still works), and which roles a route admits
(``Allowed``)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.http.problems import Forbidden, Unauthorized
from api.keys.service import Caller, CheckedKeys
from engine.domain import KeyRole

bearer = HTTPBearer(auto_error=False, description="An API key made by `cession keys create`.")


# The dependencies are coroutines: FastAPI runs a plain function's dependency on a thread of its
# pool, a hand-over to a thread and back for each (five for a balance), and each hand-over waits
# for the GIL behind the other requests of the same process: a key found valid a moment ago is
# checked on the event loop, and only a key to look up in the store goes to a thread.


async def store_of(request: Request) -> sa.Engine:
    return request.app.state.store


Store = Annotated[sa.Engine, Depends(store_of)]


async def keys_of(request: Request) -> CheckedKeys:
    return request.app.state.checked_keys


async def caller_of(
    store: Store,
    checked: Annotated[CheckedKeys, Depends(keys_of)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthorized("no API key: send Authorization: Bearer <key>")
    caller = checked.trusted(key=credentials.credentials)
    if caller is None:
        caller = await run_in_threadpool(checked.caller, store=store, key=credentials.credentials)
    if caller is None:
        raise Unauthorized("the API key is unknown or revoked")
    return caller


def allowed(*roles: KeyRole, admin: bool = True):
    """A dependency admitting callers of ``roles``, and an admin unless ``admin`` is false (an
    agency's routes act for one agency: an admin's key has none)."""
    admitted = ((KeyRole.ADMIN,) if admin else ()) + roles

    async def check(caller: Annotated[Caller, Depends(caller_of)]) -> Caller:
        if caller.role not in admitted:
            names = ", ".join(r.value for r in admitted)
            raise Forbidden(f"a {caller.role.value} key may not use this route (it takes: {names})")
        return caller

    return check


Admin = Annotated[Caller, Depends(allowed())]
Purchaser = Annotated[Caller, Depends(allowed(KeyRole.ANALYST))]
PurchaserOrLegal = Annotated[Caller, Depends(allowed(KeyRole.ANALYST, KeyRole.LEGAL))]
Agency = Annotated[Caller, Depends(allowed(KeyRole.AGENCY, admin=False))]
Legal = Annotated[Caller, Depends(allowed(KeyRole.LEGAL))]
