"""Seller files in: CSV (UTF-8, Windows-1250, ISO-8859-2), XLSX and Parquet -> SCHEMA.md's
`claims` and `debtors`, validated row by row, deduplicated, stored in one transaction, with a
reject report of every row not taken and why."""

from ingest.pipeline import IngestError, IngestReport, allocate_price, ingest_file, write_reports
from ingest.profiles import Profile, ProfileError, load_profile, shipped_profiles

__all__ = ["IngestError", "IngestReport", "Profile", "ProfileError", "allocate_price", "ingest_file", "load_profile",
           "shipped_profiles", "write_reports"]  # fmt: skip
