"""Output paths (--out, --rejects, --reports) checked before any work: a command never computes
for minutes and then fails on a path it could have refused at once.

A file path must not be a folder, and the folder it goes into must be a folder this process can
write in (the missing part of it is made when the file is written); a folder path must not be a
file. Writability is tried, not guessed from mode bits: a file is created there and removed at once
(an unnamed one where the system allows), so a read-only file system or a path through a file is
found out as surely as missing permissions, for root too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.errors import InputError


def output_file(path: Path | None, option: str, example: str = "out.parquet") -> Path | None:
    """``path`` when a file can be written there, else an InputError naming ``option``."""
    if path is None:
        return None
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file path, e.g. {path / example}")
    _writable(path.parent, option, path)
    return path


def output_stem(stem: Path, option: str) -> Path:
    """A stem of several files (``STEM.rejects.csv``, ...): a file path, see ``output_file``."""
    if stem.is_dir():
        raise InputError(
            f"{option} {stem}: is a folder; give a stem of file names, e.g. {stem / 'reports'} "
            f"(writes {stem / 'reports'}.rejects.csv, ...)"
        )
    _writable(stem.parent, option, stem)
    return stem


def output_folder(path: Path | None, option: str) -> Path | None:
    """``path`` when it is, or can be made, a folder this process writes in."""
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} {path}: is a file; give a folder (it is made if missing)")
    _writable(path, option, path)
    return path


def _writable(folder: Path, option: str, path: Path) -> None:
    """Whether files can be made in ``folder``: its nearest existing part is a folder this
    process can write in (the rest is made as it is written)."""
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{option} {path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise InputError(f"{option} {path}: cannot write in {existing} ({e.strerror or e})") from None
