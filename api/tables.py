"""Tables written to files for people and other programs: the format by the file's extension, the
file appearing complete or not at all.

| extension | written as | money columns (grosz inside) |
|---|---|---|
| ``.parquet`` | Parquet (zstd) | integer grosz |
| ``.csv`` | UTF-8 CSV, ``,`` separated, header row | PLN with two decimals, ``1234.56`` |
| ``.xlsx`` | an Excel workbook, one sheet | PLN as numbers with two decimals |

The file is written beside its place as ``.NAME.PID.partial`` and moved there in one rename: a
killed command leaves the previous file as it was, and its leftover is swept by the next command
that writes there (``engine.store.scratch.sweep_outputs``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from engine.errors import InputError

FORMATS = (".parquet", ".csv", ".xlsx")


def table_format(path: Path, option: str = "--out") -> str:
    """The format of ``path`` by its extension, or ``InputError`` naming ``option``."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{option} {path}: write .parquet, .csv or .xlsx (by the file's extension)")
    return suffix


def in_pln(frame: pl.DataFrame, money: Iterable[str]) -> pl.DataFrame:
    """Money columns (integer grosz) as PLN decimals with two places (exact: Decimal, not float)."""
    return frame.with_columns(
        (pl.col(c).cast(pl.Decimal(20, 0)) / 100).cast(pl.Decimal(20, 2)).alias(c) for c in money if c in frame.columns
    )


def write_table(frame: pl.DataFrame, path: Path, *, money: Iterable[str] = (), sheet: str = "Sheet1") -> None:
    """``frame`` to ``path`` in the format of its extension, atomically (see the module)."""
    kind = table_format(path)
    money = tuple(money)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        if kind == ".parquet":
            frame.write_parquet(partial, compression="zstd")
        elif kind == ".csv":
            in_pln(frame, money).write_csv(partial)
        else:
            in_pln(frame, money).write_excel(partial, worksheet=sheet, float_precision=2, autofit=True)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
