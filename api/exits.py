"""How a `cession` command ends: one table of exit codes, and every error as one line.

=====  ===========  ====================================================================
code   name         when
=====  ===========  ====================================================================
0      OK           the command did what was asked
1      FAILED       a bug in Cession (printed with its traceback), or a computation that
                    failed on its workers (one line; the previous outputs and stored state
                    are left as they were)
2      BAD_INPUT    bad input: a wrong option, file, day, amount or store state, or a file
                    the system refuses (no permission, disk full) (one line ``error: ...``
                    naming what and why; nothing was changed)
3      DIFFERENCE   a check found what it checks for: `cession reconcile` found a difference
                    between the journal and the events or engine states (printed with
                    the claims behind it)
130    INTERRUPTED  interrupted by Ctrl-C (SIGINT) or SIGTERM; what was being written is
                    rolled back or removed
=====  ===========  ====================================================================

Which error ends with which code is one table, ``OUTCOMES``, by the exception's type: bad input
is an ``engine.errors.InputError`` (the engine's, ingest's, the store's and the command line's
refusals derive from it), never any ``ValueError``: a plain ``ValueError`` (or ``KeyError``, ...)
raised by our own code is a bug and is reported as one, with its traceback.

With ``--json`` an error is JSON on stdout, ``{"error": "<message>", "code": <exit code>}``,
with the same exit code (a bug's traceback still goes to stderr). Commands say they want JSON
through the ``--json`` option's callback (``api.cli.options.Json`` calls ``json_requested``), which
runs first (it is eager); an error found before any option was read (an unknown option) falls
back to looking for ``--json`` among the arguments.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum

import typer

from engine.errors import ComputationFailed, InputError


class ExitCode(IntEnum):
    """The exit codes of every `cession` command (the table in the module docstring)."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    DIFFERENCE = 3
    INTERRUPTED = 130


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that every ``finally`` runs (like Ctrl-C)."""


_wants_json = False
_signal_name: str | None = None


def json_requested(value: bool) -> bool:
    """The --json option's callback: from here on, errors are JSON on stdout."""
    global _wants_json
    _wants_json = _wants_json or bool(value)
    return value


def wants_json(args: Sequence[str]) -> bool:
    """Whether errors are to be JSON: the --json option was read, or (an error before the
    options were read) it is among the arguments."""
    options = list(args)
    return _wants_json or "--json" in (options[: options.index("--")] if "--" in options else options)


def one_line(text: object) -> str:
    """``text`` on one line: its lines joined, runs of blanks as one."""
    return " ".join(str(text).split())


def _interrupted(_e: BaseException) -> str:
    return f"interrupted ({_signal_name or 'SIGINT'}); nothing half-written was kept"


def _usage(e: BaseException) -> str:
    """A refusal of the command line parser (typer's click: a missing or unknown option, a bad
    value) as one line, pointing at the command's --help; nothing when it printed the help."""
    if type(e).__name__ == "NoArgsIsHelpError":  # the help was printed
        return ""
    ctx = getattr(e, "ctx", None)
    where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return one_line(e.format_message()) + where  # type: ignore[attr-defined]


def _file_refused(e: BaseException) -> str | None:
    """A file or folder the system refused (no such file, no permission, disk full, ...), as
    'PATH: reason'; None for an OSError about no file (a bug's, then)."""
    filename = getattr(e, "filename", None)
    return None if filename is None else f"{filename}: {e.strerror or e}"  # type: ignore[attr-defined]


def _store_busy(e: BaseException) -> str | None:
    """SQLite gave up waiting for another command's write lock (after the store's 60 s)."""
    if "database is locked" not in str(e):
        return None
    return (
        "the store is locked by another command that is still writing (waited 60 s); run this again when it has ended"
    )


@dataclass(frozen=True)
class Outcome:
    """How errors of one type end a command: ``kind`` (a type, or ``"module.Name"`` of a module
    that is only imported by the commands that need it: an error of a module never imported
    cannot have been raised), its exit code, and the one line said (``None``: the row does not
    apply to this error, the next one is tried)."""

    kind: type[BaseException] | str
    code: ExitCode
    line: Callable[[BaseException], str | None] = one_line

    def matches(self, e: BaseException) -> bool:
        if isinstance(self.kind, str):
            module, _, name = self.kind.rpartition(".")
            kind = getattr(sys.modules.get(module), name, None)
            return kind is not None and isinstance(e, kind)
        return isinstance(e, self.kind)


#: Every error a command can end with, by type; the first row that matches and applies decides.
#: Any other exception is a bug in Cession: its traceback, then one line, exit code FAILED.
OUTCOMES: tuple[Outcome, ...] = (
    Outcome(KeyboardInterrupt, ExitCode.INTERRUPTED, _interrupted),  # Ctrl-C; SIGTERM as Interrupted
    Outcome(typer.Abort, ExitCode.INTERRUPTED, _interrupted),  # a prompt's end of input
    Outcome(typer.TyperException, ExitCode.BAD_INPUT, _usage),  # typer's click refusing the command line
    Outcome(InputError, ExitCode.BAD_INPUT),  # bad input, from the command line, engine, ingest or store
    Outcome(OSError, ExitCode.BAD_INPUT, _file_refused),  # a file the system refuses (permission, disk full)
    Outcome("sqlalchemy.exc.OperationalError", ExitCode.BAD_INPUT, _store_busy),
    Outcome(ComputationFailed, ExitCode.FAILED),  # workers lost: the previous outputs and state are kept
)


def outcome(e: BaseException) -> tuple[ExitCode, str | None]:
    """The exit code of ``e`` and the line that says why; ``None`` for a bug (exit FAILED,
    printed with its traceback)."""
    for row in OUTCOMES:
        if row.matches(e):
            line = row.line(e)
            if line is not None:
                return row.code, line
    return ExitCode.FAILED, None


def report(message: str, code: ExitCode, as_json: bool) -> None:
    """An error as the user sees it: ``error: message`` on stderr, or JSON on stdout."""
    if as_json:
        sys.stdout.write(json.dumps({"error": message, "code": int(code)}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, soft_wrap=True).print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)


def _on_sigterm(signum: int, _frame) -> None:
    global _signal_name
    _signal_name = signal.Signals(signum).name
    raise Interrupted(_signal_name)


def run(app: Callable[..., object], args: Sequence[str] | None = None) -> int:
    """Run the command line ``app`` on ``args`` (default: sys.argv) and return its exit code
    (the table above); every error is reported here, once."""
    global _wants_json, _signal_name
    _wants_json, _signal_name = False, None
    args = list(sys.argv[1:] if args is None else args)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(args=args, prog_name="cession", standalone_mode=False)
        if isinstance(code, int) and code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into Exit(130)
            report(_interrupted(KeyboardInterrupt()), ExitCode.INTERRUPTED, wants_json(args))
        return code if isinstance(code, int) else ExitCode.OK
    except BaseException as e:
        if not isinstance(e, Exception | KeyboardInterrupt):  # SystemExit, GeneratorExit: not ours to report
            raise
        code, line = outcome(e)
        if line is None:
            traceback.print_exc()
            line = f"a bug in Cession: {type(e).__name__}: {one_line(e)} (the traceback is above; please report it)"
        if line:
            report(line, code, wants_json(args))
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
