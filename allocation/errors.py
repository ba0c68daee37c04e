"""The refusals of allocation: bad strategy, segment or agency files, unknown agencies or claims.
Each is an ``engine.errors.InputError`` (exit code 2, one line naming the file, line and field, or
the row and rule)."""

from __future__ import annotations

from engine.errors import InputError


class AllocationFileError(InputError):
    """A strategy, segments or agencies file that cannot be used: ``FILE:LINE: field: why``."""


class AgencyError(InputError):
    """An agency that cannot be added, changed or used as asked."""


class PlacementError(InputError):
    """Placements that cannot be read or recalled as asked (an unknown claim, no open placement)."""
