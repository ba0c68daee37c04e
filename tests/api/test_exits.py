"""One table maps the type of an error to the exit code (api.exits.OUTCOMES): bad input is an
InputError, whoever raised it; any other exception, a plain ValueError included, is a bug."""

from __future__ import annotations

import json

import pytest

from api import exits
from api.exits import ExitCode


def run_here(capsys, *args: str) -> tuple[int, str, str]:
    from api.cli import app

    code = exits.run(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def refusals() -> list[BaseException]:
    """One of each kind of refusal the engine, the rules, ingest and the store raise."""
    from datetime import date

    from engine.errors import InputError
    from engine.rules.loader import RuleTableError, StaleRulesError
    from engine.store.database import StoreError
    from engine.validation import EngineInputError
    from ingest import DuplicateError, IngestError, ProfileError, ReportPathError
    from ingest.sources import SourceError

    return [
        InputError("--x: no"),
        EngineInputError("claims", "principal", "must be >= 0", [7], 1),
        RuleTableError("rates.csv line 3: not a date"),
        StaleRulesError([], date(2027, 1, 1)),
        StoreError("portfolio 'P' is not in the store"),
        IngestError("f.csv: no such file"),
        ReportPathError("reports: not writable"),
        DuplicateError("already stored"),
        ProfileError("bad YAML"),
        SourceError("not a CSV text file"),
    ]


def test_every_refusal_is_bad_input_in_one_line():
    for error in refusals():
        code, line = exits.outcome(error)
        assert code is ExitCode.BAD_INPUT and line == exits.one_line(error), type(error).__name__


@pytest.mark.parametrize(
    "error", [ValueError("x"), KeyError("x"), TypeError("x"), RuntimeError("x"), OSError("no file")]
)
def test_anything_else_is_a_bug(error):
    assert exits.outcome(error) == (ExitCode.FAILED, None)  # None: printed with its traceback


def test_failed_workers_are_one_line_exit_1_and_files_and_signals_keep_their_codes():
    from engine.executors import PartitionsFailed

    failed = PartitionsFailed([])
    assert exits.outcome(failed) == (ExitCode.FAILED, exits.one_line(failed)) and "partition(s) failed" in str(failed)
    assert exits.outcome(OSError(13, "Permission denied", "/out")) == (ExitCode.BAD_INPUT, "/out: Permission denied")
    assert exits.outcome(KeyboardInterrupt())[0] is ExitCode.INTERRUPTED
    assert exits.outcome(exits.Interrupted("SIGTERM"))[0] is ExitCode.INTERRUPTED


def test_a_plain_value_error_raised_inside_a_command_is_a_bug_with_its_traceback(capsys, monkeypatch):
    """main() used to turn every ValueError into exit 2: the engine's own bugs looked like user
    mistakes, without a traceback."""
    import api.calculators.service

    def broken(*args, **kwargs):
        raise ValueError("an index the engine got wrong")

    monkeypatch.setattr(api.calculators.service, "explain_limitation", broken)
    args = ("limitation", "--due", "2016-03-15", "--kind", "business", "--as-of", "2026-01-01")
    code, out, err = run_here(capsys, *args)
    assert code == 1 and out == ""
    assert "Traceback (most recent call last)" in err and 'raise ValueError("an index the engine got wrong")' in err
    assert err.splitlines()[-1] == (
        "error: a bug in Cession: ValueError: an index the engine got wrong (the traceback is above; please report it)"
    )
    code, out, err = run_here(capsys, *args, "--json")
    assert code == 1 and "Traceback" in err and json.loads(out)["code"] == 1


def test_the_engines_refusal_inside_a_command_is_still_bad_input(capsys):
    code, out, err = run_here(capsys, "interest", "--principal", "10", "--from", "2025-02-01", "--to", "2025-01-01")
    assert code == 2 and err.strip() == "error: the period ends (2025-01-01) before it starts (2025-02-01)"
    code, out, err = run_here(capsys, "state", "--claims", "x.parquet", "--events", "y.parquet", "--waterfall", "costs")
    assert code == 2 and err.startswith("error: x.parquet: no such file")


def test_a_setting_that_cannot_be_used_is_bad_input_naming_its_variable(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("CESSION_PARTITIONS", "many")
    (tmp_path / "c.parquet").write_bytes(b"")
    code, out, err = run_here(
        capsys, "state", "--claims", str(tmp_path / "c.parquet"), "--events", str(tmp_path / "c.parquet")
    )
    assert code == 2 and err.startswith("error: CESSION_PARTITIONS: Input should be a valid integer"), err
    monkeypatch.delenv("CESSION_PARTITIONS")
    monkeypatch.setenv("CESSION_LOG_LEVEL", "loud")
    code, out, err = run_here(capsys, "limitation", "--due", "2016-03-15", "--kind", "business")
    assert code == 2 and err.strip() == "error: log level 'loud': one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
