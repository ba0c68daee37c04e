"""Background jobs in the store (``jobs``): the repository; api/jobs/service.py runs them."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

import sqlalchemy as sa

from engine.domain import JobKind, JobStatus
from engine.store.models import Job
from engine.store.scratch import alive

JOBS = Job.__table__


def worker() -> str:
    """This process, as a job's ``worker``: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _record(row) -> dict:
    return dict(row._mapping)


def create(conn: sa.Connection, kind: JobKind, params: dict, who: str) -> int:
    return conn.execute(
        sa.insert(JOBS)
        .values(
            kind=kind.value,
            status=JobStatus.QUEUED.value,
            params=params,
            created_at=datetime.now(UTC),
            created_by=who,
            worker=worker(),
        )
        .returning(JOBS.c.job_id)
    ).scalar_one()


def update(engine: sa.Engine, job_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(JOBS).where(JOBS.c.job_id == job_id).values(**values))


def find(conn: sa.Connection, job_id: int) -> dict | None:
    row = conn.execute(sa.select(JOBS).where(JOBS.c.job_id == job_id)).first()
    return None if row is None else _record(row)


def latest(conn: sa.Connection, limit: int) -> list[dict]:
    rows = conn.execute(sa.select(JOBS).order_by(JOBS.c.job_id.desc()).limit(limit)).all()
    return [_record(r) for r in rows]


def fail_orphans(engine: sa.Engine) -> list[int]:
    """Jobs queued or running on this host by a process that is gone, marked failed (a server that
    stopped mid-job leaves them so); their ids."""
    host = socket.gethostname()
    with engine.begin() as conn:
        open_jobs = conn.execute(
            sa.select(JOBS.c.job_id, JOBS.c.worker).where(
                JOBS.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
            )
        ).all()
        gone = []
        for job_id, by in open_jobs:
            name, _, pid = (by or "").rpartition(":")
            if name == host and pid.isdigit() and not alive(int(pid)):
                gone.append(job_id)
        if gone:
            conn.execute(
                sa.update(JOBS)
                .where(JOBS.c.job_id.in_(gone))
                .values(
                    status=JobStatus.FAILED.value,
                    error="the server running it stopped before it ended",
                    finished_at=datetime.now(UTC),
                )
            )
    return gone
