"""The journal to a file, by its extension: Parquet (money in grosz, int64), CSV (PLN with two
decimals, "1234.56", UTF-8, comma-separated) or XLSX (PLN as numbers shown with two decimals).

A file is written whole or not at all: to ``.NAME.PID.partial`` beside it, then moved into place
(``os.replace``); a failure or a kill leaves the previous file as it was (what a killed command
leaves beside it is swept by the next, engine/store/scratch.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from engine.errors import InputError

FORMATS = {".parquet": "Parquet", ".csv": "CSV", ".xlsx": "XLSX"}
#: lines an XLSX sheet holds (1 048 576 rows, one the header)
XLSX_MAX_LINES = 1_048_575
MONEY = ("debit", "credit")
#: zstd's fastest level: ~13 % less CPU than polars' default (3) for a file ~3.5 % larger
ZSTD_LEVEL = 1


def format_of(path: Path, option: str = "--out") -> str:
    """The format named by ``path``'s extension, else an InputError naming the choices."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{option} {path}: give a file ending in .parquet, .csv or .xlsx (the format follows it)")
    return suffix


def pln(column: str) -> pl.Expr:
    """grosz (>= 0 or not) as "1234.56"."""
    g = pl.col(column)
    sign = pl.when(g < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole = (g.abs() // 100).cast(pl.String)
    cents = (g.abs() % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str(sign, whole, pl.lit("."), cents).alias(column)


def write(
    frame: pl.DataFrame | pl.LazyFrame,
    path: Path,
    sheet: str = "journal",
    money: tuple[str, ...] = MONEY,
    height: int | None = None,
) -> None:
    """``frame`` (money columns in grosz) to ``path`` in the format of its extension, atomically.
    A lazy ``frame`` (of ``height`` rows) is written to Parquet and CSV as it is computed, never
    whole in memory."""
    suffix = format_of(path)
    height = frame.height if isinstance(frame, pl.DataFrame) else height
    if suffix == ".xlsx" and height is not None and height > XLSX_MAX_LINES:
        raise InputError(
            f"--out {path}: {height} lines do not fit an XLSX sheet ({XLSX_MAX_LINES} at most); write .parquet or .csv"
        )
    if isinstance(frame, pl.LazyFrame) and suffix == ".xlsx":
        frame = frame.collect()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        if isinstance(frame, pl.LazyFrame) and suffix == ".parquet":
            frame.sink_parquet(partial, compression="zstd", compression_level=ZSTD_LEVEL, statistics=True)
        elif isinstance(frame, pl.LazyFrame):
            frame.with_columns([pln(c) for c in money]).sink_csv(partial, date_format="%Y-%m-%d")
        elif suffix == ".parquet":
            frame.write_parquet(partial, compression="zstd", compression_level=ZSTD_LEVEL, statistics=True)
        elif suffix == ".csv":
            frame.with_columns([pln(c) for c in money]).write_csv(partial, date_format="%Y-%m-%d")
        else:
            as_numbers = frame.with_columns([(pl.col(c) / 100).alias(c) for c in money])
            as_numbers.write_excel(
                partial,
                worksheet=sheet,
                column_formats={c: "#,##0.00" for c in money},
                dtype_formats={pl.Date: "yyyy-mm-dd"},
                autofit=frame.height <= 10_000,
            )
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
