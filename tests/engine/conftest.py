"""One engine test suite, two executors (narwhals' ``constructor`` fixture): tests that take
``compute_state`` run on the in-process executor and on Ray, whose session is started once per
test session (2 CPUs, loopback, no dashboard) and stopped at its end."""

from __future__ import annotations

import functools
from datetime import date

import pytest

from engine import compute_state as engine_compute_state
from engine.executors import LocalExecutor, RayExecutor, compute_state_on
from synthetic.book import generate_portfolio

AS_OF = date(2026, 2, 28)

#: Ray runs each test's claims in this many partitions, so every test also crosses partition edges.
RAY_PARTITIONS = 3


@pytest.fixture(scope="session")
def ray_executor():
    executor = RayExecutor(num_cpus=2)
    yield executor
    executor.close()


@pytest.fixture(scope="session", params=["local", pytest.param("ray", marks=pytest.mark.ray)])
def executor(request):
    if request.param == "local":
        return LocalExecutor()
    return request.getfixturevalue("ray_executor")


@pytest.fixture(scope="session")
def compute_state(executor):
    """``engine.compute_state`` (same arguments) on the executor under test."""
    partitions = RAY_PARTITIONS if executor.name == "ray" else 1
    return functools.partial(compute_state_on, executor, partitions=partitions)


@pytest.fixture(scope="session")
def generated():
    """A seeded portfolio of 3 000 claims (claims, events)."""
    return generate_portfolio(3_000, 7)


@pytest.fixture(scope="session")
def generated_state(generated):
    """Its claim_state as of AS_OF, computed in one piece in this process."""
    return engine_compute_state(*generated, AS_OF)


@pytest.fixture(scope="session")
def generated_files(generated, tmp_path_factory):
    """The portfolio as claims.parquet and events.parquet, in small row groups (ranges skip some)."""
    folder = tmp_path_factory.mktemp("portfolio")
    claims, events = generated
    claims.write_parquet(folder / "claims.parquet", row_group_size=500)
    events.write_parquet(folder / "events.parquet", row_group_size=1500)
    return folder / "claims.parquet", folder / "events.parquet"
