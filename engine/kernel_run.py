"""Running the kernel: prepared inputs (``inputs.Prepared``) in, claim_state out.

``compute_state`` is the engine on frames in memory: check and pack (``inputs.prepare``), run
the kernel over every claim (``run_kernel``, a chunk of claims per call, parallel inside one)
and build the Arrow table with its provenance (``state_table``). ``explain_claim`` runs one
claim through the same kernel keeping what it did on the way (for the calculators).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from engine.inputs import NOT_AS_OF, Prepared, prepare
from engine.kernels.calendar import NULL_DAY
from engine.kernels.claim_state import (
    BLOCK,
    DAY_COLUMNS,
    FLAG_COLUMNS,
    MONEY_COLUMNS,
    N_OUTPUTS,
    claim_one,
    claim_scratch,
    claim_states,
)
from engine.kernels.limitation import first_day_reaching
from engine.metadata import with_provenance
from engine.packing import Frame
from engine.rules import RuleBook, from_day_number, load_rules
from engine.schema import CLAIM_STATE, STATE_MONEY
from engine.waterfall import ORDER_CODES, WaterfallSetting

log = logging.getLogger(__name__)

#: The kernel's money rows are claim_state's int64 columns (but claim_id), in order.
assert len(STATE_MONEY) == MONEY_COLUMNS

#: Claims per kernel call: the unit of progress reporting (the kernel is parallel inside a call).
CHUNK = 1_000_000

#: Called with (claims done, claims in all).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class KernelOutput:
    """claim_state's columns as the kernel writes them (one row per column, one column per claim):
    ``money`` int64 (principal, interest, costs and total due, interest accrued, interest
    time-barred, paid to costs, interest and principal, overpaid), ``days`` int32 (last payment,
    limitation with NULL_DAY for none, days past due), ``flags`` int8 (time-barred)."""

    money: np.ndarray
    days: np.ndarray
    flags: np.ndarray

    @property
    def claims(self) -> int:
        return self.money.shape[1]

    @classmethod
    def empty(cls, n: int) -> KernelOutput:
        return cls(
            money=np.empty((MONEY_COLUMNS, n), dtype=np.int64),
            days=np.empty((DAY_COLUMNS, n), dtype=np.int32),
            flags=np.empty((FLAG_COLUMNS, n), dtype=np.int8),
        )

    def head(self, n: int) -> KernelOutput:
        """The first ``n`` claims (views: a chunk buffer's rows for a shorter last chunk)."""
        return KernelOutput(money=self.money[:, :n], days=self.days[:, :n], flags=self.flags[:, :n])


def kernel_into(p: Prepared, dropped: np.ndarray, out: KernelOutput, first: int, stop: int, out_first: int) -> None:
    """``claim_states`` over claims ``first:stop`` into ``out`` (claim ``i`` at ``i - out_first``)."""
    if p.as_of_day == NOT_AS_OF:
        raise ValueError("these inputs are not as of a day yet: Prepared.at(as_of)")  # a bug, not bad data
    k = p.rules
    claim_states(
        p.principal,
        p.interest,
        p.costs,
        p.due,
        p.cutoff,
        p.contract_bp,
        p.limitation_kind,
        p.custom_years,
        p.title_day,
        p.basis,
        p.order,
        p.offsets,
        p.ev_day,
        p.ev_kind,
        p.ev_value,
        p.as_of_day,
        k.rate_day,
        k.rate_bp,
        k.rate_last,
        k.basis_first_row,
        k.basis_end_row,
        k.basis_capped,
        ORDER_CODES,
        k.limitation,
        k.calendar_base,
        k.civil,
        k.first_year,
        k.month_start,
        k.run_ends,
        k.run_hows,
        k.reaching,
        dropped,
        out.money,
        out.days,
        out.flags,
        first,
        stop,
        out_first,
    )


def run_kernel(p: Prepared, on_progress: Progress | None = None, out: KernelOutput | None = None) -> KernelOutput:
    """The kernel over every claim, in chunks of CHUNK claims (the kernel is parallel inside one),
    into ``out`` if given (arrays for every claim, e.g. reused from an earlier call: fresh memory
    is costly, see BENCHMARKS.md) or into new arrays."""
    n = len(p.claim_id)
    out = out if out is not None else KernelOutput.empty(n)
    if out.claims != n:
        raise ValueError(f"out holds {out.claims} claims, the input {n}")
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    for a in range(0, max(n, 1), CHUNK):
        b = min(n, a + CHUNK)
        kernel_into(p, dropped, out, a, b, 0)
        if on_progress is not None:
            on_progress(b, n)
    return out


@dataclass(frozen=True)
class ClaimExplained:
    """One claim through the kernel with what it did on the way (``explain_claim``).

    ``outputs``: N_OUTPUTS int64 (principal, interest, costs, accrued, interest time-barred, paid
    costs/interest/principal, overpaid, last payment day, limitation day); ``pieces``: rows of first
    day, last day, days, bp, interest; ``steps``: rows of step, day, event kind (or the first run's
    kind), end after it (NULL_DAY while suspended), how it was found, proceedings pending;
    ``tranches``: rows of first day (NULL_DAY: the interest at cut-off), last day, amount, barred by
    its days' own runs, as accrued (before payments took from them)."""

    outputs: np.ndarray
    pieces: np.ndarray
    steps: np.ndarray
    tranches: np.ndarray

    @property
    def limitation_date(self) -> date | None:
        """The claim's limitation date (None while proceedings are pending)."""
        day = int(self.outputs[10])
        return None if day == NULL_DAY else from_day_number(day)


def explain_claim(p: Prepared, index: int = 0, *, max_rows: int = 4096) -> ClaimExplained:
    """One claim through the same kernel, keeping its interest pieces, limitation steps and
    interest tranches."""
    k = p.rules
    pieces = np.zeros((max_rows, 5), dtype=np.int64)
    trace = np.zeros((max_rows, 6), dtype=np.int64)
    tranches = np.zeros((max_rows, 4), dtype=np.int64)
    dropped = np.zeros(len(p.ev_day), dtype=np.bool_)
    lo, hi = int(p.offsets[index]), int(p.offsets[index + 1])
    b = p.basis[index]
    w = ORDER_CODES[p.order[index]].astype(np.int64)
    r = claim_one(
        p.principal[index],
        p.interest[index],
        p.costs[index],
        p.due[index],
        p.cutoff[index],
        p.contract_bp[index],
        p.limitation_kind[index],
        p.custom_years[index],
        p.title_day[index],
        w[0] | (w[1] << 2) | (w[2] << 4),
        lo,
        hi,
        p.ev_day,
        p.ev_kind,
        p.ev_value,
        dropped,
        p.as_of_day,
        first_day_reaching(p.as_of_day, k.limitation, k.calendar),
        k.rates,
        k.basis_first_row[b],
        k.basis_end_row[b],
        k.basis_capped[b],
        k.limitation,
        k.calendar,
        claim_scratch(hi - lo),
        pieces,
        trace,
        tranches,
    )
    n_pieces, n_steps, n_tranches = r[N_OUTPUTS], r[N_OUTPUTS + 1], r[N_OUTPUTS + 2]
    if max(n_pieces, n_steps, n_tranches) > max_rows:
        raise ValueError(f"more than {max_rows} interest pieces, limitation steps or tranches: pass a larger max_rows")
    return ClaimExplained(
        np.array(r[:N_OUTPUTS], dtype=np.int64), pieces[:n_pieces], trace[:n_steps], tranches[:n_tranches]
    )


def compute_state(
    claims: Frame,
    events: Frame,
    as_of: date,
    *,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    rules: RuleBook | None = None,
    on_progress: Progress | None = None,
) -> pa.Table:
    """The state of every claim as of ``as_of`` (docs/data-contract.md claim_state, one row per claim, by claim_id).

    ``waterfall``: one order for all claims ("costs,interest,principal") or a mapping
    portfolio_id -> order (key "*" for the rest). ``allow_stale_rates``: go on past a rate table's
    ``last_value_still_valid_on`` with its last rate; the result records it. Raises
    ``EngineInputError`` (table, column, rule, first ids) for input that breaks docs/data-contract.md and
    ``StaleRulesError`` for an as_of past the rules' validity."""
    started = time.perf_counter()
    rules = rules or load_rules()
    with one_thread_if_small(_rows(claims)):
        p = prepare(claims, events, as_of, waterfall=waterfall, allow_stale_rates=allow_stale_rates, rules=rules)
        return state_table(p, on_progress, started)


def _rows(frame: Frame) -> int | None:
    """The rows of a frame in memory (None for a lazy one: not known without reading it)."""
    if isinstance(frame, pa.Table):
        return frame.num_rows
    return getattr(frame, "height", None) if not hasattr(frame, "collect") else None


@contextmanager
def one_thread_if_small(claims: int | None) -> Iterator[None]:
    """The kernels of at most one block of claims (``BLOCK``: one claim's balance asked over the HTTP
    API, a calculator) on this thread alone: a parallel loop of one block has work for one thread
    only, and waking the others costs more than the claims (milliseconds on a busy machine, against
    microseconds). numba's thread count is per calling thread, so other threads' runs keep theirs."""
    if claims is None or claims > BLOCK:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def state_table(p: Prepared, on_progress: Progress | None = None, started: float | None = None) -> pa.Table:
    """claim_state of inputs as of their day (``Prepared.at``), with its provenance; ``started``
    (``time.perf_counter``) is when the work began, for the provenance's seconds."""
    started = time.perf_counter() if started is None else started
    kernel_started = time.perf_counter()
    out = run_kernel(p, on_progress)
    log.debug(
        "kernel: %d claims, %d events in %.3f s", len(p.claim_id), len(p.ev_day), time.perf_counter() - kernel_started
    )
    table = claim_state_table(p.claim_id, out, p.as_of_day)
    return with_provenance(table, dict(p.provenance, seconds=round(time.perf_counter() - started, 3)))


def claim_state_table(claim_id: np.ndarray, out: KernelOutput, as_of_day: int) -> pa.Table:
    """The kernel's columns as claim_state, without copying them (only the null masks are new)."""
    n = len(claim_id)

    def date_column(days: np.ndarray) -> pa.Array:
        return pa.array(days, type=pa.int32(), mask=days == NULL_DAY).view(pa.date32())

    money = [pa.array(out.money[k]) for k in range(MONEY_COLUMNS)]
    columns = [
        pa.array(claim_id, type=pa.int64()),
        pa.array(np.full(n, as_of_day, dtype=np.int32)).view(pa.date32()),
        *money,
        date_column(out.days[0]),
        date_column(out.days[1]),
        pa.array(out.flags[0].view(np.bool_)),
        pa.array(out.days[2]),
    ]
    return pa.Table.from_arrays(columns, schema=CLAIM_STATE)
