"""The kernel's CPU time on one portfolio with its events thinned (a quick A/B of kernel changes,
run under NUMBA_NUM_THREADS=1 so process CPU time is one thread's work and a busy machine
disturbs it less than wall time):

    NUMBA_NUM_THREADS=1 PYTHONPATH=TREE python benchmarks/kernel_modes.py MODE ROUNDS [PORTFOLIO_DIR]

MODE: ``none`` (no events: accrual and the limitation of each claim alone), ``payments`` (payments
only) or ``all``. ``commercial_late_medical`` claims are read as ``commercial_late`` so that a tree
from before that basis reads the same portfolio. Prints the median and minimum of wall and CPU
seconds of ``run_kernel`` over ROUNDS rounds (outputs reused, the JIT warm-up outside)."""

import statistics
import sys
import time
from datetime import date

import polars as pl

try:
    from engine.inputs import prepare
    from engine.kernel_run import run_kernel
except ImportError:  # a tree from before the engine split (issue 16), for an A/B against it
    from engine.state import prepare, run_kernel


def main() -> None:
    mode, rounds = sys.argv[1], int(sys.argv[2])
    folder = sys.argv[3] if len(sys.argv) > 3 else "/tmp/p1m"
    claims = pl.read_parquet(f"{folder}/claims.parquet").with_columns(
        pl.col("interest_basis").replace("commercial_late_medical", "commercial_late")
    )
    events = pl.read_parquet(f"{folder}/events.parquet")
    if mode == "none":
        events = events.head(0)
    elif mode == "payments":
        events = events.filter(pl.col("kind") == "payment")
    elif mode != "all":
        raise SystemExit(f"MODE: none, payments or all, not {mode!r}")
    prepared = prepare(claims, events, date(2026, 10, 31), allow_stale_rates=True)
    out = run_kernel(prepared)
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        run_kernel(prepared, out=out)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"{mode}: wall median {statistics.median(walls):.4f} min {min(walls):.4f} s; "
        f"CPU median {statistics.median(cpus):.4f} min {min(cpus):.4f} s"
    )


if __name__ == "__main__":
    main()
