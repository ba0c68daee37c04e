"""Seller files in: CSV (UTF-8, Windows-1250, ISO-8859-2), XLSX and Parquet -> docs/data-contract.md's
`claims` and `debtors`, validated row by row, deduplicated, stored in one transaction, with a
reject report of every row not taken and why.

The names below are read from their modules on first use: ``import ingest.profiles`` (a profile's
check, the command line's help) does not load the pipeline, the store and the engine with it, and no
module of ingest ever runs this file's imports half-way through its own.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: name -> the module that defines it
_EXPORTS = {
    **dict.fromkeys(
        (
            "DuplicateError",
            "IngestError",
            "IngestReport",
            "ReportPathError",
            "allocate_price",
            "finish_reports",
            "ingest_file",
            "rewrite_reports",
            "write_reports",
        ),
        "ingest.pipeline",
    ),
    **dict.fromkeys(("Profile", "ProfileError", "load_profile", "shipped_profiles"), "ingest.profiles"),
}

__all__ = [
    "DuplicateError",
    "IngestError",
    "IngestReport",
    "Profile",
    "ProfileError",
    "ReportPathError",
    "allocate_price",
    "finish_reports",
    "ingest_file",
    "load_profile",
    "rewrite_reports",
    "shipped_profiles",
    "write_reports",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from ingest.pipeline import (
        DuplicateError,
        IngestError,
        IngestReport,
        ReportPathError,
        allocate_price,
        finish_reports,
        ingest_file,
        rewrite_reports,
        write_reports,
    )
    from ingest.profiles import Profile, ProfileError, load_profile, shipped_profiles
