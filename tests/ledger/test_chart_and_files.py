"""The chart of accounts as data, validated on load; the journal's files written whole or not at all."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from allocation.errors import AllocationFileError
from engine.errors import InputError
from ledger import chart as charts
from ledger import files
from ledger.journal import LINE_SCHEMA, UnbalancedJournal, balanced


def test_the_shipped_chart_maps_every_role_once():
    chart = charts.load()
    assert set(chart.accounts) == set(charts.Role)
    assert len({chart.number(r) for r in charts.Role}) == len(charts.Role)


def test_two_roles_share_an_account_only_when_the_chart_says_so(tmp_path):
    text = charts.DEFAULT_CHART.read_text()
    shared = text.replace('number: "202"', 'number: "131"')
    path = tmp_path / "chart.yaml"
    path.write_text(shared)
    with pytest.raises(
        AllocationFileError, match=r"chart.yaml:14: accounts.purchase_settlement.number: number '131' is also cash's"
    ):
        charts.load(path)
    path.write_text(
        shared.replace(
            "    name: Settlements with sellers", "    shared_with: [cash]\n    name: Settlements with sellers"
        )
    )
    assert charts.load(path).number(charts.Role.PURCHASE_SETTLEMENT) == "131"


def test_a_chart_missing_a_role_names_it(tmp_path):
    text = charts.DEFAULT_CHART.read_text()
    start = text.index("  write_off_loss:")
    path = tmp_path / "chart.yaml"
    path.write_text(text[:start] + text[text.index("  commission_expense:") :])
    with pytest.raises(AllocationFileError, match="missing: write_off_loss"):
        charts.load(path)


def _lines(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "tx_id": ["t"] * n,
            "entry_date": [date(2026, 1, 1)] * n,
            "account": ["131"] * n,
            "debit": [1] * n,
            "credit": [1] * n,
            "portfolio_id": ["P1"] * n,
            "claim_id": [1] * n,
            "event_id": [None] * n,
            "kind": ["cost"] * n,
            "memo": ["m"] * n,
        },
        schema=LINE_SCHEMA,
    )


def test_an_xlsx_too_long_for_a_sheet_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "XLSX_MAX_LINES", 3)
    with pytest.raises(InputError, match="do not fit an XLSX sheet"):
        files.write(_lines(4), tmp_path / "j.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_previous_file_and_no_partial(tmp_path, monkeypatch):
    out = tmp_path / "j.parquet"
    files.write(_lines(2), out)

    def fail(self, path, **_):
        Path(path).write_bytes(b"half")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", fail)
    with pytest.raises(OSError):
        files.write(_lines(5), out)
    monkeypatch.undo()
    assert pl.read_parquet(out).height == 2 and [p.name for p in tmp_path.iterdir()] == ["j.parquet"]


def test_the_balance_check_names_the_transactions_that_do_not_balance():
    lines = _lines(2).with_columns(debit=pl.Series([5, 0]), credit=pl.Series([0, 4]))
    with pytest.raises(UnbalancedJournal, match=r"1 transaction\(s\).*t \(\+1 grosz\)"):
        balanced(lines)
    balanced(lines.with_columns(credit=pl.Series([0, 5])))
