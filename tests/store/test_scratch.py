"""Temporary files: in a private folder of each run under the store's data folder (never in the
shared /tmp), removed on any exit, and what a killed run left removed by the next command."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.store import scratch
from engine.store.database import open_store
from ingest import ingest_file, pipeline
from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv

ROOT = Path(__file__).parents[2]
CESSION = [sys.executable, "-c", "from api.cli import main; main()"]  # as the installed `cession` runs


def dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def cession(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """The command in a process of its own whose user folders are under ``home`` (its scratch and
    data), but for the compiled kernels: their cache stays this user's (a new HOME would compile
    them again, over a minute on a busy machine)."""
    from platformdirs import user_cache_dir

    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "COLUMNS": "200", "XDG_CACHE_HOME": str(Path(user_cache_dir()))}
    return subprocess.run([*CESSION, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)


def test_a_private_folder_is_the_runs_own_and_goes_with_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'store' / 'cession.db'}"
    with pytest.raises(RuntimeError), scratch.private_folder(url) as folder:
        (folder / "rows.arrow").write_bytes(b"PESEL")
        assert folder.parent == tmp_path / "store" / ".cession-tmp"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert scratch.sweep_scratch(url) == []  # its process is alive: not a leftover
        raise RuntimeError("the run fails")
    assert not folder.exists()


def test_a_postgresql_store_keeps_its_temporary_files_in_the_users_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert scratch.scratch_root("postgresql+psycopg://u@db:5432/x") == tmp_path / "data" / "cession" / "tmp"


def test_an_ingest_spills_its_rows_in_its_private_folder_not_in_tmp(store, store_url, tmp_path, monkeypatch):
    seen = {}

    @contextmanager
    def watched(url):
        with scratch.private_folder(url) as folder:
            seen["folder"], seen["mode"] = folder, stat.S_IMODE(folder.stat().st_mode)
            yield folder
            seen["files"] = sorted(p.name for p in folder.iterdir())

    monkeypatch.setattr(pipeline, "private_folder", watched)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    frame, _ = seller_file(300, seed=3)
    path = write_seller_csv(frame, tmp_path / "eksport.csv")
    report = ingest_file(store, path, "P", profile=PROFILE, price=100_000_00, purchase_date=PURCHASE_DATE)
    assert report.accepted > 0
    assert seen["folder"].parent == scratch.scratch_root(store_url) and seen["mode"] == 0o700
    assert "accepted.arrow" in seen["files"]  # the personal data was there, and only there
    assert not seen["folder"].exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", [("runs",), ("db", "status")])
def test_the_next_command_removes_what_a_killed_run_left_and_says_so(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'cession.db'}"
    root = scratch.scratch_root(url)
    left = root / f"{socket.gethostname()}-{dead_pid()}-0123abcd"
    left.mkdir(parents=True)
    (left / "accepted.arrow").write_bytes(b"PESEL 44051401359")
    (left / "refs.arrow").write_bytes(b"R1")
    other_host = root / f"elsewhere-{dead_pid()}-0123abcd"  # another machine's, on a shared disk: not ours to judge
    other_host.mkdir()
    done = cession(*command, "--json", "--database-url", url, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"removed leftovers of a killed run: {left} (2 files)" in done.stderr
    assert not left.exists() and other_host.exists()
    again = cession(*command, "--json", "--database-url", url, home=tmp_path)
    assert "removed leftovers" not in again.stderr  # said once


@pytest.mark.slow
def test_a_terminated_ingest_rolls_back_and_removes_its_folder(tmp_path):
    url = f"sqlite:///{tmp_path / 'cession.db'}"
    open_store(url).dispose()
    frame, _ = seller_file(20_000, seed=4)
    path = write_seller_csv(frame, tmp_path / "eksport.csv")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    running = subprocess.Popen(
        [
            *CESSION,
            "ingest",
            str(path),
            "--portfolio",
            "P",
            "--profile",
            PROFILE,
            "--price",
            "100000",
            "--purchase-date",
            PURCHASE_DATE.isoformat(),
            "--database-url",
            url,
            "--json",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    root = scratch.scratch_root(url)
    deadline = time.monotonic() + 240
    while not (root.is_dir() and any(root.glob("*/accepted.arrow"))) and running.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    if running.poll() is not None:
        pytest.skip("the ingest ended before it could be terminated (a very fast machine)")
    running.send_signal(signal.SIGTERM)
    running.communicate(timeout=120)
    assert running.returncode != 0
    assert list(root.iterdir()) == []  # removed on its way out, not left to the next command
    engine = open_store(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0
    engine.dispose()


def test_state_refuses_a_folder_as_one_days_out_before_computing(tmp_path):
    (tmp_path / "out").mkdir()
    for name in ("c.parquet", "e.parquet"):
        (tmp_path / name).write_bytes(b"not read: the output is refused first")
    done = cession(
        "state",
        "--claims",
        str(tmp_path / "c.parquet"),
        "--events",
        str(tmp_path / "e.parquet"),
        "--out",
        str(tmp_path / "out"),
        "--as-of",
        "2026-01-31",
        home=tmp_path,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"--out {tmp_path / 'out'}: is a folder; give a file path" in " ".join(done.stderr.split())
    (tmp_path / "file").write_text("")
    done = cession(
        "state",
        "--claims",
        str(tmp_path / "c.parquet"),
        "--events",
        str(tmp_path / "e.parquet"),
        "--out",
        str(tmp_path / "file"),
        "--as-of",
        "2026-01-31,2026-02-28",
        home=tmp_path,
    )
    assert done.returncode == 2 and "is a file; give a folder" in done.stderr


@pytest.mark.slow
def test_the_next_state_removes_partial_outputs_of_killed_ones(tmp_path):
    from synthetic.book import generate_portfolio, write_portfolio

    claims, events = write_portfolio(tmp_path / "in", *generate_portfolio(200, 1))
    out = tmp_path / "out"
    out.mkdir()
    pid = dead_pid()
    partial = out / f".state.parquet.{pid}.partial"
    partial.write_bytes(b"half a file")
    staging = out / f".series.staging-{pid}"
    staging.mkdir()
    (staging / "state-2026-01-31.parquet").write_bytes(b"half")
    alive = out / f".state.parquet.{os.getpid()}.partial"  # a command writing now: left alone
    alive.write_bytes(b"being written")
    done = cession(
        "state",
        "--claims",
        str(claims),
        "--events",
        str(events),
        "--out",
        str(out / "state.parquet"),
        "--as-of",
        "2026-01-31",
        "--allow-stale-rates",
        "--json",
        home=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"removed leftovers of a killed run: {partial} (1 file)" in done.stderr
    assert f"removed leftovers of a killed run: {staging} (1 file)" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [alive.name, "state.parquet"]
