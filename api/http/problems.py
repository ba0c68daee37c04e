"""Errors as problem+json (RFC 9457): ``type``, ``title``, ``status``, ``detail`` and, for input
refused item by item or field by field, ``errors``: each with the item's ``index`` (in a batch),
the ``field`` and the ``rule`` it breaks.

Which error answers with which status is one table, ``STATUS``, by the exception's type, as
api/exits.py's is for exit codes: an ``InputError`` is the caller's to fix (400, or 404/409/422 for
its kinds), anything else is a bug in Cession (500, with no detail: the log has it)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from engine.errors import ComputationFailed, Conflict, InputError, ItemsRefused, NotFound

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://cession.dev/problems/"

#: an exception's type -> (status, problem type, title); a subclass's own line wins over its base's
STATUS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (NotFound, 404, "not-found", "Not found"),
    (Conflict, 409, "conflict", "Conflict"),
    (ItemsRefused, 422, "items-refused", "Items refused"),
    (InputError, 400, "bad-request", "Bad request"),
    (ComputationFailed, 503, "computation-failed", "Computation failed"),
)


class FieldProblem(BaseModel):
    field: str
    rule: str
    index: int | None = None


class Problem(BaseModel):
    """An error, as every route answers one (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


class Unauthorized(Exception):
    """No key, a malformed or unknown key, or a revoked one (401)."""


class Forbidden(Exception):
    """A valid key whose role may not use this route (403); an agency's key asking for another
    agency's claim gets 404 instead (``NotFound``), never this."""


def problem(status: int, kind: str, title: str, detail: str | None, errors: list[dict] | None = None, headers=None):
    body = Problem(type=TYPE_BASE + kind, title=title, status=status, detail=detail, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple) -> tuple[str, int | None]:
    """A pydantic location as a field path ("events[3].amount") and the batch item's index."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    index = parts[1] if len(parts) > 1 and parts[0] == "events" and isinstance(parts[1], int) else None
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text or "body", index


def install(app: FastAPI) -> None:
    """The handlers that turn every error into problem+json."""

    @app.exception_handler(Unauthorized)
    async def unauthorized(_request: Request, error: Unauthorized):
        return problem(
            401, "unauthorized", "Unauthorized", str(error), headers={"WWW-Authenticate": 'Bearer realm="cession"'}
        )

    @app.exception_handler(Forbidden)
    async def forbidden(_request: Request, error: Forbidden):
        return problem(403, "forbidden", "Forbidden", str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError):
        errors = []
        for e in error.errors():
            field, index = _field(tuple(e.get("loc", ())))
            errors.append({"field": field, "rule": e.get("msg", "invalid"), "index": index})
        return problem(422, "invalid-request", "Invalid request", f"{len(errors)} problem(s) in the request", errors)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException):
        return problem(error.status_code, f"http-{error.status_code}", str(error.detail), None, headers=error.headers)

    def known(kind: type[BaseException], status: int, name: str, title: str) -> None:
        async def handle(_request: Request, error: Exception):
            errors = error.problems if isinstance(error, ItemsRefused) else None
            return problem(status, name, title, str(error), errors)

        app.add_exception_handler(kind, handle)

    for kind, status, name, title in STATUS:
        known(kind, status, name, title)

    @app.exception_handler(Exception)
    async def bug(request: Request, _error: Exception):
        # Starlette answers with this and then re-raises, so the server logs the traceback
        return problem(500, "internal", "Internal error", "a bug in Cession: the server's log has its traceback")
