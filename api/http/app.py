"""The FastAPI application over a store: ``create_app(store)`` for tests and embedding,
``from_settings()`` for `cession serve` (uvicorn's factory: each worker opens the store itself)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from api.http import problems

VERSION = "1"
DESCRIPTION = """Cession's HTTP API: agencies pull the cases placed with them and post payments;
the purchaser's team looks at any claim and follows the engine's runs.

Every request carries an API key made by `cession keys create` as `Authorization: Bearer <key>`.
Money is a decimal string in PLN (`"1234.56"`), days are ISO dates (`2026-12-07`). Errors are
problem+json (RFC 9457) naming each bad field (and, in a batch, the item's index) and the rule it
breaks. A write sent with an `Idempotency-Key` is done once: a retry gets the first response again."""


def create_app(store: sa.Engine, *, key_cache_seconds: float | None = None) -> FastAPI:
    """The app over ``store``; ``key_cache_seconds``: how long a key found valid is trusted before
    the store is asked again (None: ``CESSION_API_KEY_CACHE_SECONDS``, 5 s by default)."""
    from contextlib import asynccontextmanager

    from api.agencies.routes import router as agencies
    from api.agency.routes import router as agency
    from api.allocation.routes import router as strategies
    from api.claims.routes import portfolios_router as portfolios
    from api.claims.routes import router as claims
    from api.http.dashboard import router as dashboard
    from api.jobs import service as jobs
    from api.jobs.routes import router as job_routes
    from api.keys.service import CheckedKeys
    from api.legal.routes import router as legal
    from api.runs.routes import router as runs
    from api.webhooks.routes import router as webhooks

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        jobs.recover(store=store)  # jobs a stopped server left running: failed
        _settle()
        yield
        runner, app.state.jobs = app.state.jobs, None
        if runner is not None:
            runner.shutdown(wait=True)  # the jobs under way end before the server does

    app = FastAPI(title="Cession", version=VERSION, description=DESCRIPTION, lifespan=lifespan)
    app.state.store = store
    if key_cache_seconds is None:
        from engine.settings import API_KEYS, read

        key_cache_seconds = read(API_KEYS).api_key_cache_seconds
    #: the keys this process found valid, each trusted for key_cache_seconds (api/keys/service.py)
    app.state.checked_keys = CheckedKeys(key_cache_seconds)
    #: background jobs (uploads' ingests, runs, allocations): one at a time per server process,
    #: on a thread made when the first job comes (``api.jobs.routes``)
    app.state.jobs = None
    problems.install(app)
    for router in (agency, webhooks, legal, claims, portfolios, agencies, strategies, runs, job_routes, dashboard):
        app.include_router(router)

    def openapi() -> dict:
        """FastAPI's schema, with every error response documented as what it is: problem+json."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for operations in schema["paths"].values():
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    if code.isdigit() and int(code) >= 400:
                        response["content"] = {problems.MEDIA_TYPE: problem}
        components = schema.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server answers (no key needed; reads nothing)."""
        return {"status": "ok"}

    return app


def _settle() -> None:
    """Before the first request: load what requests use (the engine's kernels, polars), then move
    every object alive to the garbage collector's permanent generation. A full collection then
    walks only what requests made: a page of 1000 placements went from a p99 of ~150 ms (a full
    collection over the server's ~million start-up objects, now and then) to ~40 ms."""
    import gc
    import importlib

    for module in ("polars", "engine.kernel_run", "api.agency.service", "api.claims.service"):
        importlib.import_module(module)
    gc.collect()
    gc.freeze()


#: how long a thread of a server process runs before one waiting for the GIL gets it (Python's
#: default: 5 ms). A worker's requests run on threads (the routes are plain functions) and each
#: takes the GIL back many times (the event loop, the thread, every answer of the database): behind
#: a batch of events or a page in the same process, a balance waited up to 5 ms each time. At 1 ms,
#: 2 workers, a balance sharing its worker with a page or posts: p99 18-23 -> 10-16 ms (BENCHMARKS.md)
SWITCH_INTERVAL_SECONDS = 0.001


def from_settings() -> FastAPI:
    """The app on the configured store (``CESSION_DATABASE_URL``), its schema current, for a server
    process (`cession serve`): its threads take turns at the GIL every ``SWITCH_INTERVAL_SECONDS``."""
    import sys

    from api.store.service import database_url, opened

    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    return create_app(opened(url=database_url()))
