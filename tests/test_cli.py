"""The `cession` command as people and scripts use it."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl


def cession(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], capture_output=True, text=True, cwd=Path(__file__).parents[1],
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_interest_json_has_string_amounts():
    out = json.loads(cession("interest", "--principal", "1000", "--from", "2025-05-01", "--to", "2026-03-31",
                             "--allow-stale-rates", "--json").stdout)  # fmt: skip
    assert out["total"] == "92.27" and out["days"] == 335
    assert out["periods"][0] == {"from": "2025-05-01", "to": "2025-05-07", "days": 7, "rate": "11.25", "interest": "2.16"}
    assert out["stale_rate_tables"] == {"statutory_late": "2026-03-05"}


def test_interest_table_for_people():
    text = cession("interest", "--principal", "1234.56", "--from", "2020-01-10", "--to", "2024-06-30").stdout
    assert "2022-07-08 – 2022-09-07" in text and "total" in text


def test_interest_refuses_stale_rates_with_a_clear_message():
    result = cession("interest", "--principal", "1000", "--from", "2026-01-01", "--to", "2026-11-01", check=False)
    assert result.returncode == 2 and "--allow-stale-rates" in result.stderr and "Traceback" not in result.stderr


def test_limitation_with_events():
    out = json.loads(cession("limitation", "--due", "2016-03-15", "--kind", "business", "--event",
                             "acknowledgment:2019-01-10", "--as-of", "2026-11-22", "--json").stdout)  # fmt: skip
    assert out["limitation_date"] == "2022-12-31" and out["time_barred"] is True and out["rule_set"] == "2026-12"
    assert out["steps"][1]["end"] == "2022-12-31"
    assert "not moved: III CZP 21/23" in out["steps"][1]["rule"] and "Saturday" in out["steps"][1]["rule"]


def test_limitation_with_a_title_absorbs_earlier_events_and_says_why():
    out = json.loads(cession("limitation", "--due", "2016-03-15", "--kind", "business", "--title", "2021-05-01",
                             "--event", "acknowledgment:2019-01-10", "--as-of", "2026-11-22", "--json").stdout)  # fmt: skip
    assert out["limitation_date"] == "2027-12-31"
    assert "absorbed" in out["steps"][1]["effect"] and "125" in out["steps"][1]["effect"]


def test_interest_shows_which_tranches_are_time_barred():
    out = json.loads(cession("interest", "--principal", "10000", "--from", "2016-02-01", "--to", "2020-03-01",
                             "--json").stdout)  # fmt: skip
    assert out["total"] == "2859.45" and out["time_barred"] == "642.47"
    assert out["tranches"][0] == {"from": "2016-02-01", "to": "2016-12-31", "interest": "642.47", "time_barred": True,
                                  "rule": out["tranches"][0]["rule"]}  # fmt: skip
    assert "III CZP 42/04" in out["tranches"][0]["rule"]
    medical = json.loads(cession("interest", "--principal", "10000", "--from", "2020-02-01", "--to", "2020-06-30",
                                 "--basis", "commercial_late_medical", "--json").stdout)  # fmt: skip
    assert medical["total"] == "393.01"
    text = cession("interest", "--principal", "10000", "--from", "2016-02-01", "--to", "2020-03-01").stdout
    assert "time-barred interest" in text and "642.47" in text


def test_bad_arguments_exit_2_with_one_line():
    for args in (["interest", "--principal", "12.345", "--from", "2025-01-01", "--to", "2025-02-01"],
                 ["limitation", "--due", "2016-13-01", "--kind", "business"],
                 ["interest", "--principal", "10", "--from", "2025-01-01", "--to", "2025-02-01", "--basis", "contractual"]):
        result = cession(*args, check=False)
        assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr, args


def test_generate_then_state_parquet_to_parquet(tmp_path):
    cession("generate", "--claims", "2000", "--seed", "7", "--out", str(tmp_path))
    out = tmp_path / "state.parquet"
    summary = json.loads(cession("state", "--claims", str(tmp_path / "claims.parquet"), "--events",
                                 str(tmp_path / "events.parquet"), "--as-of", "2026-01-31", "--out", str(out),
                                 "--json").stdout)  # fmt: skip
    state = pl.read_parquet(out)
    assert state.height == summary["claims"] == 2000
    assert summary["totals"]["total_due"] == f"{state['total_due'].sum() / 100:.2f}"
    assert summary["time_barred"] == state["time_barred"].sum()


def test_load_run_and_runs_through_the_store(tmp_path):
    cession("generate", "--claims", "1500", "--seed", "8", "--out", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    files = ("--claims", str(tmp_path / "claims.parquet"), "--events", str(tmp_path / "events.parquet"))
    first = json.loads(cession("load", *files, "--database-url", url, "--json").stdout)
    assert first["claims"] == {"rows": 1500, "inserted": 1500, "already_stored": 0, "rejected": 0}
    again = json.loads(cession("load", *files, "--database-url", url, "--json").stdout)
    assert again["events"]["inserted"] == 0 and again["events"]["already_stored"] == first["events"]["rows"]
    ran = json.loads(cession("run", "--as-of", "2026-01-31", "--database-url", url, "--json").stdout)
    assert ran["status"] == "succeeded" and ran["claims"] == 1500 and ran["totals"]["total_due"].count(".") == 1
    runs = json.loads(cession("runs", "--database-url", url, "--json").stdout)
    assert [r["run_id"] for r in runs] == [ran["run_id"]]
    status = json.loads(cession("db", "status", "--database-url", url, "--json").stdout)
    assert status["schema"] == status["head"] and status["counts"]["claim_state"] == 1500
    missing = cession("run", "--portfolio", "NOPE", "--as-of", "2026-01-31", "--database-url", url, check=False)
    assert missing.returncode == 2 and "not in the store" in missing.stderr and "Traceback" not in missing.stderr
