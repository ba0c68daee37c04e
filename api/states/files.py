"""Parquet files in and out of the state commands: an input checked before any work, and what
killed commands left staged beside an output swept before a new one is written (the outputs
themselves are staged and committed by the engine: ``engine.parquet_io.Staged``)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from engine.errors import InputError
from engine.store.scratch import sweep_outputs


def readable_parquet(path: Path) -> None:
    """``path`` is a Parquet file that can be read, else an ``InputError`` naming it."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        pl.read_parquet_schema(path)
    except Exception as e:  # not Parquet, truncated, ...
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None


def sweep_beside(out: Path | None) -> None:
    """Remove what commands killed while writing left staged beside ``out`` (``scratch``)."""
    if out is not None:
        sweep_outputs(out.parent)
