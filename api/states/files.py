"""Parquet files in and out of the state commands: an input checked before any work, and outputs
staged beside their place and moved there only when every day succeeded (a failed command leaves
the previous files as they were, and nothing staged)."""

from __future__ import annotations

import os
import shutil
import time
from datetime import date
from pathlib import Path

import polars as pl

from api.states.summary import summary
from engine.errors import InputError
from engine.executors import merged_provenance
from engine.state import ClaimStateWriter, StateTotals, provenance
from engine.store.scratch import sweep_outputs


def readable_parquet(path: Path) -> None:
    """``path`` is a Parquet file that can be read, else an ``InputError`` naming it."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        pl.read_parquet_schema(path)
    except Exception as e:  # not Parquet, truncated, ...
        raise InputError(f"{path}: not a readable Parquet file ({e})") from None


class Staged:
    """Outputs written beside their final place and moved there only by ``commit``; a command
    that fails leaves the previous files as they were (and no staged leftovers)."""

    def __init__(self, out: Path, folder: bool) -> None:
        self.out, self.folder = out, folder
        self.dir = out.parent / f".{out.name}.staging-{os.getpid()}"
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
            return
        if self.folder:
            self.out.mkdir(parents=True, exist_ok=True)
        for staged, final in self.files:
            os.replace(staged, final)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def write_states(parts, days: list[date], out: Path | None, executor) -> list[dict]:
    """Summaries of each day's claim_state from ``parts`` (``PartitionState``s, each day's in
    claim_id order), each partition written as it comes to the day's staged file under ``out``
    (one file for one day, else a folder of state-DAY.parquet), all committed together when the
    last partition of the last day came. The table of a day is never whole in memory."""
    staged = Staged(out, folder=len(days) > 1) if out is not None else None
    summaries = []
    writer, totals, metas, started = None, StateTotals(), [], time.perf_counter()
    try:
        for part in parts:
            if writer is None and staged is not None:
                writer = staged.open(f"state-{part.day.isoformat()}.parquet")
            if writer is not None:
                writer.write(part.table)
            totals.merge(StateTotals.of_table(part.table))
            metas.append(provenance(part.table))
            if part.last:
                seconds = time.perf_counter() - started
                meta = merged_provenance(metas, executor.name, part.partitions, seconds)
                if writer is not None:
                    writer.close(meta)
                summaries.append(
                    dict(summary(totals, seconds, meta), executor=executor.name, partitions=part.partitions)
                )
                writer, totals, metas, started = None, StateTotals(), [], time.perf_counter()
        if staged is not None:
            staged.commit()
    finally:
        if writer is not None:
            writer.abandon()
        if staged is not None:
            staged.discard()
    return summaries


def sweep_beside(out: Path | None) -> None:
    """Remove what commands killed while writing left staged beside ``out`` (``scratch``)."""
    if out is not None:
        sweep_outputs(out.parent)
