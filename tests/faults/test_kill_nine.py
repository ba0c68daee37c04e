"""Fault injection: `cession ingest`, `load`, `run` and `state` killed with SIGKILL at random
moments (seeded), on SQLite and PostgreSQL, and after each kill every invariant checked:

- the store is as it was before the command (same digest) or holds the command's new state whole;
- no orphan rows (claims without a portfolio, events without a claim, debtors without a claim,
  claim_state and claim_payments rows no portfolio points at, runs still ``running`` once the next
  command recovered);
- no orphan tables (staging tables, unattached claim_state or claim_payments partitions) and every
  index back;
- no files left once the next command cleaned (private folders, partial outputs), and nothing
  ever in the shared temporary folder;
- a report for every committed ingest (its files, or its reject lines kept in the store);
- and finally the command run again succeeds, with the new state whole.

Sized by env: CESSION_FAULT_KILLS kills per command and store (default 2, for CI),
CESSION_FAULT_ROWS rows of the input files (default 3000), CESSION_FAULT_SEED (default 15).
The counts are printed at the end and, with CESSION_FAULT_REPORT=FILE, written there as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from engine.store import records, runs
from engine.store.database import StoreError, open_store
from engine.store.scratch import STAGED_OUTPUT, scratch_root, sweep_outputs
from engine.totals import state_digest
from synthetic.book import generate_portfolio, write_portfolio
from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv
from tests.store.conftest import POSTGRES_URL, _postgres_schema_url

pytestmark = [
    pytest.mark.faults,
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="the kills are timed by /proc/PID/fd (Linux)"),
]

ROOT = Path(__file__).parents[2]
CESSION = [sys.executable, "-c", "from api.cli import main; main()"]  # as the installed `cession` runs
KILLS = int(os.environ.get("CESSION_FAULT_KILLS", "2"))
ROWS = int(os.environ.get("CESSION_FAULT_ROWS", "3000"))
SEED = int(os.environ.get("CESSION_FAULT_SEED", "15"))
BEFORE, AFTER = date(2026, 1, 31), date(2026, 2, 28)
#: the business tables whose content is the store's state (engine_runs and audit_log record history)
STATE_TABLES = ("portfolios", "claims", "events", "debtors", "debtor_keys", "ingest_files", "claim_state")


@dataclass
class Tally:
    """What the suite did: kills sent, commands that ended before their kill, invariants checked."""

    kills: int = 0
    ended_before_kill: int = 0
    invariants: int = 0
    violations: int = 0
    reruns: int = 0
    by_case: dict = field(default_factory=dict)

    def check(self, holds: bool, what: str) -> None:
        self.invariants += 1
        self.violations += not holds
        assert holds, what


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def tally_report():
    yield
    counts = {
        "kills": TALLY.kills,
        "ended_before_kill": TALLY.ended_before_kill,
        "invariants_checked": TALLY.invariants,
        "reruns_succeeded": TALLY.reruns,
        "violations": TALLY.violations,
        "by_case": TALLY.by_case,
    }
    print(f"\nfault injection: {json.dumps(counts)}")
    if os.environ.get("CESSION_FAULT_REPORT"):
        Path(os.environ["CESSION_FAULT_REPORT"]).write_text(json.dumps(counts, indent=2) + "\n")


# --------------------------------------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    claims, events = write_portfolio(folder, *generate_portfolio(ROWS, SEED))
    frame, _ = seller_file(ROWS, seed=SEED)
    seller = write_seller_csv(frame, folder / "eksport.csv")
    return {
        "claims": claims,
        "events": events,
        "seller": seller,
        "claims_n": pl.read_parquet(claims).height,
        "events_n": pl.read_parquet(events).height,
    }


class Stores:
    """Fresh stores of one kind (a SQLite file; a PostgreSQL schema of its own, dropped at the end)."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind, self.folder, self.schemas, self.made = kind, folder, [], 0

    def fresh(self) -> str:
        self.made += 1
        if self.kind == "sqlite":
            return f"sqlite:///{self.folder / f'store-{self.made}' / 'cession.db'}"
        schema = f"f_{os.getpid()}_{random.Random().getrandbits(40):x}"
        with sa.create_engine(POSTGRES_URL).begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        return _postgres_schema_url(POSTGRES_URL, schema)

    def drop(self) -> None:
        if self.schemas:
            admin = sa.create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                for schema in self.schemas:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stores(request, tmp_path):
    if request.param == "postgresql" and not POSTGRES_URL:
        pytest.skip("PostgreSQL: set CESSION_TEST_DATABASE_URL to run the fault injection on it")
    made = Stores(request.param, tmp_path)
    yield made
    made.drop()


