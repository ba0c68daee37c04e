"""The store's side of ingest: recognising a file already taken in, numbering portfolios'
versions, claims and debtors, finding stored debtors by national id or by their match keys, and
writing a whole ingest in the caller's transaction.

Every function takes the caller's connection and never commits: one ingest is one transaction
(`lock` first, so two ingests never hand out the same ids). Nothing here knows seller files.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa

from engine.store import virtual_accounts
from engine.store.bulk import OnBatch, Schema, _quote, is_postgres, read_frame, write_frame
from engine.store.models import (
    DebtorKey,
    IngestCandidate,
    IngestFile,
    IngestNameConflict,
    IngestOverlap,
    IngestReject,
    Portfolio,
    VirtualAccount,
)
from engine.store.records import DEBTOR_SCHEMA

DEBTOR_KEY_SCHEMA: Schema = {
    "debtor_id": pl.Int64(),
    "name_key": pl.String(),
    "birth_date": pl.Date(),
    "postal_code": pl.String(),
}
#: an ingest's reports kept in the store, by the report's name (STEM.<name>.csv)
REPORT_TABLES = {
    "rejects": IngestReject.__tablename__,
    "candidates": IngestCandidate.__tablename__,
    "name_conflicts": IngestNameConflict.__tablename__,
    "overlaps": IngestOverlap.__tablename__,
}
#: values per statement when looking keys up (SQLite allows 999 parameters a statement)
_STEP = {"postgresql": 50_000, "sqlite": 900}


def lock(conn: sa.Connection) -> None:
    """Serialise ingests: ids are handed out as max + 1 (SQLite's BEGIN IMMEDIATE already holds the write lock)."""
    if is_postgres(conn):
        conn.exec_driver_sql("LOCK TABLE ingest_files IN SHARE ROW EXCLUSIVE MODE")


def _ingests_where(conn: sa.Connection, condition) -> list[IngestFile]:
    """The ingests meeting ``condition``, oldest first, detached from their session."""
    query = sa.select(IngestFile).where(condition).order_by(IngestFile.ingest_id)
    with sa.orm.Session(bind=conn) as session:
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def ingests_of(conn: sa.Connection, content_sha256: str) -> list[IngestFile]:
    """The ingests of a file with this content, oldest first."""
    return _ingests_where(conn, IngestFile.content_sha256 == content_sha256)


def latest_version(conn: sa.Connection, base_portfolio: str) -> int:
    """The highest version of a portfolio ingested so far (0: none; a portfolio stored by
    `cession load` without ingest counts as version 1)."""
    table = IngestFile.__table__
    version = conn.execute(
        sa.select(sa.func.max(table.c.version)).where(table.c.base_portfolio == base_portfolio)
    ).scalar()
    if version:
        return int(version)
    exists = conn.execute(sa.select(Portfolio.portfolio_id).where(Portfolio.portfolio_id == base_portfolio)).first()
    return 1 if exists else 0


def ensure_portfolio(conn: sa.Connection, portfolio_id: str, name: str, seller: str | None) -> None:
    table = Portfolio.__table__
    if conn.execute(sa.select(table.c.portfolio_id).where(table.c.portfolio_id == portfolio_id)).first() is None:
        conn.execute(
            sa.insert(table).values(portfolio_id=portfolio_id, name=name, seller=seller, created_at=datetime.now(UTC))
        )


def next_ids(conn: sa.Connection) -> tuple[int, int]:
    """(first free claim_id, first free debtor_id): past every stored one (claims stored by
    `cession load` carry debtor ids without debtor rows, so those count too)."""
    claim = conn.exec_driver_sql("SELECT max(claim_id) FROM claims").scalar() or 0
    debtor = (
        conn.exec_driver_sql(
            "SELECT max(m) FROM (SELECT max(debtor_id) AS m FROM debtors UNION ALL SELECT max(debtor_id) FROM claims) ids"
        ).scalar()
        or 0
    )
    return int(claim) + 1, int(debtor) + 1


def holds_claims(conn: sa.Connection, portfolio_id: str) -> bool:
    return (
        conn.execute(sa.text("SELECT 1 FROM claims WHERE portfolio_id = :p LIMIT 1"), {"p": portfolio_id}).first()
        is not None
    )


def stored_seller_refs(conn: sa.Connection, portfolio_id: str, seller_refs: pl.Series) -> pl.Series:
    """Which of ``seller_refs`` the portfolio already holds."""
    where = " AND portfolio_id = :portfolio"
    frame = _lookup_with(
        conn, "claims", "seller_ref", seller_refs, {"seller_ref": pl.String()}, where, {"portfolio": portfolio_id}
    )
    return frame.get_column("seller_ref")


def _lookup_with(
    conn: sa.Connection, table: str, column: str, values: pl.Series, schema: Schema, where: str, extra: dict
) -> pl.DataFrame:
    """Rows of ``table`` whose text ``column`` is one of ``values`` (and ``where``), in chunks of parameters."""
    values = values.drop_nulls().unique().sort()
    step = _STEP.get(conn.dialect.name, 900) - len(extra)
    found = [pl.DataFrame(schema=schema)]
    for i in range(0, len(values), step):
        chunk = values.slice(i, step).to_list()
        params = {f"v{j}": v for j, v in enumerate(chunk)} | extra
        marks = ", ".join(f":v{j}" for j in range(len(chunk)))
        found.append(
            read_frame(
                conn, f"SELECT {', '.join(schema)} FROM {table} WHERE {column} IN ({marks}){where}", schema, params
            )
        )
    return pl.concat(found)


def debtors_by_national_id(conn: sa.Connection, national_ids: pl.Series) -> pl.DataFrame:
    """(national_id, debtor_id, name) of stored debtors with one of these ids (the lowest id if a
    national id were ever stored twice)."""
    schema = {"national_id": pl.String(), "debtor_id": pl.Int64(), "name": pl.String()}
    found = _lookup_with(conn, "debtors", "national_id", national_ids, schema, "", {})
    return found.sort("debtor_id").unique("national_id", keep="first", maintain_order=True)


def debtor_keys_by_name(conn: sa.Connection, name_keys: pl.Series) -> pl.DataFrame:
    """Stored debtors' match keys with one of these normalised names."""
    return _lookup_with(conn, "debtor_keys", "name_key", name_keys, DEBTOR_KEY_SCHEMA, "", {})


def debtor_keys_matching(conn: sa.Connection, keys: pl.DataFrame) -> pl.DataFrame:
    """Stored debtors' match keys (DEBTOR_KEY_SCHEMA) with the name key and the birth date, or the
    name key and the postal code, of one of ``keys`` (SQLite: every key with one of their names).

    PostgreSQL: ``keys`` go to a temporary table and the server joins, so that a common name
    (thousands of stored debtors) sends back only the debtors that match, not all its namesakes."""
    if not is_postgres(conn):
        return debtor_keys_by_name(conn, keys.get_column("name_key"))
    conn.exec_driver_sql("CREATE TEMP TABLE ingest_match_keys (LIKE debtor_keys) ON COMMIT DROP")
    write_frame(conn, "ingest_match_keys", keys.select(list(DEBTOR_KEY_SCHEMA)))
    conn.exec_driver_sql("ANALYZE ingest_match_keys")
    columns = ", ".join(f"d.{c}" for c in DEBTOR_KEY_SCHEMA)
    query = " UNION ".join(
        f"SELECT {columns} FROM debtor_keys d JOIN (SELECT DISTINCT name_key, {other} FROM ingest_match_keys "
        f"WHERE {other} IS NOT NULL) k USING (name_key, {other})"
        for other in ("birth_date", "postal_code")
    )
    found = read_frame(conn, query, DEBTOR_KEY_SCHEMA)
    conn.exec_driver_sql("DROP TABLE ingest_match_keys")
    return found


def unindexed_if_empty(conn: sa.Connection, rows: int | None):
    """PostgreSQL, a store with no claims, debtors or match keys and a file of ``rows`` rows (at
    least ``REBUILD_MIN_ROWS``; None: unknown, e.g. XLSX): those tables locked for this
    transaction and bared of their keys and indexes (``records.Bare``), so the ingest's rows go in
    without index upkeep; the caller restores them, newest first, before asking the store about
    what it wrote. None (and nothing changed) otherwise."""
    from engine.store.records import REBUILD_MIN_ROWS, bare_if_empty

    if not is_postgres(conn) or rows is None or rows < REBUILD_MIN_ROWS:
        return None
    return bare_if_empty(conn, ["claims", "debtors", DebtorKey.__tablename__])


def write_debtors(
    conn: sa.Connection, debtors: pl.DataFrame, keys: pl.DataFrame, on_batch: OnBatch | None = None
) -> None:
    """New debtors (docs/data-contract.md `debtors`, ids already assigned) and their match keys. Debtors go in
    national_id order: the server then updates that index (random ids: every leaf page) in one
    sweep, and the primary key's new ids are one contiguous range either way."""
    flags = pl.format("[{}]", pl.col("flags").list.eval(pl.format('"{}"', pl.element())).list.join(","))
    debtors = (
        debtors.select(list(DEBTOR_SCHEMA)).with_columns(flags.alias("flags")).sort("national_id", nulls_last=True)
    )
    write_frame(conn, "debtors", debtors, on_batch=on_batch)
    write_frame(conn, DebtorKey.__tablename__, keys.select(list(DEBTOR_KEY_SCHEMA)))
    virtual_accounts.assign(conn, debtors["debtor_id"], virtual_accounts.configured_prefix())


def delete_debtors(conn: sa.Connection, debtor_ids: pl.Series) -> None:
    """Debtors (and their match keys) written earlier in this transaction that turned out unused."""
    ids = debtor_ids.to_list()
    step = _STEP.get(conn.dialect.name, 900)
    for i in range(0, len(ids), step):
        params = {f"v{j}": v for j, v in enumerate(ids[i : i + step])}
        marks = ", ".join(f":v{j}" for j in range(len(params)))
        for table in (VirtualAccount.__tablename__, DebtorKey.__tablename__, "debtors"):
            conn.execute(sa.text(f"DELETE FROM {table} WHERE debtor_id IN ({marks})"), params)


def record(conn: sa.Connection, **values) -> int:
    """The ingest_files row of this ingest; its id."""
    values.setdefault("ingested_at", datetime.now(UTC))
    return conn.execute(sa.insert(IngestFile.__table__).values(**values).returning(IngestFile.ingest_id)).scalar_one()


def ingest_of(conn: sa.Connection, ingest_id: int) -> IngestFile | None:
    """The ingest_files row of ``ingest_id`` (None: no such ingest)."""
    with sa.orm.Session(bind=conn) as session:
        found = session.get(IngestFile, ingest_id)
        session.expunge_all()
        return found


def ingests_with_fingerprint(conn: sa.Connection, fingerprint: str) -> list[IngestFile]:
    """The ingests whose accepted rows had this content fingerprint, oldest first."""
    return _ingests_where(conn, IngestFile.content_fingerprint == fingerprint)


def with_reports_pending(conn: sa.Connection) -> list[IngestFile]:
    """The committed ingests whose report files were still under their staged names at the commit
    and have not been put in place since, oldest first."""
    query = sa.select(IngestFile).where(IngestFile.reports_pending).order_by(IngestFile.ingest_id)
    with sa.orm.Session(bind=conn) as session:
        found = list(session.scalars(query))
        session.expunge_all()
        return found


def reports_in_place(conn: sa.Connection, ingest_id: int) -> None:
    table = IngestFile.__table__
    conn.execute(sa.update(table).where(table.c.ingest_id == ingest_id).values(reports_pending=False))


def keep_reports(conn: sa.Connection, ingest_id: int, reports: dict[str, pl.DataFrame]) -> None:
    """An ingest's reports (REPORT_TABLES' names -> their lines), each line numbered in its order."""
    for name, frame in reports.items():
        lines = frame.with_row_index("line").select(
            pl.lit(ingest_id, pl.Int64).alias("ingest_id"), pl.col("line").cast(pl.Int64), *frame.columns
        )
        write_frame(conn, REPORT_TABLES[name], lines)


def kept_reports(conn: sa.Connection, ingest_id: int, schemas: dict[str, Schema]) -> dict[str, pl.DataFrame]:
    """The reports kept for ``ingest_id`` (``schemas``: each report's name -> its columns), lines in order."""
    kept = {}
    for name, schema in schemas.items():
        columns = ", ".join(_quote(c) for c in schema)
        query = f"SELECT {columns} FROM {REPORT_TABLES[name]} WHERE ingest_id = :ingest ORDER BY line"
        kept[name] = read_frame(conn, query, schema, {"ingest": ingest_id})
    return kept


def portfolios_of_seller(conn: sa.Connection, seller: str | None) -> list[str]:
    """The portfolios bought from ``seller`` (None: those stored without a seller's name)."""
    table = Portfolio.__table__
    where = table.c.seller.is_(None) if seller is None else table.c.seller == seller
    return list(conn.execute(sa.select(table.c.portfolio_id).where(where).order_by(table.c.portfolio_id)).scalars())


CLAIM_KEY_SCHEMA: Schema = {
    "portfolio_id": pl.String(),
    "seller_ref": pl.String(),
    "claim_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "principal": pl.Int64(),
    "due_date": pl.Date(),
}


def claims_with_seller_refs(conn: sa.Connection, portfolio_ids: list[str], seller_refs: pl.Series) -> pl.DataFrame:
    """The claims of these portfolios with one of ``seller_refs`` (CLAIM_KEY_SCHEMA), found by the
    unique (portfolio_id, seller_ref) index: one pass over the refs for all the portfolios."""
    params = {f"p{i}": p for i, p in enumerate(portfolio_ids)}
    where = f" AND portfolio_id IN ({', '.join(f':{k}' for k in params)})"
    return _lookup_with(conn, "claims", "seller_ref", seller_refs, CLAIM_KEY_SCHEMA, where, params)


def national_ids(conn: sa.Connection, debtor_ids: pl.Series) -> pl.DataFrame:
    """(debtor_id, national_id) of these stored debtors (a claim stored by `cession load` has no debtor row)."""
    return _lookup_with(
        conn, "debtors", "debtor_id", debtor_ids, {"debtor_id": pl.Int64(), "national_id": pl.String()}, "", {}
    )
