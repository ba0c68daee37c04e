"""Column copies: a large table's rows kept beside it as Arrow, one compressed blob per column
(``column_copies``, migration 0022), for the readers that take whole columns of millions of rows.

Reading 10M rows of a few columns through PostgreSQL's COPY costs ~0.2 µs a row and ~0.07 µs a
value in the client, and as much in the server (BENCHMARKS.md, allocation): ~12 s for the
state's eight columns. The same columns as zstd-compressed Arrow IPC streams are ~130 MB read in
under a second and decoded in about as much. A copy is named by its ``source`` (a table) and a
``version``, and is only ever read for the version the reader sees in its snapshot, so it never
disagrees with its table:

- ``claim_state``: version = the run's id. Written by the run in its storing transaction (it
  commits with the state, or not at all) and deleted with the run's rows once superseded
  (engine/store/runs.py).
- ``claims``, ``debtors``: version = ``table_versions.version``, which a trigger on the table moves
  on by every statement that writes it (INSERT, UPDATE, DELETE, and TRUNCATE on PostgreSQL). A
  reader that finds no copy of the version it sees reads the table, and may then keep what it read
  as the copy of that version (``keep``); older versions' copies are deleted then.

The rows are in the order the writer gave (the readers here write them by id). A column of a
copy is one blob: a PostgreSQL ``bytea`` holds up to 1 GB, ~100M rows of an int64 column
uncompressed.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import pyarrow as pa
import sqlalchemy as sa

log = logging.getLogger(__name__)

#: the sources whose version a trigger keeps (``table_versions``). A SQLite migration that
#: recreates one of these tables (``batch_alter_table``) drops its triggers and must make them
#: again (tests/allocation/test_copies.py checks they are there at the head)
VERSIONED = ("claims", "debtors")
#: the columns of claim_state a run keeps as its copy: those the readers of the whole book take
#: (allocation), with the portfolio of each row
STATE_COLUMNS = (
    "claim_id",
    "portfolio_id",
    "total_due",
    "principal_due",
    "days_past_due",
    "limitation_date",
    "time_barred",
)


def enabled() -> bool:
    """Whether copies are kept and read (``CESSION_COLUMN_COPIES``, engine/settings.py)."""
    from engine.settings import COPIES, read

    return read(COPIES).column_copies


def encode(column: pl.Series) -> bytes:
    """One column as an Arrow IPC stream, zstd-compressed (categoricals as dictionaries), by
    polars itself (no pyarrow memory: its pool keeps what it freed, which a 10M read felt as ~1 GB
    more peak RSS)."""
    sink = io.BytesIO()
    column.to_frame().write_ipc_stream(sink, compression="zstd")
    return sink.getvalue()


def decode(blob: bytes) -> pl.Series:
    """``encode``'s column back."""
    return pl.read_ipc_stream(io.BytesIO(blob)).to_series()


def encoded(frame: pl.DataFrame) -> dict[str, bytes]:
    """Every column of ``frame``, ``encode``d (on threads: polars compresses without the GIL)."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="copy-encode") as pool:
        return dict(zip(frame.columns, pool.map(encode, frame.get_columns()), strict=True))


def decoded(blobs: dict[str, bytes]) -> pl.DataFrame:
    """The frame of ``encoded``'s blobs, its columns in the order given."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="copy-decode") as pool:
        return pl.DataFrame(list(pool.map(decode, blobs.values())))


def write(conn: sa.Connection, source: str, version: int, blobs: dict[str, bytes], rows: int) -> None:
    """Store ``blobs`` (``encoded``) as the copy of ``source`` at ``version`` in ``conn``'s
    transaction; a copy of that version stored already (by another reader) is left as it is."""
    statement = "INSERT INTO column_copies (source, version, column_name, rows, data) VALUES (:s, :v, :c, :r, :d)"
    # a claims' or debtors' copy of one version may be kept by two readers at once: the first stays
    # (a run's is written once, by the run: a second one would be a bug, refused by the key)
    if source in VERSIONED:
        statement += " ON CONFLICT DO NOTHING"  # PostgreSQL and SQLite (3.24 on) alike
    conn.execute(
        sa.text(statement),
        [{"s": source, "v": version, "c": name, "r": rows, "d": blob} for name, blob in blobs.items()],
    )


def read_query(source: str, versions: list[int], columns: list[str]) -> str:
    """The query (for ``engine.store.bulk.read_snapshot``) of the blobs of ``columns`` of the
    copies of ``source`` at ``versions``: version, column_name, data."""
    names = ", ".join(f"'{c}'" for c in columns)
    return (
        f"SELECT version, column_name, data FROM column_copies WHERE source = '{source}' "
        f"AND version IN ({', '.join(str(int(v)) for v in versions)}) AND column_name IN ({names})"
    )


#: ``read_query``'s rows, as read
READ_SCHEMA = {"version": pl.Int64, "column_name": pl.String, "data": pl.Binary}


def frames(read: pl.DataFrame, columns: list[str]) -> dict[int, pl.DataFrame]:
    """``read_query``'s rows as a frame per version, ``columns`` in order. A version missing one
    of them is left out (the reader reads the table instead)."""
    found: dict[int, pl.DataFrame] = {}
    for version in read["version"].unique().sort().to_list():
        blobs = read.filter(pl.col("version") == version)
        named = dict(zip(blobs["column_name"], blobs["data"], strict=True))
        if all(c in named for c in columns):
            found[int(version)] = decoded({c: named[c] for c in columns})
    pa.default_memory_pool().release_unused()  # the blobs as read (ADBC reads into pyarrow's pool)
    return found


#: the current version of each of ``VERSIONED`` (as the reader's snapshot sees it)
VERSIONS_SQL = "SELECT table_name, version FROM table_versions"


def versions(conn: sa.Connection) -> dict[str, int]:
    """``VERSIONS_SQL`` read on ``conn``: table -> version."""
    return {name: int(v) for name, v in conn.exec_driver_sql(VERSIONS_SQL)}


def keep(engine: sa.Engine, source: str, version: int, frame: pl.DataFrame) -> None:
    """``frame`` (what a reader read of ``source`` as of ``version``) kept as that version's copy,
    and the copies of older versions deleted, in a transaction of its own. Nothing is written if
    ``source`` has moved on since (the copy would never be read). A copy is a cache: failing to
    keep one (the store busy, out of space) is logged, and the reader goes on with what it read."""
    try:
        blobs = encoded(frame)
        with engine.begin() as conn:
            current = versions(conn).get(source)
            if current != version:
                return
            conn.execute(
                sa.text("DELETE FROM column_copies WHERE source = :s AND version < :v"), {"s": source, "v": version}
            )
            write(conn, source, version, blobs, frame.height)
    except Exception as error:  # a cache not written is no reason to stop
        log.warning(
            "the %s copy of version %d was not kept (%s); the next reader reads the table", source, version, error
        )


def drop_superseded_state(conn: sa.Connection) -> None:
    """The state copies of runs no portfolio points at, deleted."""
    conn.exec_driver_sql(
        "DELETE FROM column_copies WHERE source = 'claim_state' AND version NOT IN "
        "(SELECT current_run_id FROM portfolios WHERE current_run_id IS NOT NULL)"
    )
