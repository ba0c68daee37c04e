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
130    INTERRUPTED  interrupted by Ctrl-C (SIGINT) or SIGTERM; what was being written is
                    rolled back or removed
=====  ===========  ====================================================================

With ``--json`` an error is JSON on stdout, ``{"error": "<message>", "code": <exit code>}``,
with the same exit code (a bug's traceback still goes to stderr). Commands say they want JSON
through the ``--json`` option's callback (``Json`` below), which runs first (it is eager);
an error found before any option was read (an unknown option) falls back to looking for
``--json`` among the arguments.
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Annotated

import typer


class ExitCode(IntEnum):
    """The exit codes of every `cession` command (the table in the module docstring)."""

    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


class UserError(ValueError):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that every ``finally`` runs (like Ctrl-C)."""


_wants_json = False
_signal_name: str | None = None


def _json_given(value: bool) -> bool:
    """The --json option's callback: from here on, errors are JSON on stdout."""
    global _wants_json
    _wants_json = _wants_json or bool(value)
    return value


Json = Annotated[
    bool,
    typer.Option("--json", help="Machine-readable output: amounts as strings '123.45'; errors as JSON too.",
                 callback=_json_given, is_eager=True),  # fmt: skip
]


def wants_json(args: Sequence[str]) -> bool:
    """Whether errors are to be JSON: the --json option was read, or (an error before the
    options were read) it is among the arguments."""
    options = list(args)
    return _wants_json or "--json" in (options[: options.index("--")] if "--" in options else options)


def _raised(e: BaseException, module: str, name: str) -> bool:
    """Whether ``e`` is ``module.name``, without importing the module (the engine's imports take
    seconds; an exception of a module never imported cannot have been raised)."""
    kind = getattr(sys.modules.get(module), name, None)
    return kind is not None and isinstance(e, kind)


def is_bad_input(e: BaseException) -> bool:
    """Whether ``e`` means bad input (exit 2, one line): the ValueError family (the engine's,
    ingest's and the rules' input errors are ValueErrors) and the store's refusals."""
    return isinstance(e, ValueError) or _raised(e, "engine.store.database", "StoreError")


def _file_refused(e: BaseException) -> str | None:
    """A file or folder the system refused (no such file, no permission, disk full, ...), as
    'PATH: reason'; None for other errors."""
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror or e}"
    return None


def _store_busy(e: BaseException) -> bool:
    """SQLite gave up waiting for another command's write lock (after the store's 60 s)."""
    return _raised(e, "sqlalchemy.exc", "OperationalError") and "database is locked" in str(e)


def one_line(text: object) -> str:
    """``text`` on one line: its lines joined, runs of blanks as one."""
    return " ".join(str(text).split())


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


def _interrupted_message() -> str:
    by = _signal_name or "SIGINT"
    return f"interrupted ({by}); nothing half-written was kept"


def _usage_message(e: typer.TyperException) -> str:
    """A refusal of the command line parser (typer's click: a missing or unknown option, a bad
    value) as one line, pointing at the command's --help."""
    ctx = getattr(e, "ctx", None)
    where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
    return one_line(e.format_message()) + where


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
            report(_interrupted_message(), ExitCode.INTERRUPTED, wants_json(args))
        return code if isinstance(code, int) else ExitCode.OK
    except KeyboardInterrupt:  # SIGTERM while typer was not listening (before or after the command)
        report(_interrupted_message(), ExitCode.INTERRUPTED, wants_json(args))
        return ExitCode.INTERRUPTED
    except typer.Abort:  # a prompt's end of input
        report(_interrupted_message(), ExitCode.INTERRUPTED, wants_json(args))
        return ExitCode.INTERRUPTED
    except typer.TyperException as e:  # typer's click (vendored since typer 0.29) refusing the command line
        if type(e).__name__ == "NoArgsIsHelpError":  # the help was printed
            return ExitCode.BAD_INPUT
        report(_usage_message(e), ExitCode.BAD_INPUT, wants_json(args))
        return ExitCode.BAD_INPUT
    except Exception as e:
        if is_bad_input(e):
            report(one_line(e), ExitCode.BAD_INPUT, wants_json(args))
            return ExitCode.BAD_INPUT
        refused = _file_refused(e)
        if refused is not None:
            report(refused, ExitCode.BAD_INPUT, wants_json(args))
            return ExitCode.BAD_INPUT
        if _store_busy(e):
            report("the store is locked by another command that is still writing (waited 60 s); "
                   "run this again when it has ended", ExitCode.BAD_INPUT, wants_json(args))  # fmt: skip
            return ExitCode.BAD_INPUT
        if _raised(e, "engine.executors", "PartitionsFailed"):  # the previous outputs and state are left as they were
            report(one_line(e), ExitCode.FAILED, wants_json(args))
            return ExitCode.FAILED
        traceback.print_exc()
        report(f"a bug in Cession: {type(e).__name__}: {one_line(e)} (the traceback is above; please report it)",
               ExitCode.FAILED, wants_json(args))  # fmt: skip
        return ExitCode.FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
