"""Engine runs from the store: compute claim_state and make it the stored state (a run, recorded
with its totals and digest), a valuation series written to Parquet (the stored state is left as
it is), and the list of runs, through the engine's entry points (``engine.store_run.run``,
``engine.computation.compute``). Each run owns its transactions (``engine.store.runs``): its state
is switched in one commit or not at all."""

from __future__ import annotations

import contextlib
import logging
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from api.states.files import sweep_beside
from api.states.service import OnProgress, OnStage, executor_for
from api.states.summary import day_summaries
from engine import store_run
from engine.computation import compute
from engine.sources import StoreSource
from engine.store import runs
from engine.store.database import StoreError
from engine.store.runs import RunRecord

log = logging.getLogger(__name__)


def _nothing(*_args) -> None:
    pass


def run(
    *,
    store: sa.Engine,
    as_of: date,
    portfolio: str | None = None,
    waterfall: str = "costs,interest,principal",
    allow_stale_rates: bool = False,
    executor: str | None = None,
    partitions: int | None = None,
    on_stage: OnStage = _nothing,
    on_progress: OnProgress = _nothing,
) -> RunRecord:
    """claim_state as of ``as_of`` of one portfolio (or all) from the store, made the stored state
    (see ``engine.store_run.run``); its record. On the local executor in one partition the run
    reads the store here; otherwise each worker reads its claim range from the store.

    First the day's update of payment plans, settlements and promises (api/plans/service.py, its own
    transaction), so that the write-offs of plans kept and settlements paid by ``as_of`` are in the
    state computed."""
    from api.plans import service as plans

    on_stage("updating payment plans")
    plans.update(store=store, as_of=as_of, portfolio=portfolio)
    with executor_for(name=executor, partitions=partitions) as (chosen, parts):
        record = store_run.run(
            store,
            as_of,
            portfolio=portfolio,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
            on_stage=on_stage,
            on_progress=on_progress,
            executor=chosen,
            partitions=parts,
        )
    log.info(
        "run as of %s %s: %s claims in %s s",
        as_of,
        record.status,
        record.claims,
        record.seconds,
        extra={"run_id": record.run_id},
    )
    return record


def series(
    *,
    store: sa.Engine,
    days: list[date],
    portfolio: str | None = None,
    out: Path | None = None,
    waterfall: str = "costs,interest,principal",
    allow_stale_rates: bool = False,
    executor: str | None = None,
    partitions: int | None = None,
    on_progress: OnProgress = _nothing,
    on_stage: OnStage = _nothing,
) -> list[dict]:
    """A valuation series from the store: claim_state as of each of ``days``, written to ``out``
    (a folder of state-DAY.parquet; None: not written); the summary of each day. The stored state
    is left as it is (the store keeps one state per portfolio)."""
    sweep_beside(out)
    with executor_for(name=executor, partitions=partitions) as (chosen, parts):
        on_stage(f"computing on {chosen.name} (tasks)")
        computed = compute(
            StoreSource.of(store, portfolio),
            days,
            out=out,
            executor=chosen,
            partitions=parts,
            waterfall=waterfall,
            allow_stale_rates=allow_stale_rates,
            on_progress=on_progress,
        )
        return day_summaries(computed)


def latest(*, store: sa.Engine, limit: int = 20) -> list[RunRecord]:
    """The latest ``limit`` runs, newest first; a run still marked running whose process is gone is
    first marked failed (unless a run is in progress: then none is touched)."""
    with contextlib.suppress(StoreError):  # a run is in progress: leave it be
        runs.recover(store)
    return runs.runs_list(store, limit)


def summary(*, record: RunRecord) -> dict:
    """A run as `cession runs --json` and the HTTP API give it (totals in grosz, as stored)."""
    stale = (record.provenance or {}).get("stale_rate_tables", {})
    return {
        "run_id": record.run_id,
        "status": record.status,
        "as_of": record.as_of.isoformat(),
        "portfolio": record.portfolio_id,
        "claims": record.claims,
        "events": record.events,
        "time_barred": record.time_barred,
        "totals": record.totals,
        "seconds": record.seconds,
        "state_sha256": record.state_sha256,
        "stale_rate_tables": stale,
        "error": record.error,
    }
