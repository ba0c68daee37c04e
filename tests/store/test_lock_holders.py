"""A command about to wait for the store's lock learns who holds it, and an ingest says so."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.store import lock_holders
from engine.store.lock_holders import command_of, lock_holder
from ingest import ingest_file
from tests.ingest.test_ingest import GOOD, TODAY, canonical_csv

ROOT = Path(__file__).parents[2]

# holds the ingest lock (SQLite: the write lock; PostgreSQL: ingest's table lock) until stdin closes
HOLDER = textwrap.dedent("""
    import sys
    from engine.store import ingests
    from engine.store.database import engine_at
    engine = engine_at(sys.argv[1])
    with engine.begin() as conn:
        ingests.lock(conn)
        print("held", flush=True)
        sys.stdin.read()
""")


def hold(url: str) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_holder_of_the_store_lock_is_named_by_its_pid(store, store_url):
    assert lock_holder(store) is None
    holder = hold(store_url)
    try:
        named = lock_holder(store)
        assert named is not None and f"pid {holder.pid}" in named, named
    finally:
        holder.communicate("")
    assert lock_holder(store) is None


def test_an_ingest_waiting_for_the_lock_says_whom_it_waits_for(store, store_url, tmp_path, monkeypatch):
    """SQLite waits at a transaction's begin (``lock_holders.on_wait`` hears it), PostgreSQL at
    ingest's table lock (a progress stage): either way the holder is named before the wait."""
    path = canonical_csv(tmp_path / "file.csv", [GOOD])
    holder = hold(store_url)
    said = []

    def release(named: str) -> None:
        said.append(named)
        if holder.returncode is None:
            holder.communicate("")  # the lock is freed; the ingest goes on

    def on_progress(stage: str, done: int, total: int | None) -> None:
        if stage.startswith("waiting"):
            release(stage.removeprefix("waiting for the store's lock held by "))

    monkeypatch.setattr(lock_holders, "on_wait", release)
    try:
        report = ingest_file(store, path, "P1", today=TODAY, on_progress=on_progress)
    finally:
        if holder.returncode is None:
            holder.communicate("")
    assert len(said) == 1 and f"pid {holder.pid}" in said[0] and ("started" in said[0] or "since" in said[0]), said
    assert report.accepted == 1


@pytest.mark.slow
def test_a_command_waiting_for_the_lock_says_so_on_stderr_and_goes_on_when_it_is_free(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "upgrade", "--database-url", url],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    holder = hold(url)
    waiting = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "runs", "--json", "--database-url", url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = waiting.stderr.readline()
    finally:
        holder.communicate("")
    out, _ = waiting.communicate(timeout=120)
    assert line.startswith("waiting for the store's lock held by ") and f"(pid {holder.pid}, started " in line, line
    assert waiting.returncode == 0 and out.strip() == "[]"


def test_a_command_line_is_named_as_the_cession_command_it_runs():
    assert (
        command_of(["/venv/bin/python", "/venv/bin/cession", "ingest", "file.csv", "--portfolio", "P"])
        == "cession ingest"
    )
    assert command_of(["python", "-m", "api.cli", "--json", "state"]) == "cession state"
    assert command_of(["/usr/bin/python3", "-c", "x"]) == "python3"


def own_shm_locks(url: str) -> list[str]:
    import os

    import sqlalchemy as sa

    shm = Path(f"{sa.engine.make_url(url).database}-shm")
    st = shm.stat()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return [  # without each line's ordinal ("12:"), which moves as other processes take and drop locks
        " ".join(line.split()[1:])
        for line in Path("/proc/locks").read_text().splitlines()
        if device in line.split() and str(os.getpid()) in line.split()
    ]


def test_asking_who_holds_the_lock_leaves_this_process_s_own_sqlite_locks_alone(tmp_path):
    """Closing any descriptor of the -shm file would drop this process's POSIX locks on it (SQLite's
    own: the next process to open the store would then truncate the shared memory under it)."""
    import sqlite3

    from engine.store.database import open_store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    with sqlite3.connect(tmp_path / "store.db", isolation_level=None) as conn:  # a reader, outside a transaction
        conn.execute("SELECT count(*) FROM claims").fetchone()
        mine = own_shm_locks(url)
        assert mine  # SQLite holds its shared-memory lock while a connection is open
        holder = hold(url)
        try:
            assert f"pid {holder.pid}" in (lock_holder(store) or "")
        finally:
            holder.communicate("")
        assert own_shm_locks(url) == mine
