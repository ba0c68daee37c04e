"""The store's side of ingest reports (migration 0005): report lines kept and read back exactly,
and a store with ingests from before the migration upgraded without losing them."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa
from alembic import command

from engine.store import ingests
from engine.store.database import alembic_config, head_revision, revision, upgrade_schema

REJECTS = {
    "row": pl.Int64(),
    "seller_ref": pl.String(),
    "column": pl.String(),
    "rule": pl.String(),
    "value": pl.String(),
}


def _ingest(conn, **values) -> int:
    row = (
        dict(
            content_sha256="ab" * 32,
            portfolio_id="P1",
            base_portfolio="P1",
            version=1,
            file_name="f.csv",
            profile="schema",
            actor="test",
            rows_read=3,
            accepted=1,
            rejected=2,
            principal=100,
            purchase_price=10,
            ingested_at=datetime.now(UTC),
        )
        | values
    )
    return ingests.record(conn, **row)


def test_report_lines_come_back_as_kept(store):
    lines = pl.DataFrame(
        {
            "row": [7, 2, 2],
            "seller_ref": ["Ż/1", None, ""],
            "column": ["name", "principal", "column"],
            "rule": ["required", "must be >= 0", 'a "quoted", rule'],
            "value": [None, "-1,00", "  "],
        },
        schema=REJECTS,
    )
    with store.begin() as conn:
        first, second = _ingest(conn), _ingest(conn, content_sha256="cd" * 32)
        ingests.keep_reports(conn, first, {"rejects": lines})
        ingests.keep_reports(conn, second, {"rejects": lines.head(1)})
    with store.connect() as conn:
        kept = ingests.kept_reports(conn, first, {"rejects": REJECTS})["rejects"]
        other = ingests.kept_reports(conn, second, {"rejects": REJECTS})["rejects"]
        none = ingests.kept_reports(conn, 99, {"rejects": REJECTS})["rejects"]
    assert kept.equals(lines) and other.equals(lines.head(1)) and none.height == 0 and none.schema == lines.schema
    with store.begin() as conn:  # the lines go with their ingest
        conn.execute(sa.text("DELETE FROM ingest_files WHERE ingest_id = :i"), {"i": first})
        assert conn.exec_driver_sql("SELECT count(*) FROM ingest_rejects").scalar() == 1


def test_ingests_from_before_0005_are_kept_through_the_upgrade_and_back(store):
    command.downgrade(alembic_config(store), "0004")
    with store.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO ingest_files (content_sha256, portfolio_id, base_portfolio, version, file_name, ingested_at, actor, "
                "rows_read, accepted, rejected, principal, purchase_price) VALUES ('x', 'P1', 'P1', 1, 'old.csv', :at, 'a', 3, 3, 0, 5, 1)"
            ),
            {"at": datetime.now(UTC)},
        )
    upgrade_schema(store)
    assert revision(store) == head_revision()
    with store.connect() as conn:
        old = ingests.ingest_of(conn, 1)
        assert (old.file_name, old.content_fingerprint, old.reports_stem, old.reports_pending) == (
            "old.csv",
            None,
            None,
            False,
        )
        assert ingests.with_reports_pending(conn) == []
    command.downgrade(alembic_config(store), "0004")
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT file_name FROM ingest_files").scalar() == "old.csv"
        assert "ingest_rejects" not in sa.inspect(conn).get_table_names()
    upgrade_schema(store)
