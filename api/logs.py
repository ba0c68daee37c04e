"""Logging for Cession's commands (and tomorrow its server): the standard ``logging``, quiet by
default.

Modules log with ``log = logging.getLogger(__name__)``; a record about an engine run or an ingest
carries its id, ``log.info("stored %s rows", n, extra={"run_id": run_id})``, and every line shows
it (``run=-`` when a record carries none)::

    2026-02-28 22:41:05,123 INFO engine.store.runs run=17: stored 1000000 rows

The level applies to Cession's own loggers (``engine``, ``ingest``, ``payments``, ``allocation``, ``api``):
WARNING by default (a command's output is its result, not a log), INFO with ``cession -v``,
DEBUG with ``-vv``, or any level by ``--log-level`` / ``CESSION_LOG_LEVEL``. Other libraries'
loggers stay at WARNING. Records go to stderr: stdout is the command's result (``--json``).
"""

from __future__ import annotations

import logging
import sys

#: Cession's top-level packages: their loggers get the chosen level
OURS = ("engine", "ingest", "payments", "allocation", "api")
FORMAT = "%(asctime)s %(levelname)s %(name)s run=%(run_id)s: %(message)s"
#: -v, -vv: the level of each count of --verbose
VERBOSE = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class RunIdFilter(logging.Filter):
    """Gives every record a ``run_id`` (``-`` when it was logged without one), so the format can
    show it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_id"):
            record.run_id = "-"
        return True


class _Stderr(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is when a record is written (a test's capture too)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def level_of(verbose: int, level: str | None = None) -> int:
    """The level asked for: ``level`` (a name such as ``INFO``) wins over ``verbose`` (-v counts)."""
    if level:
        name = level.strip().upper()
        if name not in LEVELS:
            from engine.errors import InputError

            raise InputError(f"log level {level!r}: one of {', '.join(LEVELS)}")
        return logging.getLevelName(name)
    return VERBOSE[min(verbose, max(VERBOSE))]


def configure(level: int = logging.WARNING) -> logging.Handler:
    """Send records of ``level`` and above from Cession's loggers (WARNING and above from the
    rest) to stderr, with their run id. Called again, it replaces its handler: never a line twice."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Stderr)]:
        root.removeHandler(handler)
    handler = _Stderr()
    handler.addFilter(RunIdFilter())
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OURS:
        logging.getLogger(name).setLevel(level)
    return handler
