"""Whole tables between polars and SQL without going row by row through the ORM.

PostgreSQL: polars writes CSV (in Rust) straight into ``COPY ... FROM STDIN`` (psycopg 3), and
``COPY (SELECT ...) TO STDOUT`` comes back through polars' CSV reader with the schema given, so
no value is guessed. SQLite: batched ``executemany`` in and ``fetchmany`` out. Both take the
caller's connection and never commit: the caller's transaction decides what becomes visible.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import polars as pl
import sqlalchemy as sa

#: Rows per COPY write or executemany call; also the unit of ``on_batch`` callbacks.
BATCH_ROWS = 200_000

Schema = dict[str, pl.DataType]
OnBatch = Callable[[int], None]


def is_postgres(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_sql_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs as JSON text: SQL keeps them in JSON columns."""
    nested = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    if not nested:
        return frame
    return frame.with_columns(
        pl.col(c).map_elements(lambda v: json.dumps(list(v) if not isinstance(v, dict) else v), return_dtype=pl.String)
        for c in nested
    )


def write_frame(
    conn: sa.Connection, table: str, frame: pl.DataFrame, *, on_batch: OnBatch | None = None
) -> int:
    """Append every row of ``frame`` to ``table`` (columns by name) in the open transaction."""
    frame = _as_sql_text(frame)
    columns = ", ".join(_quote(c) for c in frame.columns)
    written = 0
    if is_postgres(conn):
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {_quote(table)} ({columns}) FROM STDIN (FORMAT CSV)") as copy:
            for rows, data in _csv_batches(frame):
                copy.write(data)
                written += rows
                if on_batch is not None:
                    on_batch(written)
        return written
    as_text = frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"), pl.col(pl.Boolean).cast(pl.Int8))
    marks = ", ".join("?" for _ in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        for batch in as_text.iter_slices(BATCH_ROWS):
            cursor.executemany(f"INSERT INTO {_quote(table)} ({columns}) VALUES ({marks})", batch.iter_rows())
            written += batch.height
            if on_batch is not None:
                on_batch(written)
    finally:
        cursor.close()
    return written


def _csv(batch: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    batch.write_csv(buffer, include_header=False, date_format="%Y-%m-%d")
    return buffer.getvalue()


def _csv_batches(frame: pl.DataFrame) -> Iterator[tuple[int, bytes]]:
    """(rows, CSV bytes) per batch, the next batch written (by polars, off the GIL) while the
    server takes in this one."""
    batches = frame.iter_slices(BATCH_ROWS)
    with ThreadPoolExecutor(max_workers=1) as pool:
        batch = next(batches, None)
        ahead = pool.submit(_csv, batch) if batch is not None else None
        while ahead is not None:
            rows, data = batch.height, ahead.result()
            batch = next(batches, None)
            ahead = pool.submit(_csv, batch) if batch is not None else None
            yield rows, data


def read_frame(conn: sa.Connection, query: str, schema: Schema, params: dict | None = None) -> pl.DataFrame:
    """The rows of ``query`` (named ``:params``) as a frame of exactly ``schema`` (its columns in order)."""
    if is_postgres(conn):
        compiled = sa.text(query).bindparams(**(params or {})).compile(
            dialect=conn.dialect, compile_kwargs={"literal_binds": True}
        )
        buffer = io.BytesIO()
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ({compiled}) TO STDOUT (FORMAT CSV)") as copy:
            for block in copy:
                buffer.write(block)
        if buffer.tell() == 0:
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        # PostgreSQL's CSV spells booleans t/f
        as_read = {c: (pl.String if isinstance(t, pl.List) or t == pl.Boolean() else t) for c, t in schema.items()}
        frame = pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=as_read, try_parse_dates=False)
        frame = frame.with_columns(pl.col(c) == "t" for c, t in schema.items() if t == pl.Boolean())
        return _from_json(frame, schema)
    as_read = {c: (pl.String if t == pl.Date() or isinstance(t, pl.List) else t) for c, t in schema.items()}
    cursor = conn.connection.driver_connection.cursor()  # sqlite3 takes :name parameters itself
    chunks = []
    try:
        cursor.execute(query, params or {})
        while rows := cursor.fetchmany(BATCH_ROWS):
            chunks.append(pl.DataFrame(rows, schema=as_read, orient="row"))
    finally:
        cursor.close()
    frame = pl.concat(chunks) if chunks else pl.DataFrame(schema=as_read)
    frame = frame.with_columns(pl.col(c).str.to_date("%Y-%m-%d") for c, t in schema.items() if t == pl.Date())
    return _from_json(frame, schema)


def _from_json(frame: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    nested = {c: t for c, t in schema.items() if isinstance(t, pl.List)}
    if not nested:
        return frame
    return frame.with_columns(pl.col(c).str.json_decode(t) for c, t in nested.items())


def read_snapshot(engine: sa.Engine, queries: dict[str, tuple[str, Schema, dict | None]]) -> dict[str, pl.DataFrame]:
    """Several large reads as of one moment: {name: (query, schema, params)} -> {name: frame}.

    PostgreSQL: one connection exports a snapshot and each query runs on its own ADBC connection
    in that snapshot (Arrow straight from binary COPY), all at once; SQLite: one read transaction."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            return {name: read_frame(conn, q, schema, params) for name, (q, schema, params) in queries.items()}
    import adbc_driver_postgresql.dbapi as adbc

    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()

        def read(item: tuple[str, tuple[str, Schema, dict | None]]) -> tuple[str, pl.DataFrame]:
            name, (query, schema, params) = item
            literal = str(sa.text(query).bindparams(**(params or {})).compile(
                dialect=engine.dialect, compile_kwargs={"literal_binds": True}))  # fmt: skip
            with adbc.connect(uri) as reader, reader.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                # a scan joining another one midway would hand rows over rotated, out of order
                cursor.execute("SET LOCAL synchronize_seqscans = off")
                cursor.execute(literal)
                table = cursor.fetch_arrow_table()
            frame = pl.from_arrow(table.replace_schema_metadata(None))
            return name, frame.select(pl.col(c).cast(t) for c, t in schema.items())

        with ThreadPoolExecutor(max_workers=len(queries)) as pool:
            return dict(pool.map(read, queries.items()))
