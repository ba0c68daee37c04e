"""The test session's order and the kernels' first compile (tests/ and benchmarks/ alike).

A fresh clone (CI's) has no numba cache: the first test that runs the engine's kernels compiles
them on one core for ~100-200 s while the other core waits. Instead ``tests.warm_kernels`` compiles
them into the cache in a process of its own, started with the session, while the modules in
``WITHOUT_KERNELS`` run first; the first test of any other module waits for it, and so does a first
call of a kernel in this process (``_waiting_compile``), so the compile is never done twice at once:
then the kernels are found in the cache. With the kernels in the cache
already (engine/kernel_cache.py: per version of their sources and per checkout), the warm-up only
loads them, ~1-2 s.

``WITHOUT_KERNELS``: modules that never run the engine's kernels, in process or in a command they
start. Checked with an empty cache (``NUMBA_CACHE_DIR=$(mktemp -d) uv run pytest <these>``): none
of their tests takes more than ~10 s, where a compile would take over 100 s. A module wrongly
listed costs time (it waits for the warm-up, or a command it starts compiles beside it), never a
result. (Not listed, though it passed
that check once: tests/api/test_openapi_fuzz.py, whose generated requests reach a placed claim's
balance, and the engine, only in some runs; tests/api/test_services.py, which runs the engine.)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

WITHOUT_KERNELS = frozenset(
    {
        "tests/allocation/test_flags_decoded.py",
        "tests/allocation/test_identifiers.py",
        "tests/allocation/test_plan_status.py",
        "tests/allocation/test_pools.py",
        "tests/allocation/test_rows_of.py",
        "tests/allocation/test_scores.py",
        "tests/allocation/test_split.py",
        "tests/allocation/test_strategy_files.py",
        "tests/api/test_logs.py",
        "tests/api/test_serve.py",
        "tests/api/test_webhooks.py",
        "tests/contacts/test_help.py",
        "tests/contacts/test_plan.py",
        "tests/engine/test_settings.py",
        "tests/ingest/test_fuzz.py",
        "tests/ingest/test_identifiers.py",
        "tests/ingest/test_package.py",
        "tests/ingest/test_parsing.py",
        "tests/ingest/test_reports_and_duplicates.py",
        "tests/ingest/test_sources.py",
        "tests/ledger/test_chart_and_files.py",
        "tests/ledger/test_properties.py",
        "tests/ledger/test_store_and_cli.py",
        "tests/ledger/test_streamed.py",
        "tests/ledger/test_timeline.py",
        "tests/payments/test_plans_incremental.py",
        "tests/payments/test_plans_property.py",
        "tests/payments/test_plans_schedule.py",
        "tests/payments/test_promises.py",
        "tests/payments/test_statements_csv_and_suspense.py",
        "tests/payments/test_statements_mt940.py",
        "tests/payments/test_statements_reimport.py",
        "tests/store/test_bulk.py",
        "tests/store/test_connections.py",
        "tests/store/test_fresh_start.py",
        "tests/store/test_ingest_reports.py",
        "tests/store/test_records.py",
        "tests/store/test_virtual_accounts.py",
    }
)

_warming: subprocess.Popen | None = None
_warming_errors = None
_waiting = threading.Lock()  # kernels may be first called on several threads at once


def _wait_for_warm_up() -> None:
    global _warming
    with _waiting:
        if _warming is None:
            return
        if _warming.wait() != 0:
            _warming_errors.seek(0)
            errors = _warming_errors.read().decode(errors="replace")
            sys.stderr.write(f"tests.warm_kernels failed ({_warming.returncode}):\n{errors}\n")
        _warming_errors.close()
        _warming = None


def _waiting_compile() -> None:
    """numba's dispatchers compile (or load from the cache) on a first call with new types: for the
    engine's kernels, wait for the warm-up first, which puts them in the cache."""
    from numba.core.dispatcher import Dispatcher

    first_call = Dispatcher._compile_for_args

    def waiting(self, *args, **kws):
        if _warming is not None and self.py_func.__module__.startswith("engine.kernels"):
            _wait_for_warm_up()
        return first_call(self, *args, **kws)

    Dispatcher._compile_for_args = waiting


def _module(item: pytest.Item) -> str:
    return Path(item.fspath).resolve().relative_to(ROOT).as_posix()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules without kernels first (a stable sort: each part keeps its own order); the warm-up
    starts only when some test will need the kernels after them."""
    global _warming, _warming_errors
    items.sort(key=lambda item: _module(item) not in WITHOUT_KERNELS)
    needed = any(_module(item) not in WITHOUT_KERNELS for item in items)
    if needed and not config.option.collectonly:
        _warming_errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed by the hooks below, not in this one)
        _warming = subprocess.Popen(
            [sys.executable, "-m", "tests.warm_kernels"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=_warming_errors
        )
        _waiting_compile()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first test that may run the kernels: the warm-up done (its failure is reported
    by the tests themselves, which then compile as they would have)."""
    if _module(item) not in WITHOUT_KERNELS:
        _wait_for_warm_up()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _warming
    if _warming is not None:  # the session ended first (a -x failure, a selection without kernels after all)
        _warming.kill()
        _warming.wait()
        _warming_errors.close()
        _warming = None
