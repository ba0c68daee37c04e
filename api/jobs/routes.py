"""Background jobs over HTTP (``/v1/jobs``): follow one, list them, download an ingest's reports;
start an engine run (``POST /v1/runs``), an allocation (``POST /v1/allocations``) or an upload's
ingest (``POST /v1/portfolios/{id}/uploads``)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.http.auth import Purchaser, Store
from api.http.problems import Problem
from api.jobs import service
from engine.domain import JobKind
from engine.errors import InputError, NotFound

router = APIRouter(tags=["jobs"])
ERRORS = {code: {"model": Problem} for code in (400, 401, 403, 404, 422)}
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class JobOut(BaseModel):
    job_id: int
    kind: str = Field(description="ingest, run or allocate.")
    status: str = Field(description="queued, running, succeeded or failed.")
    params: dict[str, Any]
    progress: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date
    portfolio: str | None = Field(default=None, max_length=64)
    allow_stale_rates: bool = False


class AllocationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date
    dry_run: bool = False
    strategy: str | None = Field(
        default=None, description="The sha256 of a strategy uploaded to /v1/strategies (none: the configured one)."
    )


def _runner(request: Request):
    """The server's job thread (made on the first job; the app's lifespan ends it)."""
    from concurrent.futures import ThreadPoolExecutor

    state = request.app.state
    if getattr(state, "jobs", None) is None:
        state.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cession-job")
    return state.jobs


@router.get("/v1/jobs", response_model=list[JobOut], responses=ERRORS)
def jobs(_caller: Purchaser, store: Store, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
    """The latest jobs, newest first."""
    return service.latest(store=store, limit=limit)


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def job(job_id: JobId, _caller: Purchaser, store: Store) -> dict:
    """A job: where it stands, its progress, and its result or error."""
    return service.found(store=store, job_id=job_id)


@router.get("/v1/jobs/{job_id}/files/{name}", response_class=FileResponse, responses=ERRORS)
def job_file(job_id: JobId, name: str, _caller: Purchaser, store: Store):
    """A file an ingest job wrote (its reject report, candidates, name conflicts, overlaps)."""
    found = service.found(store=store, job_id=job_id)
    files = (found.get("result") or {}).get("files", {})
    if name not in files:
        raise NotFound(f"job {job_id}: no file {name!r} (its result lists its files)")
    return FileResponse(files[name], filename=FilePath(files[name]).name)


@router.post("/v1/runs", status_code=202, response_model=JobOut, responses=ERRORS)
def start_run(body: RunRequest, caller: Purchaser, store: Store, request: Request) -> dict:
    """Start an engine run (claim_state as of a day, made the stored state); follow its job."""

    def work(progress):
        from api.runs import service as runs

        record = runs.run(
            store=store,
            as_of=body.as_of,
            portfolio=body.portfolio,
            allow_stale_rates=body.allow_stale_rates,
            on_stage=lambda stage: progress({"stage": stage}),
        )
        return runs.summary(record=record)

    # (the run's stage names are the command line's: reading, computing, writing, switching)

    params = {"as_of": body.as_of.isoformat(), "portfolio": body.portfolio, "allow_stale_rates": body.allow_stale_rates}
    return service.submit(
        store=store, runner=_runner(request), caller=caller, kind=JobKind.RUN, params=params, work=work
    )


@router.post("/v1/allocations", status_code=202, response_model=JobOut, responses=ERRORS)
def start_allocation(body: AllocationRequest, caller: Purchaser, store: Store, request: Request) -> dict:
    """Start an allocation with the configured strategy (CESSION_STRATEGY); follow its job."""

    from api.allocation.routes import stored_path

    path = stored_path(body.strategy) if body.strategy else None  # an unknown strategy: 404 now, not a failed job

    def work(progress):
        from api.allocation import service as allocation

        progress({"stage": "deciding"})
        done = allocation.allocate(store=store, as_of=body.as_of, dry_run=body.dry_run, strategy_path=path)
        return allocation.summary(done=done)

    params = {"as_of": body.as_of.isoformat(), "dry_run": body.dry_run, "strategy": body.strategy}
    return service.submit(
        store=store, runner=_runner(request), caller=caller, kind=JobKind.ALLOCATE, params=params, work=work
    )


@router.post("/v1/portfolios/{portfolio_id}/uploads", status_code=202, response_model=JobOut, responses=ERRORS)
def upload(
    portfolio_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")],
    caller: Purchaser,
    store: Store,
    request: Request,
    file: Annotated[UploadFile, File(description="The seller's file: CSV, XLSX or Parquet.")],
    purchase_date: Annotated[date, Form(description="The day the portfolio was bought.")],
    price: Annotated[str, Form(description='The purchase price in PLN, a decimal string ("2500000.00").')],
    profile: Annotated[str | None, Form(description="The seller profile that reads the file.")] = None,
    new_version: Annotated[bool, Form(description="Ingest as the portfolio's next version.")] = False,
) -> dict:
    """Upload a seller's file into a portfolio: stored, then ingested in the background (every row
    accepted or in the reject report, which the job's result links to)."""
    import uuid

    from api.events.service import amount_in_grosz  # the API's one amount rule
    from engine.settings import UPLOADS, read

    try:
        price_grosz = amount_in_grosz(text=price)
    except InputError as e:
        raise InputError(f"price: {e}") from None
    folder = FilePath(read(UPLOADS).uploads_dir or _default_uploads()) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    name = FilePath(file.filename or "upload").name
    target = folder / name
    with target.open("wb") as out:
        while chunk := file.file.read(1 << 20):
            out.write(chunk)

    def work(progress):
        from api.ingests import service as ingests

        report = ingests.ingest(
            store=store,
            file=target,
            portfolio=portfolio_id,
            profile=profile,
            price=price_grosz,
            purchase_date=purchase_date,
            new_version=new_version,
            reports=folder / target.stem,
            who=caller.name,
            on_progress=lambda stage, done, total: progress({"stage": stage, "rows": done, "of": total}),
        )
        return report.summary() | {"files": {k: str(v) for k, v in report.reports.items()}}

    params = {
        "portfolio": portfolio_id,
        "file": name,
        "purchase_date": purchase_date.isoformat(),
        "price": price,
        "profile": profile,
        "new_version": new_version,
    }
    return service.submit(
        store=store, runner=_runner(request), caller=caller, kind=JobKind.INGEST, params=params, work=work
    )


def _default_uploads() -> FilePath:
    from platformdirs import user_data_path

    return user_data_path("cession", appauthor=False) / "uploads"
