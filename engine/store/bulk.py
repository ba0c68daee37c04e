"""Whole tables between polars and SQL without going row by row through the ORM.

PostgreSQL: rows go into ``COPY ... FROM STDIN`` (psycopg 3) in the binary format (encoded in numba,
a frame ahead; CSV from polars for a table with types it does not cover, such as JSON), and
``COPY (SELECT ...) TO STDOUT`` comes back through polars' CSV reader with the schema given, so
no value is guessed; large reads (``read_snapshot``) come as Arrow over ADBC, several at once in
one exported snapshot. SQLite: batched ``executemany`` in and ``fetchmany`` out. Both take the
caller's connection and never commit: the caller's transaction decides what becomes visible.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa
import sqlalchemy as sa

from engine.prefetch import ahead

log = logging.getLogger(__name__)

#: Rows per COPY write or executemany call; also the unit of ``on_batch`` callbacks.
BATCH_ROWS = 200_000

Schema = dict[str, pl.DataType]
OnBatch = Callable[[int], None]


def is_postgres(conn: sa.Connection | sa.Engine) -> bool:
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


def write_frame(conn: sa.Connection, table: str, frame: pl.DataFrame, *, on_batch: OnBatch | None = None) -> int:
    """Append every row of ``frame`` to ``table`` (columns by name) in the open transaction."""
    return write_frames(conn, table, frame.iter_slices(BATCH_ROWS), on_batch=on_batch)


def write_frames(
    conn: sa.Connection, table: str, frames: Iterable[pl.DataFrame], *, on_batch: OnBatch | None = None
) -> int:
    """Append every row of each of ``frames`` (columns by name) to ``table`` in the open transaction.

    PostgreSQL: one ``COPY`` for as long as the frames' columns and types stay the same (as a rule,
    all of them). Each frame is taken from ``frames`` (a generator may do work of its own, such as
    reading a file) and encoded on a thread while the server takes in the one before, so the
    server is not kept waiting between frames. ``on_batch`` gets the rows written so far."""
    written = 0
    if not is_postgres(conn):
        for frame in frames:
            written += _insert(conn, table, frame, lambda n, before=written: on_batch(before + n) if on_batch else None)
        return written
    known = _column_types(conn, table)  # here, not on the encoding thread: the connection is this thread's

    def encoded(frame: pl.DataFrame) -> tuple[tuple[str, ...], list[str] | None, int, bytes]:
        frame = _as_sql_text(frame)
        types = _binary_types(known, frame)
        return tuple(frame.columns), types, frame.height, _binary(frame, types) if types else _csv(frame)

    cursor = conn.connection.driver_connection.cursor()
    with ExitStack() as open_copy:
        copy, layout = None, None
        for columns, types, rows, data in ahead(map(encoded, frames), "copy-encode"):
            if (columns, types is None) != layout:
                open_copy.close()
                copy = open_copy.enter_context(
                    cursor.copy(
                        f"COPY {_quote(table)} ({', '.join(_quote(c) for c in columns)}) FROM STDIN "
                        f"(FORMAT {'CSV' if types is None else 'BINARY'})"
                    )
                )
                if types is not None:
                    copy.write(PG_COPY_HEADER)
                    # the trailer before the COPY ends (exits run last in, first out), unless it failed
                    open_copy.push(lambda kind, *_, c=copy: None if kind is not None else c.write(PG_COPY_TRAILER))
                layout = (columns, types is None)
            copy.write(data)
            written += rows
            if on_batch is not None:
                on_batch(written)
    return written


def analyze(engine: sa.Engine, tables: Iterable[str]) -> None:
    """PostgreSQL: ``ANALYZE`` these tables (after a bulk write, so the planner knows their sizes
    and values without waiting for autovacuum), each in a transaction of its own."""
    if engine.dialect.name != "postgresql":
        return
    for table in tables:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"ANALYZE {_quote(table)}")


def _insert(conn: sa.Connection, table: str, frame: pl.DataFrame, on_batch: OnBatch) -> int:
    """SQLite: ``frame``'s rows by executemany, BATCH_ROWS at a time."""
    frame = _as_sql_text(frame)
    columns = ", ".join(_quote(c) for c in frame.columns)
    as_text = frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"), pl.col(pl.Boolean).cast(pl.Int8))
    marks = ", ".join("?" for _ in frame.columns)
    cursor = conn.connection.driver_connection.cursor()
    written = 0
    try:
        for batch in as_text.iter_slices(BATCH_ROWS):
            cursor.executemany(f"INSERT INTO {_quote(table)} ({columns}) VALUES ({marks})", batch.iter_rows())
            written += batch.height
            on_batch(written)
    finally:
        cursor.close()
    return written


