"""The unit of distribution: a *partition*, a claim_id range with every claim in it and all of its
events, so the per-claim engine gives the same rows whichever way the claims are cut.

``plan`` cuts the claims into ranges of about equal shares; the errors of a partitioned run read
as they would over the whole input (``one_error``), and a partition that could not be computed
is named (``PartitionsFailed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import numpy as np
import polars as pl
import pyarrow as pa

from engine.errors import ComputationFailed, InputError
from engine.rules import StaleRulesError
from engine.validation import SHOW_IDS, EngineInputError, check_unique

#: Data errors are the same on every attempt and every executor: they are raised as they are.
DATA_ERRORS = (EngineInputError, StaleRulesError)


@dataclass(frozen=True)
class Partition:
    """Claims with ``lo <= claim_id < hi`` (None: unbounded; the first partition also holds null ids,
    so the engine refuses them as it would without partitions)."""

    index: int
    lo: int | None
    hi: int | None
    claims: int

    def __str__(self) -> str:
        lo = "" if self.lo is None else f"{self.lo}"
        hi = "" if self.hi is None else f"{self.hi - 1}"
        return f"partition {self.index} (claim_id {lo}..{hi}, {self.claims:,} claims)"

    def where(self, column: str = "claim_id") -> pl.Expr:
        col = pl.col(column)
        keep = pl.lit(True)
        if self.lo is not None:
            keep = keep & (col >= self.lo)
        if self.hi is not None:
            keep = keep & (col < self.hi)
        return keep | col.is_null() if self.lo is None else keep

    def of(self, ids: np.ndarray) -> np.ndarray:
        """This partition's share of ``ids`` (sorted and distinct)."""
        lo, hi = (None if b is None else int(np.searchsorted(ids, b)) for b in (self.lo, self.hi))
        return ids[lo:hi]


def sorted_unique(ids: np.ndarray) -> np.ndarray:
    """Sorted distinct ids: one linear pass when they are already increasing (files in id order)."""
    from engine.kernels.grouping import strictly_increasing

    if strictly_increasing(ids):
        return ids
    ids = np.sort(ids)  # np.unique would hash (slow for 10M), a sort and a mask do not
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids


def plan(claim_ids: np.ndarray, n: int) -> list[Partition]:
    """``n`` claim_id ranges holding as equal shares of the claims as the ids allow, covering every
    int64 (an event of a claim not in the claims still lands in a partition and is refused there)."""
    ids = sorted_unique(np.asarray(claim_ids, dtype=np.int64))
    n = max(1, int(n)) if len(ids) else 1  # no claims: one partition (where any event is refused)
    cuts = [int(ids[len(ids) * k // n]) for k in range(1, n)] if len(ids) else []
    bounds: list[int | None] = [None, *cuts, None]
    starts = [0, *np.searchsorted(ids, cuts, side="left").tolist(), len(ids)]
    return [Partition(i, bounds[i], bounds[i + 1], starts[i + 1] - starts[i]) for i in range(n)]


@dataclass(frozen=True)
class PartitionState:
    """claim_state of one partition as of one day (``partition`` of ``partitions``, in claim_id order)."""

    day: date
    partition: Partition
    partitions: int
    table: pa.Table

    @property
    def last(self) -> bool:
        return self.partition.index == self.partitions - 1


class InputChanged(InputError):
    """A partition does not hold the claims planned for it: the input changed while it was read
    (a load into the store at the same time). Nothing was written; running again is safe."""


class PartitionsFailed(ComputationFailed):
    """Some partitions could not be computed (after Ray's retries); nothing was committed."""

    def __init__(self, failed: list[tuple[Partition, str]], what: str = "") -> None:
        self.failed = failed
        names = "; ".join(f"{p}: {error}" for p, error in failed[:10])
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        super().__init__(f"{len(failed)} partition(s) failed{what}, nothing was written: {names}{more}")

    @property
    def partitions(self) -> list[int]:
        return [p.index for p, _ in self.failed]


def named(error: BaseException, part: Partition) -> BaseException:
    """``error`` with a note naming the partition it came from."""
    error.add_note(f"in {part}")
    return error


def one_error(errors: list[BaseException]) -> BaseException:
    """The data errors of a run's partitions (in claim_id order) as the engine gives them over the
    whole input: the first one, its count summed with those of the others' errors of the same
    table, column and rule, and their first ids in claim_id order."""
    first = errors[0]
    if not isinstance(first, EngineInputError):
        return first
    key = (first.table, first.column, first.rule)
    same = [e for e in errors if isinstance(e, EngineInputError) and (e.table, e.column, e.rule) == key]
    if len(same) == 1:
        return first
    ids = [i for e in same for i in (e.ids or [])][:SHOW_IDS]
    merged = EngineInputError(first.table, first.column, first.rule, ids, sum(e.count for e in same))
    for e in same:
        for note in getattr(e, "__notes__", []):
            merged.add_note(note)
    return merged


# ------------------------------------------------------------------------------------------ event ids
def check_event_id_column(event_ids: pl.Series) -> None:
    """Event ids unique (one linear pass when they increase; else the engine's exact error)."""
    from engine.kernels.grouping import strictly_increasing

    ids = event_ids.drop_nulls()
    if not strictly_increasing(ids.to_numpy()):
        check_unique(ids.to_frame(), "events", "event_id")


@dataclass(frozen=True)
class EventIds:
    """What a partition's event ids tell of all of them: the first and last, and whether they
    increase. When every partition's increase and the partitions' spans do not overlap, the ids
    are unique across partitions without reading them again; otherwise the source's ``check``
    reads them (and gives the exact error)."""

    first: int | None = None
    last: int | None = None
    increasing: bool = False

    @classmethod
    def of(cls, events: pl.DataFrame) -> EventIds:
        from engine.kernels.grouping import strictly_increasing

        if "event_id" not in events.columns or not events.schema["event_id"].is_integer():
            return cls()  # the engine names the column's error
        ids = events.get_column("event_id").drop_nulls().to_numpy()
        if not strictly_increasing(ids.astype(np.int64)):
            return cls()
        return cls(int(ids[0]), int(ids[-1]), True) if len(ids) else cls(increasing=True)


def check_event_ids(check_all: Callable[[], None], parts: Sequence[EventIds]) -> None:
    """Event ids unique across partitions (each partition's own are checked by the engine);
    ``check_all`` (the source's ``check``) reads them all where the partitions cannot tell."""
    spans = sorted((p.first, p.last) for p in parts if p.first is not None)
    if not (all(p.increasing for p in parts) and all(a[1] < b[0] for a, b in pairwise(spans))):
        check_all()
