"""Read throughput of the store: every claim and event (all docs/data-contract.md columns) in one snapshot, as
`cession run` reads them (two connections, Arrow over binary COPY), then in id order.

    uv run python -m benchmarks.store_read postgresql+psycopg://postgres@127.0.0.1:5432/cession_bench 3
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from engine.store import records
from engine.store.bulk import in_id_order, read_snapshot
from engine.store.database import open_store


def main(url: str, rounds: int = 3) -> None:
    engine = open_store(url)
    times = []
    for i in range(rounds):
        load = os.getloadavg()[0]
        started = time.perf_counter()
        read = read_snapshot(engine, {"claims": records.claims_query(), "events": records.events_query()})
        done = time.perf_counter()
        claims, events = in_id_order(read["claims"], "claim_id"), in_id_order(read["events"], "event_id")
        ordered = time.perf_counter()
        rows = claims.height + events.height
        times.append(done - started)
        print(
            f"read {i + 1}: {done - started:.2f} s ({rows / (done - started):,.0f} rows/s; {claims.height:,} claims "
            f"+ {events.height:,} events), id order {ordered - done:.2f} s, load average before {load:.2f}",
            flush=True,
        )
        del read, claims, events
    print(f"median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3)