@pytest.fixture
def env(tmp_path):
    """The commands' environment: a temporary folder of their own that must stay empty, and the
    user data folder (a PostgreSQL store's private folders) under the test's."""
    shared_tmp = tmp_path / "shared-tmp"
    shared_tmp.mkdir()
    return dict(os.environ, TMPDIR=str(shared_tmp), XDG_DATA_HOME=str(tmp_path / "data"), COLUMNS="120")


# --------------------------------------------------------------------------------------------- the store
def digest(engine: sa.Engine) -> str:
    """sha256 of the rows of the store's state tables (each table's rows sorted)."""
    h = hashlib.sha256()
    with engine.connect() as conn:
        for table in STATE_TABLES:
            rows = sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f"SELECT * FROM {table}"))
            h.update(f"{table}:{len(rows)}\n".encode())
            for r in rows:
                h.update(r.encode())
    return h.hexdigest()


def shape(engine_or_conn: sa.Engine | sa.Connection) -> tuple[set, dict]:
    """The store's tables and each table's indexes (partitions of claim_state and claim_payments aside)."""
    inspector = sa.inspect(engine_or_conn)
    tables = set(inspector.get_table_names())
    base = {t for t in tables if not t.startswith(("claim_state_run_", "claim_payments_run_"))}
    return tables, {t: sorted(i["name"] for i in inspector.get_indexes(t)) for t in sorted(base)}


def count(conn, query: str) -> int:
    return conn.exec_driver_sql(query).scalar()


def check_store(engine: sa.Engine, reference: tuple[set, dict], tally: Tally, reports: Path | None = None) -> None:
    """The invariants that hold of every store after any kill, once the next command recovered."""
    with engine.connect() as conn:
        orphans = {
            "claims without a portfolio": "SELECT count(*) FROM claims c WHERE NOT EXISTS "
            "(SELECT 1 FROM portfolios p WHERE p.portfolio_id = c.portfolio_id)",
            "events without a claim": "SELECT count(*) FROM events e WHERE NOT EXISTS "
            "(SELECT 1 FROM claims c WHERE c.claim_id = e.claim_id)",
            "debtors without a claim": "SELECT count(*) FROM debtors d WHERE NOT EXISTS "
            "(SELECT 1 FROM claims c WHERE c.debtor_id = d.debtor_id)",
            "match keys without a debtor": "SELECT count(*) FROM debtor_keys k WHERE NOT EXISTS "
            "(SELECT 1 FROM debtors d WHERE d.debtor_id = k.debtor_id)",
            "claim_state rows no portfolio points at": "SELECT count(*) FROM claim_state s WHERE NOT EXISTS "
            "(SELECT 1 FROM portfolios p WHERE p.portfolio_id = s.portfolio_id AND p.current_run_id = s.run_id)",
            "claim_payments rows no portfolio points at": "SELECT count(*) FROM claim_payments cp WHERE NOT EXISTS "
            "(SELECT 1 FROM claims c JOIN portfolios p ON p.portfolio_id = c.portfolio_id "
            "WHERE c.claim_id = cp.claim_id AND p.current_run_id = cp.run_id)",
            "runs still marked running": "SELECT count(*) FROM engine_runs WHERE status = 'running'",
            "portfolios pointing at a run that did not succeed": "SELECT count(*) FROM portfolios p JOIN engine_runs r "
            "ON r.run_id = p.current_run_id WHERE r.status <> 'succeeded'",
        }
        for what, query in orphans.items():
            tally.check(count(conn, query) == 0, what)
        tables, indexes = shape(conn)
        attached = set()
        if engine.dialect.name == "postgresql":
            attached = set(
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent IN ('claim_state'::regclass, 'claim_payments'::regclass)"
                ).scalars()
            )
        tally.check(
            tables == reference[0] | attached, f"orphan or missing tables: {tables ^ (reference[0] | attached)}"
        )
        tally.check(indexes == reference[1], "indexes not as migrated")
        check_reports(conn, tables, reports, tally)


