"""Commands started at once on a fresh store: the first migrates it, the others wait for its lock
and find the schema current (no command dies on the race)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store.database import head_revision, open_store, revision

ROOT = Path(__file__).parents[2]
COMMANDS = 6


@pytest.mark.slow
def test_commands_started_at_once_on_a_fresh_store_all_succeed(empty_store_url, tmp_path):
    store_url = empty_store_url
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "api.cli", "runs", "--json", "--database-url", store_url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(COMMANDS)
    ]
    ended = [(p.wait(timeout=300), *p.communicate()) for p in started]
    for code, out, errors in ended:
        assert code == 0, errors
        assert json.loads(out) == [] and "Traceback" not in errors
    engine = open_store(store_url, upgrade=False)
    assert revision(engine) == head_revision()
    engine.dispose()
