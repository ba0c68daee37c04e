"""Seller files in: CSV (UTF-8, Windows-1250, ISO-8859-2), XLSX and Parquet -> docs/data-contract.md's
`claims` and `debtors`, validated row by row, deduplicated, stored in one transaction, with a
reject report of every row not taken and why."""

from ingest.pipeline import (DuplicateError, IngestError, IngestReport, ReportPathError, allocate_price, finish_reports,
                             ingest_file, rewrite_reports, write_reports)  # fmt: skip
from ingest.profiles import Profile, ProfileError, load_profile, shipped_profiles

__all__ = ["DuplicateError", "IngestError", "IngestReport", "Profile", "ProfileError", "ReportPathError", "allocate_price",
           "finish_reports", "ingest_file", "load_profile", "rewrite_reports", "shipped_profiles", "write_reports"]  # fmt: skip
