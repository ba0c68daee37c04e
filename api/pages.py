"""Opaque page cursors of the API's lists: a kind letter and one or more non-negative ids, base64url.
A client passes ``next_cursor`` back as it is; anything else is refused as bad input naming what to do."""

from __future__ import annotations

import base64

from engine.errors import InputError


def encode(kind: str, *ids: int) -> str:
    text = kind + "_".join(str(i) for i in ids)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(kind: str, cursor: str | None, start: tuple[int, ...]) -> tuple[int, ...]:
    """The ids of a cursor of ``kind`` (``start`` when there is none)."""
    if not cursor:
        return start
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = text[len(kind) :].split("_")
        if text.startswith(kind) and len(parts) == len(start) and all(p.isdigit() and int(p) < 2**63 for p in parts):
            return tuple(int(p) for p in parts)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InputError(f"cursor {cursor!r}: not a cursor this API gave (pass next_cursor back as it is)")
