"""Who holds the store's write lock: said to a command that is about to wait for it, so that it
shows "waiting for the store's lock held by cession ingest (pid 3456, started 22:41:05)" and not
a progress bar that does not move.

SQLite (in WAL mode, as the store opens it) writes under one lock, a POSIX record lock on a
byte of the ``-shm`` file; the kernel's table of locks (Linux: /proc/locks) names the process
that holds it. The file itself is never opened here: closing any descriptor of a file drops all
of the process's POSIX locks on it, SQLite's own included (the next opener then takes the
shared memory for unused and truncates it under the others' feet: SIGBUS). PostgreSQL: the
ingest lock is a lock on ``ingest_files`` (``ingests.lock``); ``pg_locks`` names the holding
backend, and every Cession connection tells the server what it is (``application_name``, see
``application_name``). A holder is described by its command line and its start time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

#: the WAL write lock: the first lock byte of the wal-index (sqlite3.c: WALINDEX_LOCK_OFFSET, WAL_WRITE_LOCK)
_WAL_WRITE_LOCK_BYTE = 120
_LOCKS = Path("/proc/locks")

#: told who holds the store's lock when this process is about to wait for it (the command line
#: shows it on stderr); None: nobody listens, and nothing is asked
on_wait: Callable[[str], None] | None = None


def begin_immediate(conn: sa.Connection, engine: sa.Engine, busy_ms: int) -> None:
    """SQLite's ``BEGIN IMMEDIATE`` (the write lock up front); when another process holds the
    lock, ``on_wait`` hears who before this one waits for it (up to ``busy_ms``)."""
    if on_wait is None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    except sa.exc.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_ms}")
    on_wait(lock_holder(engine) or "another connection")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def application_name(argv: list[str] | None = None) -> str:
    """What a connection tells PostgreSQL it is: 'cession ingest (pid 3456)' (63 bytes at most)."""
    return f"{command_of(argv if argv is not None else sys.argv)} (pid {os.getpid()})"[:63]


def command_of(argv: list[str]) -> str:
    """'cession ingest' from a command line running Cession (``.../cession ingest FILE ...`` or
    ``python -m api.cli ingest ...``); the program's name otherwise."""
    for i, arg in enumerate(argv):
        if Path(arg).name == "cession" or arg == "api.cli" or arg.endswith(("api/cli.py", "api\\cli.py")):
            sub = next((a for a in argv[i + 1 :] if not a.startswith("-")), None)
            return f"cession {sub}" if sub else "cession"
    return Path(argv[0]).name if argv else "?"


def lock_holder(engine: sa.Engine) -> str | None:
    """Who holds the store's write lock (None: no one, or it cannot be told)."""
    try:
        if engine.dialect.name == "sqlite":
            return _sqlite_holder(engine)
        if engine.dialect.name == "postgresql":
            return _postgres_holder(engine)
    except (OSError, sa.exc.SQLAlchemyError):
        return None  # a status line is not worth a failure
    return None


def _sqlite_holder(engine: sa.Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    shm = Path(f"{database}-shm")
    if not shm.exists() or not _LOCKS.exists():
        return None
    pid = posix_lock_holder(shm, _WAL_WRITE_LOCK_BYTE)
    return describe(pid) if pid is not None and pid != os.getpid() else None


def posix_lock_holder(path: Path, byte: int) -> int | None:
    """The pid holding a POSIX write lock over ``byte`` of ``path``, from /proc/locks (lines
    like ``3: POSIX  ADVISORY  WRITE 3456 fe:00:2146508 120 120``: device major:minor in hex,
    inode, first and last byte or EOF)."""
    stat = path.stat()
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    for line in _LOCKS.read_text().splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter's line: '1: -> POSIX ...'
            continue
        if len(fields) < 8 or fields[1] != "POSIX" or fields[3] != "WRITE" or fields[5] != device:
            continue
        first, last = int(fields[6]), fields[7]
        if first <= byte and (last == "EOF" or byte <= int(last)):
            return int(fields[4])
    return None


def _postgres_holder(engine: sa.Engine) -> str | None:
    query = sa.text(
        "SELECT a.pid, a.application_name, coalesce(a.xact_start, a.backend_start) AS since "
        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.relation = to_regclass('ingest_files') AND l.granted AND a.pid <> pg_backend_pid() "
        "AND l.mode IN ('ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') LIMIT 1"
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    since = row.since.astimezone().strftime("%H:%M:%S") if row.since else "?"
    name = row.application_name or "another connection"
    if "(pid " in name:  # 'cession ingest (pid 3456)': the pid of the process, not of its server backend
        return f"{name[: name.index(' (pid ')]} ({name[name.index('(pid ') + 1 : -1]}, since {since})"
    return f"{name} (server pid {row.pid}, since {since})"


def describe(pid: int) -> str:
    """'cession ingest (pid 3456, started 22:41:05)' for a live process, from /proc where there
    is one; else 'pid 3456'."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        started = _started(pid)
    except OSError:
        return f"pid {pid}"
    return f"{command_of([a for a in argv if a])} (pid {pid}, started {started})"


def _started(pid: int) -> str:
    """The local time a process started (Linux /proc: its start in clock ticks after boot)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22; the name in () may hold spaces
    boot = next(
        int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime")
    )
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK")).strftime("%H:%M:%S")
