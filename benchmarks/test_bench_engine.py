"""Engine speed: the kernel alone, compute_state from frames, and the plain-Python reference.

Run: uv run pytest benchmarks/test_bench_engine.py  (sizes: see conftest.py). Figures: BENCHMARKS.md.
"""

import pytest

from benchmarks.conftest import AS_OF
from engine import compute_state
from engine.inputs import prepare
from engine.kernel_run import run_kernel
from tests.reference.engine_reference import reference_claim_state

REFERENCE_CLAIMS = 2_000  # the oracle is slow: time it on a slice and compare per claim


@pytest.mark.benchmark(group="engine")
def test_kernel(benchmark, portfolio):
    """The kernel into output arrays allocated once (as ``cession state`` reuses its chunk buffers)."""
    claims, events = portfolio
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    out = run_kernel(prepared)  # JIT warm-up (and cache) outside the timer, and the output's first touch
    assert benchmark(run_kernel, prepared, out=out) is out
    benchmark.extra_info.update(claims=claims.height, events=events.height)


@pytest.mark.benchmark(group="engine")
def test_kernel_fresh_output(benchmark, portfolio):
    """The kernel into new output arrays each round (``compute_state``): on this VM the first touch
    of fresh memory costs as much as the kernel's own work at 10M claims (BENCHMARKS.md)."""
    claims, events = portfolio
    prepared = prepare(claims, events, AS_OF, allow_stale_rates=True)
    run_kernel(prepared)
    out = benchmark(run_kernel, prepared)
    benchmark.extra_info.update(claims=claims.height, events=events.height)
    assert out.claims == claims.height


@pytest.mark.benchmark(group="engine")
def test_compute_state(benchmark, portfolio):
    claims, events = portfolio
    compute_state(claims.head(100), events.head(0), AS_OF, allow_stale_rates=True)
    state = benchmark.pedantic(
        compute_state, args=(claims, events, AS_OF), kwargs={"allow_stale_rates": True}, rounds=3, iterations=1
    )
    benchmark.extra_info.update(claims=claims.height, events=events.height)
    assert state.num_rows == claims.height


@pytest.mark.slow
@pytest.mark.benchmark(group="reference")
def test_reference_on_a_slice(benchmark, portfolio):
    claims, events = portfolio
    some = claims.head(REFERENCE_CLAIMS)
    ids = some.get_column("claim_id").implode()
    their_events = events.filter(events["claim_id"].is_in(ids))
    claim_rows, event_rows = some.to_dicts(), their_events.to_dicts()
    rows = benchmark.pedantic(reference_claim_state, args=(claim_rows, event_rows, AS_OF), rounds=1, iterations=1)
    benchmark.extra_info.update(claims=len(claim_rows), events=len(event_rows))
    assert len(rows) == len(claim_rows)
