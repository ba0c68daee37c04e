"""A bounded load test of the HTTP API on loopback: `cession serve` with its production settings
(uvicorn workers, PostgreSQL) over a store of N claims, and agencies pulling and posting at once,
each scenario for a fixed time, then everything stopped and the schema dropped. It prints
requests/s and p50/p99 latency per scenario (BENCHMARKS.md quotes them).

    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
    uv run python benchmarks/http_load.py --claims 1000000 --seconds 20 --workers 2 --clients 16

Scenarios, one after another (the load generator shares the machine's cores with the server):
- ``post``: each client posts batches of 100 payments (new external ids, one Idempotency-Key a
  batch) to claims of the first half of those placed with its agency; events/s = requests/s x 100;
- ``page``: each client reads its agency's open placements 1000 a page, following next_cursor and
  starting over at the end;
- ``balance``: each client asks the balance of a random claim of the second half of those placed
  with its agency (computed by the engine from the claim's stored events: none posted by a run);
- ``mixed``: a third of the clients each; ``2post+page+balance``: so many clients of each kind at once.

``--clients 1,2,4`` runs each one-kind scenario at each count (one server, one warm-up).
``--schema NAME --keep`` keeps the store for the next run, which then uses it as it is (setting up
1M claims takes minutes); drop it with ``DROP SCHEMA NAME CASCADE`` when done. The clients are one
process with a light HTTP/1.1 client (``Connection``): the figures measure the server, not httpx.
``workers`` in a row (Linux): which clients' connections each server process held a second in,
e.g. ``balance+post | page`` (requests in one worker wait for each other's GIL, not for another's).
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


def schema_url_of(url: str, schema: str) -> str:
    from urllib.parse import quote

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def reuse(url: str, schema: str) -> tuple[str, dict[str, list[int]], dict[str, str]] | None:
    """The store a run with ``--keep`` left in ``schema`` (None when there is none): its agencies'
    claims and a new key per agency (a key is shown once: the old ones are not known)."""
    from api.keys import service as keys
    from engine.store.database import open_store

    admin = sa.create_engine(url)
    with admin.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %(s)s AND table_name = 'placements'",
            {"s": schema},
        ).first()
    admin.dispose()
    if found is None:
        return None
    schema_url = schema_url_of(url, schema)
    store = open_store(schema_url)
    with store.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT agency_id, claim_id FROM placements WHERE recalled_on IS NULL ORDER BY placement_id"
        ).all()
    mine: dict[str, list[int]] = {}
    for agency, claim in rows:
        mine.setdefault(agency, []).append(claim)
    made = {a: keys.create(store=store, role="agency", agency_id=a).key for a in sorted(mine)}
    store.dispose()
    print(f"reused schema {schema}: {len(rows):,} placed with {len(mine)} agencies")
    return schema_url, dict(sorted(mine.items())), made


def setup(
    url: str, claims: int, placed: int, schema: str | None = None
) -> tuple[str, dict[str, list[int]], dict[str, str]]:
    """A schema of its own with ``claims`` claims (and their events), ``placed`` of them placed
    with the agencies (round robin), and one key per agency: (schema URL, claims per agency, keys)."""
    from api.keys import service as keys
    from engine.store import records
    from engine.store.database import open_store
    from engine.store.models import Agency, Placement
    from synthetic.book import generate_portfolio

    schema = schema or f"load_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    schema_url = schema_url_of(url, schema)
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
    with_debtors_and_state(store, claim_frame)
    made = {a: keys.create(store=store, role="agency", agency_id=a).key for a in mine}
    store.dispose()
    print(
        f"setup: {claims:,} claims, {event_frame.height:,} events, {placed:,} placed, {time.perf_counter() - started:.0f} s"
    )
    return schema_url, mine, made


def with_debtors_and_state(store: sa.Engine, claim_frame) -> None:
    """The claims' debtors and an engine run (claim_state as of 2026-11-30): a page of placements
    then carries each claim's debtor and stored balance, as in production."""
    from api.claims import service as claims_service
    from api.runs import service as runs
    from synthetic.book import generate_debtors

    claims_service.load_debtors(store=store, debtors=generate_debtors(claim_frame, 1))
    runs.run(store=store, as_of=date(2026, 11, 30), allow_stale_rates=True)
    with store.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def drop(url: str, schema_url: str) -> None:
    schema = schema_url.rsplit("search_path%3D", 1)[-1]
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


