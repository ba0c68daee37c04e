"""Private folders for a run's temporary files, and what killed runs leave behind.

A command's temporary files (an ingest's accepted rows spilled to Arrow: PESEL numbers, names,
addresses) go to a folder of its own, mode 0700, under the store's data folder, never to the
shared temporary folder:

    SQLite      <folder of the database file>/.cession-tmp/<host>-<pid>-<random>/
    PostgreSQL  <user data folder of cession>/tmp/<host>-<pid>-<random>/

The folder is removed when the command ends, also by an exception, Ctrl-C or SIGTERM (raised
where the program is, ``api.exits``). A SIGKILL leaves it: the next command that
opens the store removes folders whose process is gone, with a line on stderr saying so.

Outputs written beside their final place (``cession state --out``: ``.NAME.PID.partial`` files
and ``.NAME.staging-PID`` folders) are swept the same way by ``sweep_outputs``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy is imported where a URL is read: `cession state` sweeps its outputs without it
    import sqlalchemy as sa

#: A private folder's name: the host and pid of its process, and a random part.
FOLDER = re.compile(r"^(?P<host>.+)-(?P<pid>\d+)-[0-9a-f]{8}$")
#: What a `cession state` killed while writing leaves beside its output (engine.parquet_io.ClaimStateWriter.beside,
#: engine.parquet_io.Staged).
STAGED_OUTPUT = re.compile(r"^\..+\.(?P<pid>\d+)\.partial$|^\..+\.staging-(?P<staging_pid>\d+)$")


def scratch_root(url: str | sa.URL) -> Path:
    """Where the private folders of runs on the store at ``url`` are made."""
    import sqlalchemy as sa

    url = sa.engine.make_url(url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / ".cession-tmp"
    from platformdirs import user_data_path

    return user_data_path("cession", appauthor=False) / "tmp"


@contextmanager
def private_folder(url: str | sa.URL) -> Iterator[Path]:
    """A folder only this process's user can read (0700), for this run's temporary files under
    the store's data folder; removed with everything in it when the block ends."""
    root = scratch_root(url)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = root / f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o700)  # whatever the umask
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _remove(path: Path, say: bool) -> int:
    """Remove a leftover file or folder; the files it held (1 for a file)."""
    files = sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else 1
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    if say:
        print(f"removed leftovers of a killed run: {path} ({files} file{'' if files == 1 else 's'})", file=sys.stderr)
    return files


def sweep_scratch(url: str | sa.URL, say: bool = True) -> list[Path]:
    """Remove the private folders (under the store at ``url``) of this host's processes that are
    gone (killed: a run that ended any other way removed its own). Returns what was removed."""
    root = scratch_root(url)
    if not root.is_dir():
        return []
    host, removed = socket.gethostname(), []
    for path in root.iterdir():
        found = FOLDER.match(path.name)
        if found and found["host"] == host and not alive(int(found["pid"])):
            _remove(path, say)
            removed.append(path)
    return removed


def sweep_outputs(folder: Path, say: bool = True) -> list[Path]:
    """Remove staged outputs (partial files, staging folders) left in ``folder`` by processes
    that are gone. Returns what was removed."""
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        found = STAGED_OUTPUT.match(path.name)
        if found and not alive(int(found["pid"] or found["staging_pid"])):
            _remove(path, say)
            removed.append(path)
    return removed
