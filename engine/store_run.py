"""An engine run from the store: record it, compute claim_state of the stored claims and events
(``computation.compute``, on the chosen executor), and make it the stored state atomically.

One run at a time per store (the run lock); a run left ``running`` by a killed process is marked
failed first. On success the run is ``succeeded`` and its state is what ``store.runs.read_state``
returns; on any error the previous state stays and the run is ``failed`` with the error, which is
raised. The store (``engine.store.runs``) keeps the records and the rows; this module decides
what a run does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from engine.computation import compute
from engine.domain import ExecutorName
from engine.executors import Executor
from engine.kernel_run import Progress
from engine.sources import StoreSource
from engine.store import runs
from engine.store.bulk import OnBatch
from engine.store.runs import RunRecord
from engine.totals import state_digest
from engine.waterfall import WaterfallSetting

log = logging.getLogger(__name__)


def run(
    engine: sa.Engine,
    as_of: date,
    *,
    portfolio: str | None = None,
    waterfall: WaterfallSetting = "costs,interest,principal",
    allow_stale_rates: bool = False,
    who: str | None = None,
    on_progress: Progress | None = None,
    on_batch: OnBatch | None = None,
    on_stage: Callable[[str], None] | None = None,
    executor: Executor | ExecutorName | None = None,
    partitions: int | None = None,
) -> RunRecord:
    """Compute claim_state as of ``as_of`` for one portfolio (or all) and make it the stored state.

    ``executor`` and ``partitions`` as ``computation.compute`` takes them (default: the settings'; one
    partition on the local executor reads the store here at once, otherwise each partition is
    read and computed where the executor runs it, in one snapshot on PostgreSQL)."""
    stage = on_stage or (lambda _s: None)
    with runs.run_lock(engine):
        runs.mark_dead(engine)
        run_id = runs.start(engine, as_of, portfolio)
        extra = {"run_id": run_id}
        log.info("run %d started as of %s for %s", run_id, as_of, portfolio or "every portfolio", extra=extra)
        started = time.perf_counter()
        try:
            with runs.storing(engine, run_id, as_of, portfolio) as stored:
                record = _computed_and_stored(
                    engine,
                    run_id,
                    as_of,
                    portfolio,
                    stored,
                    started,
                    stage,
                    who,
                    on_progress,
                    on_batch,
                    executor=executor,
                    partitions=partitions,
                    waterfall=waterfall,
                    allow_stale_rates=allow_stale_rates,
                )
        except BaseException as error:
            runs.fail(engine, run_id, error, time.perf_counter() - started, who)
            log.warning("run %d failed: %s: %s", run_id, type(error).__name__, error, extra=extra)
            raise
        with engine.begin() as conn:
            runs.drop_superseded(conn)
        log.info(
            "run %d succeeded: %d claims, %d events in %.1f s, state sha256 %s",
            run_id,
            record.claims or 0,
            record.events or 0,
            record.seconds or 0.0,
            (record.state_sha256 or "")[:16],
            extra=extra,
        )
        return record


def _computed_and_stored(
    engine: sa.Engine,
    run_id: int,
    as_of: date,
    portfolio: str | None,
    stored: runs.PaymentsWritten | None,
    started: float,
    stage: Callable[[str], None],
    who: str | None,
    on_progress: Progress | None,
    on_batch: OnBatch | None,
    **how,
) -> RunRecord:
    """The run's claim_state computed and stored (``run``'s work between its start and its end);
    ``how``: the executor, partitions, waterfall and stale rates as ``computation.compute`` takes them."""
    stage("computing claim_state")
    [state] = compute(
        StoreSource.of(engine, portfolio), as_of, keep=True, portfolios=True, on_progress=on_progress, **how
    )
    log.info(
        "run %d computed %d claims in %.3f s",
        run_id,
        state.totals.claims,
        time.perf_counter() - started,
        extra={"run_id": run_id},
    )
    stage(f"storing claim_state ({state.totals.claims:,} rows)")
    meta = dict(state.provenance, suspended=state.totals.suspended)
    return runs.store_state(
        engine,
        run_id,
        state.table,
        state.portfolio_id,
        portfolio=portfolio,
        as_of=as_of,
        provenance=meta,
        totals=state.totals.money,
        time_barred=state.totals.time_barred,
        digest=state_digest(state.table),
        started=started,
        who=who,
        on_batch=on_batch,
        stored=stored,
    )
