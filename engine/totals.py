"""What a claim_state adds up to (``StateTotals``: claims, the sum of every money column, time-barred
and suspended claims) and its digest (``state_digest``: the same for equal states however laid
out), for summaries, run records and checks that two computations agree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from engine.kernel_run import KernelOutput
from engine.kernels.calendar import NULL_DAY
from engine.schema import CLAIM_STATE, STATE_MONEY


def exact_sum(values: np.ndarray) -> int:
    """The sum of int64 values as a Python int, exact however large (numpy's and polars' sums wrap
    around at 2**63): high and low 31 bits summed apart, each far below the limit."""
    if not len(values):
        return 0
    high = int(np.sum(values >> 31, dtype=np.int64))
    low = int(np.sum(values & (2**31 - 1), dtype=np.int64))
    return (high << 31) + low


@dataclass
class StateTotals:
    """What a claim_state adds up to: claims, the sum of each money column (STATE_MONEY, grosz),
    time-barred claims and claims whose clock is suspended (no limitation date)."""

    claims: int = 0
    money: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATE_MONEY, 0))
    time_barred: int = 0
    suspended: int = 0

    def add(self, out: KernelOutput) -> None:
        """Add a chunk of the kernel's output."""
        self.claims += out.claims
        for k, name in enumerate(STATE_MONEY):
            self.money[name] += exact_sum(out.money[k])
        self.time_barred += int(np.count_nonzero(out.flags[0]))
        self.suspended += int(np.count_nonzero(out.days[1] == NULL_DAY))

    def merge(self, other: StateTotals) -> None:
        """Add the totals of other claims (another partition's)."""
        self.claims += other.claims
        for name in STATE_MONEY:
            self.money[name] += other.money[name]
        self.time_barred += other.time_barred
        self.suspended += other.suspended

    @classmethod
    def of_table(cls, table: pa.Table) -> StateTotals:
        """The totals of a claim_state table (e.g. one an executor put together)."""
        totals = cls(claims=table.num_rows)
        for name in STATE_MONEY:
            for chunk in table.column(name).chunks:
                totals.money[name] += exact_sum(chunk.to_numpy(zero_copy_only=False))
        import pyarrow.compute as pc

        totals.time_barred = int(pc.sum(table.column("time_barred").cast(pa.int64())).as_py() or 0)
        totals.suspended = table.column("limitation_date").null_count
        return totals


def state_digest(table: pa.Table) -> str:
    """sha256 of claim_state's values (not of the metadata, which holds timings), the same for
    equal tables however they are laid out in memory: per column the null mask and the values
    with nulls as 0 (raw Arrow buffers differ for equal values: chunking, a validity bitmap or
    none, whatever lies under a null, padding bits)."""
    import pyarrow.compute as pc

    digest = hashlib.sha256()
    for spec in CLAIM_STATE:
        column = table.column(spec.name).combine_chunks()
        physical = (
            pa.int32() if pa.types.is_date32(spec.type) else pa.int8() if pa.types.is_boolean(spec.type) else spec.type
        )
        values = column.cast(physical)
        nulls = values.is_null()
        digest.update(spec.name.encode() + b"\0")
        digest.update(np.packbits(nulls.to_numpy(zero_copy_only=False)).tobytes())
        digest.update(pc.fill_null(values, 0).to_numpy(zero_copy_only=False).tobytes())
    return digest.hexdigest()
