"""Work started over the HTTP API and done in the background: an upload's ingest, an engine run, an
allocation. ``submit`` records the job (queued) and hands it to the server's one job thread (jobs
run one at a time per server process, as the command line would run them); the job's record says
how it goes (running, with progress) and how it ended (succeeded with its result, or failed with
the error's one line). A job whose server stopped is marked failed when a server next starts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime

import sqlalchemy as sa

from api.keys.service import Caller
from engine.domain import JobKind, JobStatus
from engine.errors import InputError, NotFound
from engine.store import jobs as repository
from engine.store.records import AuditAction, audit

log = logging.getLogger(__name__)

#: the work of a job: (report progress as a dict) -> the result, a JSON-able dict
Work = Callable[[Callable[[dict], None]], dict]


def submit(*, store: sa.Engine, runner: Executor, caller: Caller, kind: JobKind, params: dict, work: Work) -> dict:
    """Record a job and start it on ``runner``; the job's record (queued)."""
    with store.begin() as conn:
        job_id = repository.create(conn, kind, params, caller.name)
        audit(conn, AuditAction.API_WRITE, f"job:{job_id}", {"operation": f"job.{kind.value}", **params}, caller.name)
        record = repository.find(conn, job_id)
    runner.submit(_run, store, job_id, work)
    return record  # type: ignore[return-value]


def _run(store: sa.Engine, job_id: int, work: Work) -> None:
    repository.update(store, job_id, status=JobStatus.RUNNING.value, started_at=datetime.now(UTC))

    last = [0.0]

    def progress(values: dict) -> None:
        # at most once a second; and not on SQLite, whose one writer is the job's own transaction
        # (an ingest holds it from its first row to its commit): there a job shows running, then its end
        now = time.monotonic()
        if store.dialect.name != "sqlite" and now - last[0] >= 1.0:
            last[0] = now
            repository.update(store, job_id, progress=values)

    try:
        result = work(progress)
    except InputError as e:
        _failed(store, job_id, str(e))
    except Exception as e:  # a bug: logged with its traceback, the job says so in one line
        log.exception("job %d failed", job_id)
        _failed(store, job_id, f"a bug in Cession ({type(e).__name__}): the server's log has its traceback")
    else:
        repository.update(store, job_id, status=JobStatus.SUCCEEDED.value, result=result, finished_at=datetime.now(UTC))


def _failed(store: sa.Engine, job_id: int, error: str) -> None:
    repository.update(
        store,
        job_id,
        status=JobStatus.FAILED.value,
        error=" ".join(error.split())[:2000],
        finished_at=datetime.now(UTC),
    )


def found(*, store: sa.Engine, job_id: int) -> dict:
    with store.connect() as conn:
        job = repository.find(conn, job_id)
    if job is None:
        raise NotFound(f"job {job_id}: not found")
    return job


def latest(*, store: sa.Engine, limit: int = 50) -> list[dict]:
    with store.connect() as conn:
        return repository.latest(conn, limit)


def recover(*, store: sa.Engine) -> list[int]:
    """Jobs left queued or running by a server of this host that stopped: marked failed."""
    return repository.fail_orphans(store)
