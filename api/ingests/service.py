"""A seller's file into a portfolio (``ingest.ingest_file``: every row validated, debtors
deduplicated, stored in one transaction with its reports), and an ingest's reports written again
from the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from ingest import IngestReport, ingest_file
from ingest import rewrite_reports as rewrite
from ingest.pipeline import OnProgress


def ingest(
    *,
    store: sa.Engine,
    file: Path,
    portfolio: str,
    profile: str | Path | None = None,
    price: int | None = None,
    purchase_date: date | None = None,
    new_version: bool = False,
    control_count: int | None = None,
    control_principal: int | None = None,
    reports: Path | None = None,
    allow_duplicates: bool = False,
    who: str | None = None,
    on_progress: OnProgress | None = None,
) -> IngestReport:
    """Ingest ``file`` into ``portfolio``; amounts (``price``, ``control_principal``) in grosz;
    ``reports``: the stem of the report files (None: ./<file name>)."""
    return ingest_file(
        store,
        file,
        portfolio,
        profile=profile,
        price=price,
        purchase_date=purchase_date,
        new_version=new_version,
        control_count=control_count,
        control_principal=control_principal,
        reports=reports or Path(file.name),
        allow_duplicates=allow_duplicates,
        who=who,
        on_progress=on_progress,
    )


def rewrite_reports(
    *, store: sa.Engine, ingest_id: int, reports: Path | None = None
) -> tuple[object, dict[str, Path], list[str]]:
    """An ingest's reports written again from the store, identical to the first ones (to
    ``reports``; None: where the ingest wrote them): (its record, the files, the lines of the
    reports of earlier ingests finished first)."""
    return rewrite(store, ingest_id, reports)