#: PostgreSQL binary COPY: the file header, the trailer, and the fixed-width types we encode
#: (text, and jsonb from JSON text; anything else goes as CSV).
PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
PG_COPY_TRAILER = b"\xff\xff"
PG_EPOCH_DAY = 10_957  # 2000-01-01 as days since 1970-01-01
_WIDTH = {"bigint": 8, "integer": 4, "smallint": 2, "date": 4, "boolean": 1}
_TEXT = ("text", "character varying")
_JSONB_VERSION = "\x01"


def _column_types(conn: sa.Connection, table: str) -> dict[str, str]:
    """Column -> its PostgreSQL type, of ``table``."""
    return dict(
        conn.exec_driver_sql(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
            f"WHERE attrelid = '{_quote(table)}'::regclass AND attnum > 0 AND NOT attisdropped"
        ).all()
    )


def _binary_types(types: dict[str, str], frame: pl.DataFrame) -> list[str] | None:
    """The PostgreSQL types (``types``: of the table) of the columns of ``frame`` if binary COPY
    can take them all as they are, else None (then CSV, and the server converts or refuses the
    text as usual)."""
    found = [types.get(c) for c in frame.columns]
    for (name, dtype), kind in zip(frame.schema.items(), found, strict=True):
        if kind in _TEXT and dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            continue
        if kind == "jsonb" and dtype == pl.String:
            continue
        if kind == "date" and dtype == pl.Date or kind == "boolean" and dtype == pl.Boolean:
            continue
        if kind in _WIDTH and kind not in ("date", "boolean") and dtype.is_integer():
            limit = 2 ** (8 * _WIDTH[kind] - 1)
            low, high = frame.get_column(name).min(), frame.get_column(name).max()
            if low is None or (-limit <= low and high < limit):
                continue
        return None
    return found


def _put_fixed(buf, pos, values, valid):  # pragma: no cover - numba
    width = values.shape[1]
    for i in range(pos.shape[0]):
        p = pos[i]
        if valid[i]:
            buf[p], buf[p + 1], buf[p + 2], buf[p + 3] = 0, 0, 0, width
            for k in range(width):
                buf[p + 4 + k] = values[i, k]
            pos[i] = p + 4 + width
        else:
            buf[p], buf[p + 1], buf[p + 2], buf[p + 3] = 255, 255, 255, 255
            pos[i] = p + 4


def _put_text(buf, pos, offsets, data, valid):  # pragma: no cover - numba
    for i in range(pos.shape[0]):
        p = pos[i]
        if valid[i]:
            start, n = offsets[i], offsets[i + 1] - offsets[i]
            buf[p], buf[p + 1], buf[p + 2], buf[p + 3] = (n >> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255
            for k in range(n):
                buf[p + 4 + k] = data[start + k]
            pos[i] = p + 4 + n
        else:
            buf[p], buf[p + 1], buf[p + 2], buf[p + 3] = 255, 255, 255, 255
            pos[i] = p + 4


@cache
def _encoders():
    """(_put_fixed, _put_text) compiled (numba, cached on disk): numba is imported at the first
    write, not with this module (a reader such as `cession allocate` loads it in a thread of its
    own while it reads: allocation.pool.warm_up)."""
    from numba import njit

    compile_ = njit(cache=True, nogil=True)
    return compile_(_put_fixed), compile_(_put_text)


def _binary(batch: pl.DataFrame, types: list[str]) -> bytes:
    """``batch`` as tuples of PostgreSQL's binary COPY format (no header, no trailer): per row the
    field count, then per field its length (-1: NULL) and its big-endian bytes."""
    n = batch.height
    sizes = np.full(n, 2, dtype=np.int64)
    fields = []
    for name, kind in zip(batch.columns, types, strict=True):
        column = batch.get_column(name)
        valid = column.is_not_null().to_numpy()
        if kind in _TEXT or kind == "jsonb":
            text = column.cast(pl.String)
            if kind == "jsonb":  # jsonb's binary form: a version byte (1), then the JSON text
                text = pl.select(pl.concat_str(pl.lit(_JSONB_VERSION), text)).to_series()
            text = text.to_arrow()
            text = (text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text).cast(pa.large_string())
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + n + 1]
            data = (
                np.frombuffer(text.buffers()[2], dtype=np.uint8)
                if text.buffers()[2] is not None
                else np.zeros(0, np.uint8)
            )
            sizes += 4 + np.where(valid, np.diff(offsets), 0)
            fields.append((offsets, data, valid))
            continue
        width = _WIDTH[kind]
        if kind == "date":
            column = column.to_physical().cast(pl.Int64) - PG_EPOCH_DAY
        values = column.fill_null(0).cast(pl.Int64).to_numpy().astype(f">i{width}" if width > 1 else np.uint8)
        sizes += 4 + np.where(valid, width, 0)
        fields.append((np.ascontiguousarray(values).view(np.uint8).reshape(n, width), valid))
    pos = np.zeros(n, dtype=np.int64)
    np.cumsum(sizes[:-1], out=pos[1:])
    buf = np.empty(int(sizes.sum()), dtype=np.uint8)
    count = np.array([len(types)], dtype=">i2").view(np.uint8)
    buf[pos] = count[0]
    buf[pos + 1] = count[1]
    pos += 2
    put_fixed, put_text = _encoders()
    for field in fields:
        if len(field) == 3:
            put_text(buf, pos, *field)
        else:
            put_fixed(buf, pos, *field)
    return buf.tobytes()