def check_reports(conn, tables: set, reports: Path | None, tally: Tally) -> None:
    """Every committed ingest has its reject report: its lines in the store where the store keeps
    them (ingest_rejects), else the report file (every rejected row in it)."""
    for ingest_id, rejected, _details in conn.exec_driver_sql("SELECT ingest_id, rejected, details FROM ingest_files"):
        if "ingest_rejects" in tables:
            kept = count(conn, f'SELECT count(DISTINCT "row") FROM ingest_rejects WHERE ingest_id = {int(ingest_id)}')
            tally.check(kept == rejected, f"ingest {ingest_id}: {kept} of its {rejected} rejected rows in the store")
        else:
            report = reports.with_name(reports.name + ".rejects.csv") if reports else None
            rows = pl.read_csv(report)["row"].n_unique() if report is not None and report.exists() else None
            tally.check(
                rows == rejected, f"ingest {ingest_id}: its reject report {report} holds {rows} of {rejected} rows"
            )


def check_no_files(url: str, env: dict, outputs: Path | None, tally: Tally) -> None:
    """Nothing left behind once the next command cleaned, and nothing ever in the shared /tmp."""
    root = scratch_root(url) if url else None
    if root is not None:
        tally.check(not root.exists() or not any(root.iterdir()), f"private folders left in {root}")
    if outputs is not None and outputs.exists():
        left = [p.name for p in outputs.iterdir() if STAGED_OUTPUT.match(p.name)]
        tally.check(not left, f"staged outputs left: {left}")
    shared = sorted(p.name for p in Path(env["TMPDIR"]).iterdir())
    tally.check(not shared, f"files in the shared temporary folder: {shared}")


def next_command(url: str) -> sa.Engine:
    """What the next command does first: open the store (removing a killed run's private folder)
    and recover (runs marked running by a dead process marked failed, their rows dropped)."""
    engine = open_store(url)
    deadline = time.monotonic() + 300
    while True:
        try:
            runs.recover(engine)
            return engine
        except StoreError:  # the run lock is the database's: a run of another test (schema) holds it
            assert time.monotonic() < deadline, "the run lock was never free"
            time.sleep(0.2)


