"""One claim's balance through the service the HTTP route calls (api/agency/service.py), in process:
no HTTP, no other clients, so an A/B of two commits on a busy machine still compares their work.

    PYTHONPATH=TREE uv run python benchmarks/balance_service.py URL [N]

URL: a store with placements (``http_load.py --schema NAME --keep`` leaves one); the first
agency's claims are asked in a seeded random order, N of them (default 2000) after 50 to warm up.
Prints the engine's module (which tree ran), and the median, p90 and p99 per balance.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import date

import sqlalchemy as sa


def main() -> None:
    import engine
    from api.agency import service
    from api.keys.service import Caller
    from engine.domain import KeyRole
    from engine.store.database import open_store

    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    store = open_store(url)
    with store.connect() as conn:
        agency = conn.execute(sa.text("SELECT min(agency_id) FROM placements")).scalar_one()
        claims = (
            conn.execute(
                sa.text("SELECT claim_id FROM placements WHERE agency_id = :a AND recalled_on IS NULL"), {"a": agency}
            )
            .scalars()
            .all()
        )
    caller = Caller("kbench", KeyRole.AGENCY, agency)
    rng = random.Random(1)
    took = []
    for i in range(n + 50):
        claim_id = rng.choice(claims)
        started = time.perf_counter()
        service.balance(store=store, caller=caller, claim_id=claim_id, as_of=date(2026, 12, 1))
        if i >= 50:
            took.append(time.perf_counter() - started)
    took.sort()
    ms = lambda q: f"{took[min(len(took) - 1, int(len(took) * q))] * 1000:.2f} ms"  # noqa: E731
    print(
        f"{engine.__file__}: {n} balances, median {statistics.median(took) * 1000:.2f} ms, "
        f"p90 {ms(0.9)}, p99 {ms(0.99)}"
    )


if __name__ == "__main__":
    main()
