"""The dashboard (``/dashboard``): pages for the purchaser's analysts in a browser, rendered on the
server (Jinja2; charts as inline SVG; no script, nothing from a CDN), behind the API's keys.

Signing in: a person pastes an ``analyst`` (or ``admin``) key into the form at
``/dashboard/login``; the server checks it as it checks a Bearer key and keeps it in a cookie
(``cession_key``: HttpOnly, SameSite=Strict, Secure over HTTPS, path /dashboard, 8 hours), so
every page is authenticated against the store's keys as an API request is: a revoked key ends
the session at the next page. Machines may send ``Authorization: Bearer <key>`` to these pages
too. Without a valid key a page answers 303 to the login form; with another role's key, 403.
``POST /dashboard/logout`` forgets the cookie.

Pages: the portfolios, one portfolio (the report's charts and tables, ``?as_of=`` and
``?discount_rate=``), claim search (``?q=``: seller_ref, PESEL/NIP or name) and a claim (state,
events, placements, its limitation explained step by step). Every page is sent with a Content
Security Policy that allows nothing but its own inline styles and forms posting to itself.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.http.auth import Store
from api.http.problems import STATUS
from api.keys.service import Caller, authenticate
from engine.domain import KeyRole
from engine.errors import InputError

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
COOKIE = "cession_key"
SESSION_SECONDS = 8 * 3600
ROLES = (KeyRole.ANALYST, KeyRole.ADMIN)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _render(template: str, status: int = 200, **context) -> HTMLResponse:
    from api.reports.html import environment

    text = environment().get_template(template).render(**context)
    return HTMLResponse(text, status_code=status, headers=HEADERS)


def _key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE)


def _signed_in(request: Request, store) -> Caller | Response:
    """The caller, or the response to send instead: to the login form, or 403 for another role."""
    key = _key_of(request)
    caller = authenticate(store=store, key=key) if key else None
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        note = "expired" if key else None
        return RedirectResponse(
            f"/dashboard/login?next={quote(target)}" + (f"&note={note}" if note else ""), status_code=303
        )
    if caller.role not in ROLES:
        return _render(
            "error.html.j2",
            403,
            caller=None,
            title="Not for this key",
            detail=f"a {caller.role.value} key may not use the dashboard (it takes analyst and admin keys)",
        )
    return caller


def _failed(error: InputError, caller: Caller) -> HTMLResponse:
    for kind, status, _, title in STATUS:
        if isinstance(error, kind):
            return _render("error.html.j2", status, caller=caller, title=title, detail=str(error))
    raise error


def _safe_next(target: str | None) -> str:
    """Only a path of the dashboard itself (no open redirect)."""
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return "/dashboard"


@router.get("/login")
def login_form(next: str | None = None, note: str | None = None) -> HTMLResponse:
    message = "Your key is no longer valid: sign in again." if note == "expired" else None
    return _render("login.html.j2", caller=None, next=_safe_next(next), message=message)


@router.post("/login")
def login(
    request: Request, store: Store, key: Annotated[str, Form()], next: Annotated[str | None, Form()] = None
) -> Response:
    caller = authenticate(store=store, key=key.strip())
    if caller is None or caller.role not in ROLES:
        message = "The key is unknown or revoked." if caller is None else "The dashboard takes analyst and admin keys."
        return _render("login.html.j2", 401, caller=None, next=_safe_next(next), message=message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        key.strip(),
        max_age=SESSION_SECONDS,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


@router.get("")
def portfolios(request: Request, store: Store) -> Response:
    caller = _signed_in(request, store)
    if isinstance(caller, Response):
        return caller
    from api.claims import service

    return _render("portfolios.html.j2", caller=caller, portfolios=service.portfolios(store=store))


@router.get("/portfolios/{portfolio_id}")
def portfolio(
    request: Request,
    store: Store,
    portfolio_id: str,
    as_of: Annotated[date | None, Query(description="The report's day (default: the current run's).")] = None,
    discount_rate: Annotated[str | None, Query(description="Yearly %, default 12.")] = None,
) -> Response:
    caller = _signed_in(request, store)
    if isinstance(caller, Response):
        return caller
    from api.reports import service
    from api.reports.html import context

    try:
        day = as_of or _current_day(store, portfolio_id) or date.today()
        figures = service.kept_report(
            store=store,
            portfolio_id=portfolio_id,
            as_of=day,
            rate=service.discount_rate(text=discount_rate, option="discount_rate"),
            allow_stale_rates=True,
        )
    except InputError as e:
        return _failed(e, caller)
    return _render("portfolio.html.j2", caller=caller, **context(figures))


def _current_day(store, portfolio_id: str) -> date | None:
    from reports.store import portfolio_row

    with store.connect() as conn:
        found = portfolio_row(conn, portfolio_id)
    return found["run_as_of"] if found else None


@router.get("/claims")
def claims(request: Request, store: Store, q: str = "") -> Response:
    caller = _signed_in(request, store)
    if isinstance(caller, Response):
        return caller
    from api.claims.search import search

    if not q.strip():
        return _render("claims.html.j2", caller=caller, q="", found=None, message=None)
    try:
        found = search(store=store, query=q, who=caller.name)
    except InputError as e:
        return _render("claims.html.j2", 400, caller=caller, q=q, found=None, message=str(e))
    return _render("claims.html.j2", caller=caller, q=q, found=found, message=None)


@router.get("/claims/{claim_id}")
def claim(request: Request, store: Store, claim_id: int, as_of: date | None = None) -> Response:
    caller = _signed_in(request, store)
    if isinstance(caller, Response):
        return caller
    from api.claims import service

    try:
        found = service.detail(store=store, claim_id=claim_id, who=caller.name, as_of=as_of)
    except InputError as e:
        return _failed(e, caller)
    return _render("claim.html.j2", caller=caller, **found)