def _csv(batch: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    batch.write_csv(buffer, include_header=False, date_format="%Y-%m-%d")
    return buffer.getvalue()


def read_frame(conn: sa.Connection, query: str, schema: Schema, params: dict | None = None) -> pl.DataFrame:
    """The rows of ``query`` (named ``:params``) as a frame of exactly ``schema`` (its columns in order)."""
    if is_postgres(conn):
        compiled = (
            sa.text(query)
            .bindparams(**(params or {}))
            .compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
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


def in_id_order(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` sorted by the int64 ``column``; a frame already in order (one linear check) as is."""
    ids = frame.get_column(column).to_numpy()
    return frame if bool(np.all(ids[1:] > ids[:-1])) else frame.sort(column)


#: A transaction that reads as of one moment (and may export it, or join an exported one).
SNAPSHOT_ISOLATION = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"


@contextmanager
def exported_snapshot(engine: sa.Engine) -> Iterator[str | None]:
    """PostgreSQL: the id of a snapshot that other connections join (``read_snapshot``'s
    ``snapshot``, in this process or on Ray workers), held open until the block ends; SQLite:
    None (there a read is one transaction)."""
    if engine.dialect.name != "postgresql":
        yield None
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(SNAPSHOT_ISOLATION)
        snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        log.debug("exported snapshot %s", snapshot)
        yield snapshot


def read_snapshot(
    engine: sa.Engine,
    queries: dict[str, tuple[str, Schema, dict | None]],
    snapshot: str | None = None,
    settings: dict[str, str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Several large reads as of one moment: {name: (query, schema, params)} -> {name: frame}.

    PostgreSQL: each query on its own ADBC connection (Arrow straight from binary COPY), all at
    once, in ``snapshot`` (from ``exported_snapshot``: every reader of a run sees the same moment)
    or else in one exported here, with the planner's ``settings`` (``SET LOCAL``, each read's
    transaction only); SQLite: one read transaction."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            return {name: read_frame(conn, q, schema, params) for name, (q, schema, params) in queries.items()}
    if snapshot is None:
        with exported_snapshot(engine) as exported:
            return read_snapshot(engine, queries, exported, settings)
    import adbc_driver_postgresql.dbapi as adbc

    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def read(item: tuple[str, tuple[str, Schema, dict | None]]) -> tuple[str, pl.DataFrame]:
        name, (query, schema, params) = item
        literal = str(
            sa.text(query)
            .bindparams(**(params or {}))
            .compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
        )
        with adbc.connect(uri) as reader, reader.cursor() as cursor:
            cursor.execute(SNAPSHOT_ISOLATION)
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            # a scan joining another one midway would hand rows over rotated, out of order
            cursor.execute("SET LOCAL synchronize_seqscans = off")
            for setting, value in (settings or {}).items():
                cursor.execute(f"SET LOCAL {setting} = {value}")
            cursor.execute(literal)
            table = cursor.fetch_arrow_table()
        frame = pl.from_arrow(table.replace_schema_metadata(None))
        return name, frame.select(pl.col(c).cast(t) for c, t in schema.items())

    if len(queries) == 1:
        return dict(map(read, queries.items()))
    with ThreadPoolExecutor(max_workers=len(queries)) as pool:
        return dict(pool.map(read, queries.items()))


@contextmanager
def snapshot_reads(engine: sa.Engine) -> Iterator[Callable[[dict], dict[str, pl.DataFrame]]]:
    """A reader of ``read_snapshot``'s queries that reads as of one moment however many times it is
    called in the block (a small read first that decides what the large ones are, say).
    PostgreSQL: one exported snapshot; SQLite: one read transaction."""
    if engine.dialect.name == "postgresql":
        with exported_snapshot(engine) as snapshot:
            yield lambda queries: read_snapshot(engine, queries, snapshot)
        return
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        raw.execute("BEGIN")  # deferred: a read transaction (SQLAlchemy's own begins IMMEDIATE, a write)
        try:
            yield lambda queries: {name: read_frame(conn, q, schema, p) for name, (q, schema, p) in queries.items()}
        finally:
            raw.execute("ROLLBACK")
