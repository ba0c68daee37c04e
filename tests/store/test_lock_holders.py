"""A command about to wait for the store's lock learns who holds it, and an ingest says so."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from engine.store.lock_holders import command_of, lock_holder
from ingest import ingest_file
from tests.ingest.test_ingest import GOOD, TODAY, canonical_csv

ROOT = Path(__file__).parents[2]

# holds the ingest lock (SQLite: the write lock; PostgreSQL: ingest's table lock) until stdin closes
HOLDER = textwrap.dedent("""
    import sys
    from engine.store import ingests
    from engine.store.database import _create
    engine = _create(sys.argv[1])
    with engine.begin() as conn:
        ingests.lock(conn)
        print("held", flush=True)
        sys.stdin.read()
""")


def hold(url: str) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
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


def test_an_ingest_waiting_for_the_lock_says_whom_it_waits_for(store, store_url, tmp_path):
    path = canonical_csv(tmp_path / "file.csv", [GOOD])
    holder = hold(store_url)
    stages = []

    def on_progress(stage: str, done: int, total: int | None) -> None:
        stages.append(stage)
        if stage.startswith("waiting") and holder.returncode is None:
            holder.communicate("")  # the lock is freed; the ingest goes on

    try:
        report = ingest_file(store, path, "P1", today=TODAY, on_progress=on_progress)
    finally:
        if holder.returncode is None:
            holder.communicate("")
    waits = [s for s in stages if s.startswith("waiting")]
    assert waits == [f"waiting for the store's lock held by {lock_holder_text(waits[0], holder.pid)}"], stages
    assert report.accepted == 1


def lock_holder_text(stage: str, pid: int) -> str:
    """The holder part of a waiting stage, checked to name the holding process's pid."""
    named = stage.removeprefix("waiting for the store's lock held by ")
    assert f"pid {pid}" in named and ("started" in named or "since" in named), named
    return named


def test_a_command_line_is_named_as_the_cession_command_it_runs():
    assert command_of(["/venv/bin/python", "/venv/bin/cession", "ingest", "file.csv", "--portfolio", "P"]) == "cession ingest"
    assert command_of(["python", "-m", "api.cli", "--json", "state"]) == "cession state"
    assert command_of(["/usr/bin/python3", "-c", "x"]) == "python3"
