"""Responses serialised once: a body the service built already in its response model's shape (a page
of 1000 placements) written as JSON straight away, instead of FastAPI validating it against the
model again and then serialising it (~5 ms of a page's ~30 ms). The route keeps its
``response_model`` for the OpenAPI document; tests check that each such body is its model's own
JSON (tests/api/test_http.py) and schemathesis checks every response against the schema."""

from __future__ import annotations

import json
from datetime import date, datetime

from fastapi import Response
from pydantic import BaseModel


def _iso(value: object) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()  # as pydantic writes a date
    raise TypeError(f"{type(value).__name__} is not written here: give the service's body in the model's shape")


def json_bytes(content: dict) -> bytes:
    """A dict of JSON values and dates as JSON (the bytes FastAPI's JSONResponse writes)."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_iso).encode()


def json_response(content: dict | BaseModel | bytes, status_code: int = 200) -> Response:
    """``content`` as JSON: a model by its own serialiser, a dict by ``json_bytes``, bytes as they
    are (JSON the service wrote already)."""
    if isinstance(content, BaseModel):
        body = content.model_dump_json().encode()
    elif isinstance(content, bytes):
        body = content
    else:
        body = json_bytes(content)
    return Response(body, status_code=status_code, media_type="application/json")
