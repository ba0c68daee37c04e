"""A bounded load test of the HTTP API on loopback: `cession serve` with its production settings
(uvicorn workers, PostgreSQL) over a store of N claims, and agencies pulling and posting at once,
each scenario for a fixed time, then everything stopped and the schema dropped. It prints
requests/s and p50/p99 latency per scenario (BENCHMARKS.md quotes them).

    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    uv run python benchmarks/http_load.py --claims 1000000 --seconds 20 --workers 2 --clients 16

Scenarios, one after another (the load generator shares the machine's cores with the server):
- ``post``: each client posts batches of 100 payments (new external ids, one Idempotency-Key a
  batch) to claims placed with its agency; events/s = requests/s x 100;
- ``page``: each client reads its agency's open placements 1000 a page, following next_cursor and
  starting over at the end;
- ``balance``: each client asks the balance of a random claim placed with its agency (computed by
  the engine from the claim's stored events);
- ``mixed``: a third of the clients each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
AGENCIES = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(url: str, claims: int, placed: int) -> tuple[str, dict[str, list[int]], dict[str, str]]:
    """A schema of its own with ``claims`` claims (and their events), ``placed`` of them placed
    with the agencies (round robin), and one key per agency: (schema URL, claims per agency, keys)."""
    from urllib.parse import quote

    from api.keys import service as keys
    from engine.store import records
    from engine.store.database import open_store
    from engine.store.models import Agency, Placement
    from synthetic.book import generate_portfolio

    schema = f"load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    separator = "&" if "?" in url else "?"
    schema_url = f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    store = open_store(schema_url)
    started = time.perf_counter()
    claim_frame, event_frame = generate_portfolio(claims, 1)
    records.load(store, claim_frame, event_frame)
    ids = claim_frame.get_column("claim_id").to_list()[:placed]
    mine = {f"AG{k + 1}": ids[k::AGENCIES] for k in range(AGENCIES)}
    with store.begin() as conn:
        conn.execute(sa.insert(Agency.__table__), [{"agency_id": a, "name": f"Agency {a}"} for a in mine])
        for agency, claim_ids in mine.items():
            rows = [
                {"claim_id": c, "agency_id": agency, "placed_on": date(2026, 1, 5), "recalled_on": None}
                for c in claim_ids
            ]
            for i in range(0, len(rows), 10_000):
                conn.execute(sa.insert(Placement.__table__), rows[i : i + 10_000])
        conn.exec_driver_sql("ANALYZE")
    made = {a: keys.create(store=store, role="agency", agency_id=a).key for a in mine}
    store.dispose()
    print(
        f"setup: {claims:,} claims, {event_frame.height:,} events, {placed:,} placed, {time.perf_counter() - started:.0f} s"
    )
    return schema_url, mine, made


def drop(url: str, schema_url: str) -> None:
    schema = schema_url.rsplit("search_path%3D", 1)[-1]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


async def _client(kind, base, key, claims, until, latencies, counter, rng):
    headers = {"Authorization": f"Bearer {key}"}
    cursor = None
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
        while time.perf_counter() < until:
            started = time.perf_counter()
            if kind == "post":
                n = next(counter)
                events = [
                    {
                        "claim_id": rng.choice(claims),
                        "kind": "payment",
                        "event_date": "2026-12-01",
                        "amount": f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d}",
                        "external_id": f"load-{n}-{i}",
                    }
                    for i in range(100)
                ]
                response = await http.post(
                    "/v1/agency/events", json={"events": events}, headers={"Idempotency-Key": f"load-{n}"}
                )
                expected = 201
            elif kind == "page":
                params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
                response = await http.get("/v1/agency/placements", params=params)
                expected = 200
                if response.status_code == 200:
                    cursor = response.json()["next_cursor"]
            else:
                response = await http.get(f"/v1/agency/claims/{rng.choice(claims)}/balance?as_of=2026-12-01")
                expected = 200
            elapsed = time.perf_counter() - started
            if response.status_code != expected:
                raise SystemExit(f"{kind}: {response.status_code} {response.text[:300]}")
            latencies[kind].append(elapsed)


async def scenario(name, kinds, base, mine, keys_, clients, seconds, counter):
    latencies: dict[str, list[float]] = {k: [] for k in ("post", "page", "balance")}
    rng = random.Random(7)
    agencies = list(mine)
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    tasks = []
    for i in range(clients):
        agency = agencies[i % len(agencies)]
        kind = kinds[i % len(kinds)]
        seeded = random.Random(rng.random())
        tasks.append(_client(kind, base, keys_[agency], mine[agency], until, latencies, counter, seeded))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - started
    rows = []
    for kind, got in latencies.items():
        if not got:
            continue
        got.sort()
        p99 = got[min(len(got) - 1, int(len(got) * 0.99))]
        row = {
            "scenario": name,
            "request": kind,
            "requests": len(got),
            "per_second": round(len(got) / wall, 1),
            "p50_ms": round(statistics.median(got) * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        }
        if kind == "post":
            row["events_per_second"] = round(len(got) * 100 / wall)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--placed", type=int, default=None, help="claims placed with the agencies (default: a tenth)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--scenarios", default="post,page,balance,mixed")
    args = parser.parse_args()
    url = os.environ.get("CESSION_BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        raise SystemExit("set CESSION_BENCH_DATABASE_URL to a PostgreSQL database (production settings)")
    schema_url, mine, keys_ = setup(url, args.claims, args.placed or max(AGENCIES * 1000, args.claims // 10))
    port = _free_port()
    env = dict(os.environ, CESSION_DATABASE_URL=schema_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {server.stderr.read() if server.stderr else ''}")
            time.sleep(0.2)
        # one request of each kind warms every worker's imports (numba's kernels load on the first balance)
        warm = {"Authorization": f"Bearer {next(iter(keys_.values()))}"}
        first = next(iter(mine.values()))[0]
        for _ in range(args.workers * 4):
            httpx.get(f"{base}/v1/agency/claims/{first}/balance", headers=warm, timeout=120)
        counter = iter(range(10**12))
        kinds = {"post": ["post"], "page": ["page"], "balance": ["balance"], "mixed": ["post", "page", "balance"]}
        results = []
        for name in args.scenarios.split(","):
            rows = asyncio.run(scenario(name, kinds[name], base, mine, keys_, args.clients, args.seconds, counter))
            for row in rows:
                print(json.dumps(row))
            results += rows
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        drop(url, schema_url)
    print(
        f"{args.claims:,} claims, {args.workers} workers, {args.clients} clients, {args.seconds:.0f} s a scenario, "
        f"{os.cpu_count()} cores, {date.today()}"
    )


if __name__ == "__main__":
    main()
