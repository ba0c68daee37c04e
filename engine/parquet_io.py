"""Parquet in and out: the engine's columns of docs/data-contract.md files (whole, or a slice at a
time), and claim_state written to a file that appears complete or not at all.

``ClaimStateWriter`` writes claim_state a part at a time and adds its provenance when it closes;
``Staged`` holds the outputs of a run (one file, or a folder of a file per day) beside their
final place until every one of them is complete, then moves them there.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa

from engine.kernel_run import CHUNK
from engine.metadata import METADATA_KEY, provenance
from engine.prefetch import ahead
from engine.schema import CLAIM_STATE, CLAIMS, EVENTS, engine_columns

log = logging.getLogger(__name__)

#: Rows per slice when Parquet files are read a slice at a time (``stream_state``, ``prepare_files``).
#: Measured at 10M claims (BENCHMARKS.md): 2^18, 2^19 and 2^20 rows are about as quick; peak memory
#: ~0.6, ~0.9 and ~1.4 GB.
FILE_BATCH_ROWS = 1 << 19


class ReadWhole(Exception):
    """The files need the whole-frame path (``inputs.prepare``): for an exact error over the whole
    input, or to sort them."""


def engine_columns_in(path: str | Path, table: str) -> list[str]:
    """The columns of ``table`` the engine reads that the file has (a missing one is left for the
    engine's own error, which names it)."""
    present = set(pl.read_parquet_schema(path))
    return [c for c in engine_columns(CLAIMS if table == "claims" else EVENTS, table) if c in present]


def read_engine_columns(path: str | Path, table: str) -> pl.DataFrame:
    """The columns of a docs/data-contract.md Parquet file that the engine reads."""
    return pl.read_parquet(path, columns=engine_columns_in(path, table))


def rows_in(path: str | Path) -> int:
    """The number of rows of a Parquet file (from its footer)."""
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


def slices(path: str | Path, table: str) -> Iterator[pl.DataFrame]:
    """The engine's columns of a Parquet file, FILE_BATCH_ROWS rows at a time (polars reads only
    the row groups a slice needs, and decodes them in parallel). The next slice is decoded on a
    thread (polars, off the GIL) while this one is used."""
    n = rows_in(path)
    scan = pl.scan_parquet(path).select(engine_columns_in(path, table))
    yield from ahead(
        (scan.slice(start, FILE_BATCH_ROWS).collect() for start in range(0, n, FILE_BATCH_ROWS)), "parquet-slices"
    )


def parquet_options(schema: pa.Schema) -> dict:
    """How claim_state is written to Parquet: see ``write_state_parquet``."""
    integers = [f.name for f in schema if pa.types.is_integer(f.type)]
    return dict(
        compression="zstd",
        compression_level=1,
        use_dictionary=False,
        column_encoding=dict.fromkeys(integers, "DELTA_BINARY_PACKED"),
    )


class ClaimStateWriter:
    """claim_state written to a Parquet file a part at a time, its provenance added when it is
    closed (so a table put together from parts, whose provenance is known only at the end, is
    written as it arrives). The format is ``write_state_parquet``'s: the provenance is the file's
    key-value metadata, which readers give back as the schema's metadata (the Arrow schema itself
    is not stored: every column of claim_state is a plain Parquet type)."""

    def __init__(self, path: str | Path, final: str | Path | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.final = Path(final) if final is not None else None
        self._file = pq.ParquetWriter(self.path, CLAIM_STATE, store_schema=False, **parquet_options(CLAIM_STATE))

    @classmethod
    def beside(cls, final: str | Path | None) -> ClaimStateWriter | None:
        """A writer on a file staged beside ``final`` and moved there by ``close`` (so ``final``
        appears complete or not at all); None where there is no file to write."""
        if final is None:
            return None
        final = Path(final)
        return cls(final.with_name(f".{final.name}.{os.getpid()}.partial"), final)

    def write(self, table: pa.Table, row_group_size: int = CHUNK) -> None:
        self._file.write_table(table.replace_schema_metadata(None), row_group_size=row_group_size)

    def close(self, provenance: dict) -> None:
        self._file.add_key_value_metadata({METADATA_KEY: json.dumps(provenance)})
        self._file.close()
        if self.final is not None:
            os.replace(self.path, self.final)

    def abandon(self) -> None:
        """Close without finishing (after a failure) and remove the file."""
        self._file.close()
        self.path.unlink(missing_ok=True)


def write_state_parquet(table: pa.Table, path: str | Path) -> None:
    """claim_state (with its provenance) to a Parquet file that appears complete or not at all:
    integer columns delta-encoded, zstd level 1, no dictionaries. Of the settings measured on 10M
    claims (BENCHMARKS.md) the smallest file (about 26 bytes a claim) and among the quickest to
    write."""
    writer = ClaimStateWriter.beside(path)
    try:
        writer.write(table)
    except BaseException:
        writer.abandon()
        raise
    writer.close(provenance(table))


def state_file_name(day: date) -> str:
    """The file of one day's claim_state in a folder of a series."""
    return f"state-{day.isoformat()}.parquet"


class Staged:
    """Outputs written beside their final place and moved there only by ``commit``; a run that
    fails leaves the previous files as they were (and no staged leftovers). ``out`` is one file,
    or (``folder``) a folder of files by name."""

    def __init__(self, out: str | Path, folder: bool) -> None:
        self.out, self.folder = Path(out), folder
        self.dir = self.out.parent / f".{self.out.name}.staging-{os.getpid()}"
        self.files: list[tuple[Path, Path]] = []

    def open(self, name: str | None = None) -> ClaimStateWriter:
        """A ``ClaimStateWriter`` on the staged file of ``name`` (a folder's file; else ``out``)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.out / name if self.folder and name else self.out
        staged = self.dir / final.name
        self.files.append((staged, final))
        return ClaimStateWriter(staged)

    def commit(self) -> None:
        if self.folder and not self.out.exists() and self.dir.exists():  # a new folder appears whole, in one rename
            os.replace(self.dir, self.out)
            log.debug("wrote %s", self.out)
            return
        if self.folder:
            self.out.mkdir(parents=True, exist_ok=True)
        for staged, final in self.files:
            os.replace(staged, final)
            log.debug("wrote %s", final)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
