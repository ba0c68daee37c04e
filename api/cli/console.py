"""Where a command writes: ``out`` (stdout: the result, a table or ``--json``) and ``err`` (stderr:
progress, notes, waits), and the shapes every command shares (JSON, a progress bar, a spinner)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date

from rich.console import Console

out = Console()
err = Console(stderr=True)


def print_json(data: object) -> None:
    """``data`` as indented JSON on stdout (amounts are strings already: engine.money.pln)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class Steps:
    """A command's progress on stderr, a line that says what it does and a bar of how far
    (``stage`` and ``advance`` are given to a service as its ``on_stage`` and ``on_progress``)."""

    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def stage(self, text: str) -> None:
        self._progress.update(self._task, description=text)

    def advance(self, done: int, total: int | None) -> None:
        self._progress.update(self._task, completed=done, total=total)


@contextmanager
def steps(first: str, quiet: bool = False) -> Iterator[Steps]:
    """A progress bar on stderr, drawn only on a terminal (on a pipe its end would leave an empty
    line before an error's one line) and not for ``--json``; gone when the block ends."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet or not err.is_terminal,
        transient=True,
    ) as progress:
        yield Steps(progress, progress.add_task(first, total=None))


def status(text: str, quiet: bool = False):
    """A spinner on stdout saying what is being done (nothing for ``--json``)."""
    return nullcontext() if quiet else out.status(text, spinner="dots")


def waiting(holder: str) -> None:
    """Said on stderr when a command is about to wait for another's hold on the store."""
    err.print(f"waiting for the store's lock held by {holder}…", highlight=False, soft_wrap=True)


def stale_note(stale: dict[str, str], as_of: date) -> str:
    """The note under a result computed past a rate table's known validity (--allow-stale-rates)."""
    tables = ", ".join(f"{name} (valid to {day})" for name, day in stale.items())
    return (
        f"[bold yellow]Stale rates:[/] as of {as_of} is past the known validity of {tables}; "
        "the last known rate was used (--allow-stale-rates). Update the tables for an exact answer."
    )