class Connection:
    """A light HTTP/1.1 client on one keep-alive connection (asyncio streams, a request written as
    bytes, a response read by its Content-Length): the load generator shares the machine's cores
    with the server, and httpx's per-request work (~1 ms of Python) was a good part of them."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {key}\r\nHost: {host}:{port}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: str = "") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\n{headers}"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + self.auth + b"\r\n" + body)
        status_line_and_headers = await self.reader.readuntil(b"\r\n\r\n")
        lines = status_line_and_headers.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
            elif name.lower() == b"transfer-encoding":
                raise SystemExit(f"{path}: a chunked response ({value.strip().decode()}): not expected here")
        return status, await self.reader.readexactly(length or 0)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def _next_cursor(body: bytes) -> str | None:
    """The page's next_cursor without parsing its thousand items (it is the body's last field)."""
    at = body.rfind(b'"next_cursor":')
    return json.loads(body[at + len(b'"next_cursor":') : body.rindex(b"}")])


async def _client(kind, host, port, key, claims, until, latencies, counter, rng, opened=None):
    connection = Connection(host, port, key)
    cursor = None
    try:
        while time.perf_counter() < until:
            if opened is not None and connection.writer is not None and connection not in opened:
                opened[connection] = kind
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
                body = json.dumps({"events": events}, separators=(",", ":")).encode()
                status, answer = await connection.request(
                    "POST", "/v1/agency/events", body, f"Idempotency-Key: load-{n}\r\n"
                )
                expected = 201
            elif kind == "page":
                path = "/v1/agency/placements?limit=1000" + (f"&cursor={cursor}" if cursor else "")
                status, answer = await connection.request("GET", path)
                expected = 200
                if status == 200:
                    cursor = _next_cursor(answer)
            else:
                status, answer = await connection.request(
                    "GET", f"/v1/agency/claims/{rng.choice(claims)}/balance?as_of=2026-12-01"
                )
                expected = 200
            elapsed = time.perf_counter() - started
            if status != expected:
                raise SystemExit(f"{kind}: {status} {answer[:300]!r}")
            latencies[kind].append(elapsed)
    finally:
        await connection.close()


def kinds_of(name: str, clients: int) -> list[str]:
    """Each client's kind: ``post`` (or ``page``, ``balance``) is ``clients`` of one kind; a mix such
    as ``2post+page+balance`` names each kind's clients (``mixed``: ``clients`` in thirds)."""
    if name == "mixed":
        return [("post", "page", "balance")[i % 3] for i in range(clients)]
    if "+" not in name:
        return [name] * clients
    out = []
    for part in name.split("+"):
        count = part.rstrip("abcdefghijklmnopqrstuvwxyz")
        out += [part[len(count) :]] * int(count or 1)
    return out


