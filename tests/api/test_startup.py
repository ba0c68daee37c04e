"""A command imports only what it uses: the help and the command-line's own refusals load none of
numba, polars, pyarrow, Ray or SQLAlchemy (they took ~1.6 s of every `cession --help`), nor typer's
rich help machinery (~0.15 s more: the help is click's plain one), and each
command loads only its own. Checked by the modules a real `cession` process holds at its end,
not by the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HEAVY = (
    "numba",
    "polars",
    "pyarrow",
    "ray",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "numpy",
    "pydantic_settings",
    "fastapi",
    "uvicorn",
    "httpx",
    # typer's rich help (rich_utils) loads these before printing a line (~0.15 s): the help is click's plain one
    "rich.markdown",
    "rich.traceback",
    "markdown_it",
    "pygments",
)
#: run `cession ARGS` as the installed script runs it, then say which HEAVY modules it imported
PROBE = f"""
import json, sys
sys.argv = ["cession", *sys.argv[1:]]
from api.cli import main
try:
    main()
except SystemExit as e:
    code = e.code
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


def loaded(*args: str) -> tuple[int, list[str]]:
    """(exit code, the heavy modules loaded) of `cession ARGS` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    found = json.loads(result.stderr.splitlines()[-1])
    return found["code"], found["loaded"]


HELP = [
    (),
    ("interest",),
    ("limitation",),
    ("state",),
    ("generate",),
    ("db",),
    ("db", "status"),
    ("db", "upgrade"),
    ("load",),
    ("run",),
    ("runs",),
    ("ingest",),
    ("ingest", "file"),
    ("ingest", "report"),
    ("demo",),
    ("agencies",),
    ("allocate",),
    ("keys",),
    ("keys", "create"),
    ("keys", "list"),
    ("keys", "revoke"),
    ("serve",),
    ("webhooks",),
    ("webhooks", "deliver"),
    ("statements",),
    ("statements", "import"),
    ("statements", "list"),
    ("suspense",),
    ("suspense", "list"),
    ("suspense", "assign"),
    ("suspense", "refund"),
    ("plans",),
    ("plans", "create"),
    ("plans", "update"),
    ("settlements",),
    ("settlements", "create"),
    ("promises",),
    ("promises", "rates"),
    ("report",),
]


@pytest.mark.parametrize("command", HELP, ids=lambda c: " ".join(c) or "cession")
def test_help_loads_nothing_heavy(command):
    assert loaded(*command, "--help") == (0, [])


@pytest.mark.parametrize(
    "args",
    [
        ("interest", "--principal", "12.345", "--from", "2025-01-01", "--to", "2025-02-01"),
        ("limitation", "--due", "2016-13-01", "--kind", "business"),
        ("state", "--claims", "c.parquet", "--events", "e.parquet", "--as-of", "2026-02-30"),
        ("run", "--as-of", "2026-01-31", "--out", "somewhere"),
        ("nope",),
    ],
    ids=["amount", "day", "as-of", "out-with-one-day", "no-such-command"],
)
def test_a_refused_command_line_loads_nothing_heavy(args):
    assert loaded(*args) == (2, [])


def test_a_store_command_loads_no_engine(tmp_path):
    """`cession db status` reads the store's schema and counts: SQLAlchemy and Alembic, no numba or polars."""
    code, modules = loaded("db", "status", "--database-url", f"sqlite:///{tmp_path / 'store.db'}")
    assert code == 0 and "sqlalchemy" in modules and not {"numba", "polars", "pyarrow", "ray"} & set(modules)


def test_state_from_files_loads_no_store_and_no_ray(tmp_path):
    from synthetic.book import generate_portfolio, write_portfolio

    claims, events = write_portfolio(tmp_path, *generate_portfolio(50, 3))
    code, modules = loaded(
        "state",
        "--claims",
        str(claims),
        "--events",
        str(events),
        "--as-of",
        "2026-01-31",
        "--out",
        str(tmp_path / "state.parquet"),
    )
    assert code == 0 and "numba" in modules and not {"sqlalchemy", "alembic", "psycopg", "ray"} & set(modules)
