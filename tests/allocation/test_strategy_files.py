"""Strategy, segments and agencies files with mistakes: the error names the file, the line and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from allocation.agencies import load_agencies
from allocation.errors import AllocationFileError
from allocation.strategy import load_strategy
from engine.errors import InputError

GOOD = """\
name: good
segments: segments.yaml
pools:
  main: {agencies: {A: 1}}
rules:
  - name: first
    action: place
    pool: main
  - name: second
    segment: all
    action: leave
"""
SEGMENTS = """\
segments:
  - name: all
    when: {}
"""


def write(tmp_path: Path, text: str, segments: str = SEGMENTS) -> Path:
    (tmp_path / "segments.yaml").write_text(segments, encoding="utf-8")
    path = tmp_path / "strategy.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_good_file_loads_and_is_hashed_by_content(tmp_path):
    first = load_strategy(write(tmp_path, GOOD))
    assert [r.name for r in first.rules] == ["first", "second"] and not first.warnings
    assert load_strategy(write(tmp_path, GOOD)).sha256 == first.sha256
    assert load_strategy(write(tmp_path, GOOD + "\n# a comment\n")).sha256 != first.sha256
    assert load_strategy(write(tmp_path, GOOD, SEGMENTS.replace("{}", "{title: true}"))).sha256 != first.sha256


@pytest.mark.parametrize(
    ("mistake", "expected"),
    [
        (GOOD.replace("action: place", "action: plac"), ":7: rules[0].action: Input should be 'place'"),
        (GOOD.replace("    pool: main\n", ""), ":6: rules[0]: action place needs 'pool'"),
        (
            GOOD.replace("pool: main\n", "pool: main\n    queue: court\n"),
            ":6: rules[0]: 'queue' goes with action legal",
        ),
        (GOOD.replace("segment: all", "segment: nowhere"), ":10: rules[1].segment: 'nowhere' is not a segment"),
        (
            GOOD.replace("    action: leave", "    action: leave\n    colour: red"),
            ":12: rules[1].colour: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("{agencies: {A: 1}}", "{agencies: {A: -1}}"),
            ":4: pools.main.agencies: agency 'A': a weight must be > 0",
        ),
        (GOOD.replace("pool: main", "pool: other"), "pool 'other' is not among pools"),
        (GOOD.replace("name: second", "name: first"), "rule 'first' is given twice"),
        (
            GOOD.replace("  - name: first\n", "  - name: first\n    when: {balance: [100, 10]}\n"),
            ":7: rules[0].when.balance: Value error, min 100 must be below max 10",
        ),
        (
            GOOD.replace("  - name: first\n", "  - name: first\n    when: {flags: [zombie]}\n"),
            ":7: rules[0].when.flags[0]: Input should be",
        ),
        (
            GOOD.replace("  - name: first\n", "  - name: first\n    when: {region: [WAW]}\n"),
            ":7: rules[0].when.region: Value error, 'WAW' is not a postal-code prefix",
        ),
        (
            GOOD.replace("pools:", "settings: {recall_after_days: 0}\npools:"),
            ":3: settings.recall_after_days: Input should be greater than 0",
        ),
        (GOOD.replace("name: good\n", "name: good\nname: twice\n"), ":2: name: given twice (first on line 1)"),
        (GOOD.replace("    action: leave", "    action: [leave"), ": not YAML"),
        (
            GOOD.replace("action: place\n    pool: main\n", "action: legal\n    queue: agency\n"),
            ":6: rules[0]: Value error, queue agency is not a legal queue",
        ),
    ],
)
def test_a_mistake_is_named_by_line_and_field(tmp_path, mistake, expected):
    with pytest.raises(AllocationFileError) as caught:
        load_strategy(write(tmp_path, mistake))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "strategy.yaml")), message
    assert expected.replace("Value error, ", "") in message, message
    assert isinstance(caught.value, InputError)


def test_a_segments_file_mistake_names_the_segments_file(tmp_path):
    bad = SEGMENTS + "  - name: all\n    when: {}\n"
    with pytest.raises(AllocationFileError, match=r"segments\.yaml:1: segments: segment 'all' is given twice"):
        load_strategy(write(tmp_path, GOOD, bad))
    with pytest.raises(
        AllocationFileError,
        match=r"segments\.yaml:3: segments\[0\]\.when\.days_past_due\.min: Input should be a valid decimal",
    ):
        load_strategy(write(tmp_path, GOOD, SEGMENTS.replace("{}", "{days_past_due: [a, 3]}")))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(AllocationFileError, match="no such file"):
        load_strategy(tmp_path / "nope.yaml")


def test_an_agencies_file_mistake_names_line_and_field(tmp_path):
    path = tmp_path / "agencies.yaml"
    path.write_text("agencies:\n  - agency_id: A\n    name: A\n  - agency_id: B\n    name: B\n    capacity: -3\n")
    with pytest.raises(
        AllocationFileError,
        match=r"agencies\.yaml:6: agencies\[1\]\.capacity: Input should be greater than or equal to 0",
    ):
        load_agencies(path)
    path.write_text("agencies:\n  - agency_id: A\n    name: A\n    commission_tiers: [[30, 1000]]\n")
    with pytest.raises(AllocationFileError, match=r":4: agencies\[0\]\.commission_tiers: .*rising from 0"):
        load_agencies(path)
