"""``python -m tests.warm_kernels``: the engine's kernels compiled into numba's cache (``cache=True``),
as a fresh clone must do once: ~100-200 s of one core, the suite's largest item. The root
conftest.py starts this beside the first tests (those that never run the kernels), so the compile
takes the other core instead of the suite's time; a kernel found in the cache loads in ~1 s."""

from __future__ import annotations

from datetime import date


def main() -> None:
    from engine import compute_state
    from engine.interest import calculate_interest
    from engine.limitation import explain_limitation
    from synthetic.book import generate_portfolio

    claims, events = generate_portfolio(200, 1)
    compute_state(claims, events, date(2026, 2, 28), allow_stale_rates=True)  # the book's kernel
    # one claim through the same kernel, explained (its own compiled entry)
    calculate_interest(100_000, date(2020, 1, 15), date(2024, 6, 30), "statutory_late", allow_stale_rates=True)
    explain_limitation(date(2019, 3, 1), "periodic", as_of=date(2026, 2, 28))


if __name__ == "__main__":
    main()