# ---------------------------------------------------------------------------------------------- kills
def started(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([*CESSION, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def touched(pid: int, marks: tuple[str, ...]) -> bool:
    """Whether process ``pid`` has a file open whose path starts with one of ``marks`` (a
    PostgreSQL connection: ``socket:``)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(marks):
            return True
    return False


def work_begins(process: subprocess.Popen, marks: tuple[str, ...]) -> float:
    """Seconds until the command touches its store or input (its start-up, imports, is over)."""
    begun = time.perf_counter()
    while process.poll() is None and not touched(process.pid, marks):
        time.sleep(0.002)
    return time.perf_counter() - begun


def marks(url: str, *inputs: Path) -> tuple[str, ...]:
    """What a command touches when its work begins: the store (its SQLite file, else a socket to
    PostgreSQL) or an input file."""
    store = (
        ()
        if not url
        else (str(Path(sa.engine.make_url(url).database).resolve()),)
        if url.startswith("sqlite")
        else ("socket:",)
    )
    return (*store, *(str(p.resolve()) for p in inputs))


def completed(args: list[str], env: dict, touches: tuple[str, ...] = ()) -> float:
    """Run a command to its end (it must succeed); the seconds of its work (from when it
    touches one of ``touches``; all its time without them)."""
    process = started(args, env)
    begins = work_begins(process, touches) if touches else 0.0
    begun = time.perf_counter()
    _, errors = process.communicate(timeout=600)
    assert process.returncode == 0, errors.decode()
    return time.perf_counter() - begun + (0.0 if touches else begins)


def kill_at_random(
    args: list[str], env: dict, touches: tuple[str, ...], seconds: float, rng: random.Random, tally: Tally
) -> bool:
    """Start a command and SIGKILL it at a random moment of its work (``seconds`` long when run
    whole, from when it touches one of ``touches``); whether it was killed (else it had ended on
    its own, and must have succeeded)."""
    process = started(args, env)
    work_begins(process, touches)
    time.sleep(rng.uniform(0.0, 1.1) * seconds)
    tally.kills += 1
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    _, errors = process.communicate(timeout=600)
    if process.returncode == -signal.SIGKILL:
        return True
    tally.ended_before_kill += 1
    assert process.returncode == 0, errors.decode()
    return False


def case(name: str, stores: Stores) -> tuple[str, random.Random]:
    key = f"{name}/{stores.kind}"
    TALLY.by_case[key] = 0
    return key, random.Random(f"{SEED}-{key}")


def reference_shape(stores: Stores) -> tuple[set, dict]:
    engine = open_store(stores.fresh())
    try:
        return shape(engine)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------- cases
def test_ingest_killed(inputs, stores, env, tmp_path):
    key, rng = case("ingest", stores)
    reference = reference_shape(stores)
    url, reports = stores.fresh(), tmp_path / "reports" / "eksport"
    args = [
        "ingest",
        str(inputs["seller"]),
        "--portfolio",
        "BANK-2024-06",
        "--profile",
        PROFILE,
        "--price",
        "250000",
        "--purchase-date",
        PURCHASE_DATE.isoformat(),
        "--reports",
        str(reports),
        "--json",
    ]
    own = [a if a != str(reports) else str(tmp_path / "calibration" / "eksport") for a in args]
    other = stores.fresh()
    seconds = completed([*own, "--database-url", other], env, marks(other))  # the time it takes, on a store of its own
    engine = open_store(url)
    before = digest(engine)

    def whole() -> bool:
        with engine.connect() as conn:
            ingested = conn.exec_driver_sql("SELECT rows_read, accepted, rejected FROM ingest_files").all()
            claims = count(conn, "SELECT count(*) FROM claims WHERE portfolio_id = 'BANK-2024-06'")
        return (
            len(ingested) == 1
            and ingested[0][0] == ROWS == ingested[0][1] + ingested[0][2]
            and claims == ingested[0][1]
        )

    for _ in range(KILLS):
        kill_at_random([*args, "--database-url", url], env, marks(url), seconds, rng, TALLY)
        TALLY.by_case[key] += 1
        engine.dispose()
        engine = next_command(url)
        TALLY.check(
            digest(engine) == before or whole(), "ingest: the store neither as before nor the file stored whole"
        )
        check_store(engine, reference, TALLY, reports)
        check_no_files(url, env, None, TALLY)
        before = digest(engine)
    completed([*args, "--database-url", url], env)
    TALLY.reruns += 1
    TALLY.check(whole(), "ingest: a rerun did not store the file whole")
    check_store(engine, reference, TALLY, reports)
    check_no_files(url, env, None, TALLY)
    staged = [p.name for p in reports.parent.iterdir() if p.name.startswith(".") or p.name.endswith(".staged")]
    TALLY.check(not staged, f"staged reports left after a rerun: {staged}")
    engine.dispose()


def test_load_killed(inputs, stores, env):
    key, rng = case("load", stores)
    reference = reference_shape(stores)
    url = stores.fresh()
    args = ["load", "--claims", str(inputs["claims"]), "--events", str(inputs["events"]), "--json"]
    other = stores.fresh()
    seconds = completed([*args, "--database-url", other], env, marks(other))
    engine = open_store(url)
    empty = digest(engine)

    def whole() -> bool:
        with engine.connect() as conn:
            return (count(conn, "SELECT count(*) FROM claims"), count(conn, "SELECT count(*) FROM events")) == (
                inputs["claims_n"],
                inputs["events_n"],
            )

    for _ in range(KILLS):
        kill_at_random([*args, "--database-url", url], env, marks(url), seconds, rng, TALLY)
        TALLY.by_case[key] += 1
        engine.dispose()
        engine = next_command(url)
        TALLY.check(digest(engine) == empty or whole(), "load: the store neither as before nor the files stored whole")
        check_store(engine, reference, TALLY)
        check_no_files(url, env, None, TALLY)
    completed([*args, "--database-url", url], env)
    TALLY.reruns += 1
    TALLY.check(whole(), "load: a rerun did not store the files whole")
    check_store(engine, reference, TALLY)
    engine.dispose()


def test_run_killed(inputs, stores, env):
    key, rng = case("run", stores)
    reference = reference_shape(stores)
    url = stores.fresh()
    engine = open_store(url)
    records.load(engine, pl.read_parquet(inputs["claims"]), pl.read_parquet(inputs["events"]))
    common = ["--allow-stale-rates", "--json", "--database-url", url]
    seconds = completed(["run", "--as-of", BEFORE.isoformat(), *common], env, marks(url))
    before = digest(engine)

    def whole(as_of: date) -> bool:
        """The portfolios point at a succeeded run of ``as_of`` whose rows are all there, as digested."""
        latest = next(r for r in runs.runs_list(engine, 100) if r.status == "succeeded")
        state = runs.read_state(engine)
        return (
            latest.as_of == as_of
            and state.height == inputs["claims_n"]
            and state_digest(state.to_arrow()) == latest.state_sha256
        )

    TALLY.check(whole(BEFORE), "run: the first run's state is not whole")
    for _ in range(KILLS):
        kill_at_random(["run", "--as-of", AFTER.isoformat(), *common], env, marks(url), seconds, rng, TALLY)
        TALLY.by_case[key] += 1
        engine.dispose()
        engine = next_command(url)
        TALLY.check(
            (digest(engine) == before and whole(BEFORE)) or whole(AFTER),
            "run: the stored state neither the previous one nor the new one whole",
        )
        check_store(engine, reference, TALLY)
        check_no_files(url, env, None, TALLY)
        before = digest(engine)
    completed(["run", "--as-of", AFTER.isoformat(), *common], env)
    TALLY.reruns += 1
    engine.dispose()
    engine = next_command(url)
    TALLY.check(whole(AFTER), "run: a rerun did not store the new state whole")
    check_store(engine, reference, TALLY)
    engine.dispose()


def test_state_killed(inputs, env, tmp_path):
    """`cession state` has no store: its output file (one day) or folder (several) is the previous
    one or the new one whole, and the next `cession state` there removes what a kill left."""
    TALLY.by_case["state"] = 0
    rng = random.Random(f"{SEED}-state")
    out = tmp_path / "out"
    base = [
        "state",
        "--claims",
        str(inputs["claims"]),
        "--events",
        str(inputs["events"]),
        "--allow-stale-rates",
        "--json",
    ]
    one = [*base, "--as-of", AFTER.isoformat(), "--out", str(out / "state.parquet")]
    series = [*base, "--as-of", f"{BEFORE.isoformat()},{AFTER.isoformat()}", "--out", str(out / "series")]
    touches = marks("", inputs["claims"])
    seconds = completed([*base, "--as-of", BEFORE.isoformat(), "--out", str(out / "state.parquet")], env, touches)

    def whole(path: Path, as_of: date) -> bool:
        table = pq.read_table(path)
        return table.num_rows == inputs["claims_n"] and set(table.column("as_of").to_pylist()) == {as_of}

    previous = (out / "state.parquet").read_bytes()
    for i in range(KILLS):
        args = series if i % 2 else one
        kill_at_random(args, env, touches, seconds, rng, TALLY)
        TALLY.by_case["state"] += 1
        sweep_outputs(out, say=False)  # what the next `cession state` writing there does first
        if args is one:
            now = (out / "state.parquet").read_bytes()
            TALLY.check(
                now == previous or whole(out / "state.parquet", AFTER), "state: the file neither old nor new whole"
            )
            previous = now
        else:
            files = sorted(p.name for p in (out / "series").iterdir()) if (out / "series").exists() else []
            TALLY.check(
                files in ([], ["state-2026-01-31.parquet", "state-2026-02-28.parquet"]),
                f"state: the series folder holds {files}",
            )
            if files:
                TALLY.check(
                    whole(out / "series" / files[0], BEFORE) and whole(out / "series" / files[1], AFTER),
                    "state: a series file is not whole",
                )
        check_no_files("", env, out, TALLY)
    for args in (one, series):
        completed(args, env)
        TALLY.reruns += 1
    TALLY.check(whole(out / "state.parquet", AFTER), "state: a rerun did not write the state whole")
    check_no_files("", env, out, TALLY)