def _children(pid: int) -> list[int]:
    """``pid``'s processes below it (uvicorn's or cession's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found + [p for child in found for p in _children(child)]


def placed_where(server_pid: int, opened: dict) -> str:
    """Which worker serves which client's connection, e.g. ``post+balance | page`` (Linux /proc):
    with several workers, a request waits for another in its worker (the GIL), not in another."""
    by_port = {c.writer.get_extra_info("sockname")[1]: kind for c, kind in opened.items() if c.writer}
    inode_of = {}  # the server side of each client's connection: its socket's inode
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote = int(fields[2].split(":")[1], 16)
        if remote in by_port and fields[3] == "01":  # ESTABLISHED
            inode_of[fields[9]] = by_port[remote]
    groups = []
    for pid in _children(server_pid):
        kinds = []
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inode_of:
                    kinds.append(inode_of[target[8:-1]])
        except OSError:
            continue
        if kinds:
            groups.append("+".join(sorted(kinds)))
    return " | ".join(sorted(groups))


async def scenario(name, kinds, host, port, mine, keys_, seconds, counter, server_pid=None):
    latencies: dict[str, list[float]] = {k: [] for k in ("post", "page", "balance")}
    opened: dict = {}
    rng = random.Random(7)
    agencies = list(mine)
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    tasks = []
    for i, kind in enumerate(kinds):
        if kind not in latencies:
            raise SystemExit(f"{name}: no such request kind {kind!r} (post, page, balance)")
        agency = agencies[i % len(agencies)]
        seeded = random.Random(rng.random())
        claims = mine[agency]
        # posts go to the first half of an agency's claims, balances read the second: a kept store's
        # balances stay those of the claims as built (~3 events each), not of claims that earlier
        # runs' posts piled payments on (AG1's claims had ~100 events each after an evening of runs)
        half = claims[: len(claims) // 2] if kind == "post" else claims[len(claims) // 2 :]
        tasks.append(_client(kind, host, port, keys_[agency], half, until, latencies, counter, seeded, opened))
    where = []

    async def look() -> None:
        await asyncio.sleep(min(1.0, seconds / 2))
        if server_pid is not None and sys.platform == "linux":
            where.append(placed_where(server_pid, opened))

    await asyncio.gather(*tasks, look())
    wall = time.perf_counter() - started
    rows = []
    for kind, got in latencies.items():
        if not got:
            continue
        got.sort()
        p99 = got[min(len(got) - 1, int(len(got) * 0.99))]
        row = {
            "scenario": name,
            "clients": len(kinds),
            "request": kind,
            "requests": len(got),
            "per_second": round(len(got) / wall, 1),
            "p50_ms": round(statistics.median(got) * 1000, 1),
            "p99_ms": round(p99 * 1000, 1),
        }
        if kind == "post":
            row["events_per_second"] = round(len(got) * 100 / wall)
        if where:
            row["workers"] = where[0]
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--placed", type=int, default=None, help="claims placed with the agencies (default: a tenth)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--clients", default="16", help="clients of a one-kind scenario; several (1,2,4): each scenario at each"
    )
    parser.add_argument("--scenarios", default="post,page,balance,mixed")
    parser.add_argument(
        "--schema", default=None, help="the store's schema: used as it is when a --keep run left it, else made"
    )
    parser.add_argument("--keep", action="store_true", help="keep the schema (default: dropped at the end)")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="serve the code of this checkout (an A/B against another commit)"
    )
    args = parser.parse_args()
    url = os.environ.get("CESSION_BENCH_DATABASE_URL")
    if not url or not url.startswith("postgresql"):
        raise SystemExit("set CESSION_BENCH_DATABASE_URL to a PostgreSQL database (production settings)")
    found = reuse(url, args.schema) if args.schema else None
    if found is None:
        placed = args.placed or max(AGENCIES * 1000, args.claims // 10)
        found = setup(url, args.claims, placed, args.schema)
    schema_url, mine, keys_ = found
    port = _free_port()
    env = dict(os.environ, CESSION_DATABASE_URL=schema_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(args.workers)],
        cwd=args.tree,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        print(f"load average before: {os.getloadavg()}", flush=True)
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
            httpx.get(f"{base}/v1/agency/claims/{first}/balance", headers=warm, timeout=900)
        counter = iter(range(time.time_ns() // 10**6 * 1000, 10**18))  # external ids new in a reused store
        results = []
        for name in filter(None, args.scenarios.split(",")):
            for clients in [int(c) for c in str(args.clients).split(",")] if "+" not in name else [0]:
                kinds = kinds_of(name, clients)
                rows = asyncio.run(
                    scenario(name, kinds, "127.0.0.1", port, mine, keys_, args.seconds, counter, server.pid)
                )
                for row in rows:
                    print(json.dumps(row), flush=True)
                results += rows
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            drop(url, schema_url)
    print(
        f"schema {schema_url.rsplit('%3D', 1)[-1]}, {args.workers} workers, {args.seconds:.0f} s a scenario, "
        f"{os.cpu_count()} cores, {date.today()}, served from {args.tree}, load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
