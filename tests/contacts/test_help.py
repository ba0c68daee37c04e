"""The contacts' and letters' commands answer --help without loading anything heavy (as every
command does: tests/api/test_startup.py)."""

from __future__ import annotations

import pytest

from tests.api.test_startup import loaded

HELP = [
    ("contacts",),
    ("contacts", "plan"),
    ("contacts", "send"),
    ("contacts", "results"),
    ("contacts", "history"),
    ("contacts", "object"),
    ("letters",),
    ("letters", "templates"),
    ("letters", "preview"),
    ("letters", "reproduce"),
]


@pytest.mark.parametrize("command", HELP, ids=" ".join)
def test_help_loads_nothing_heavy(command):
    assert loaded(*command, "--help") == (0, [])
