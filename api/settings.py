"""Cession's settings as the services read them: from the environment (``CESSION_*``), where a
value that cannot be used is bad input naming its variable (exit code 2), not a bug."""

from __future__ import annotations

from typing import TypeVar

from engine.errors import InputError

T = TypeVar("T")


def read(kind: type[T]) -> T:
    """``kind()`` (a pydantic-settings class) from the environment, or an ``InputError`` naming
    the variable that cannot be used and why."""
    from pydantic import ValidationError

    try:
        return kind()
    except ValidationError as e:
        prefix = str(getattr(kind, "model_config", {}).get("env_prefix", ""))
        problems = "; ".join(
            f"{prefix}{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}" for error in e.errors()
        )
        raise InputError(problems) from None
