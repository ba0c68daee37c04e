"""`cession plans|settlements|promises` as people and scripts use them, on a SQLite store file; and
`cession run` doing the day's plan update before it computes the state."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from engine.store.database import open_store
from tests.builders import claim
from tests.payments.helpers import load, pay

ROOT = Path(__file__).parents[2]


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    load(store, claim(1, due=date(2025, 1, 31)), claim(2, due=date(2025, 1, 31)))
    pay(store, 1, date(2026, 1, 10), 15_000)
    store.dispose()
    return url


def cession(url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args, "--database-url", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == code, result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_a_plan_made_shown_updated_and_listed(url):
    made = json.loads(
        cession(
            url,
            "plans",
            "create",
            "--claim",
            "1",
            "--signed-on",
            "2026-01-10",
            "--total",
            "900,00",
            "--instalments",
            "3",
            "--first-due",
            "2026-01-31",
            "--down-payment",
            "150.00",
            "--write-off-rest",
            "--json",
        ).stdout
    )
    assert (made["status"], made["total"], made["acknowledgment_event_id"]) == ("active", "900.00", 2)
    assert [i["amount"] for i in made["schedule"]] == ["150.00", "250.00", "250.00", "250.00"]
    people = cession(url, "plans", "show", str(made["plan_id"]), "--as-of", "2026-02-10").stdout
    assert "150,00\u00a0zł" in people and "late" in people and "2026-01-10" in people
    summary = json.loads(cession(url, "plans", "update", "--as-of", "2026-02-10", "--json").stdout)
    assert summary["plans"] == {"active": 1} and summary["changed"]["payment_plans"] == 1
    [listed] = json.loads(cession(url, "plans", "list", "--status", "active", "--as-of", "2026-02-10", "--json").stdout)
    assert (listed["paid"], listed["days_late"], listed["next_due_on"]) == ("150.00", 10, "2026-01-31")
    refused = cession(url, "plans", "create", "--claim", "1", "--total", "100", "--json", code=2)
    assert "--instalments, --first-due" in json.loads(refused.stdout)["error"]
    refused = cession(url, "plans", "list", "--status", "late", code=2)
    assert "error: --status: 'late' is not one of active, kept, broken or cancelled" in refused.stderr + refused.stdout


@pytest.mark.slow
def test_settlements_and_promises_from_the_command_line(url):
    offered = json.loads(
        cession(
            url, "settlements", "create", "--claim", "2", "--amount", "600.00", "--pay-by", "2026-02-28",
            "--offered-on", "2026-01-10", "--json",
        ).stdout
    )  # fmt: skip
    assert (offered["status"], offered["amount"]) == ("open", "600.00")
    promised = cession(
        url, "promises", "create", "--claim", "1", "--amount", "100", "--pay-by", "2026-01-20",
        "--made-on", "2026-01-10", "--collector", "anna",
    ).stdout  # fmt: skip
    assert "100,00\u00a0zł by 2026-01-20" in promised and "the purchaser (anna)" in promised
    cession(url, "plans", "update", "--as-of", "2026-01-21")
    [rate] = json.loads(cession(url, "promises", "rates", "--by", "collector", "--json").stdout)
    assert (rate["agency_id"], rate["collector"], rate["kept"], rate["kept_rate"]) == (None, "anna", 1, "1.0000")
    assert "settlement" in cession(url, "settlements", "list").stdout


@pytest.mark.slow
def test_cession_run_updates_the_plans_first(url):
    made = json.loads(
        cession(
            url, "plans", "create", "--claim", "1", "--signed-on", "2026-01-10", "--instalment", "2026-01-10:150.00",
            "--write-off-rest", "--json",
        ).stdout
    )  # fmt: skip
    run = json.loads(cession(url, "run", "--as-of", "2026-01-31", "--allow-stale-rates", "--json").stdout)
    assert run["status"] == "succeeded"
    store = open_store(url)
    with store.connect() as conn:
        owed = dict(conn.exec_driver_sql("SELECT claim_id, total_due FROM claim_state").all())
    store.dispose()
    assert owed[1] == 0 and owed[2] > 0  # claim 1 written off by its plan, kept on the day signed
    shown = json.loads(cession(url, "plans", "show", str(made["plan_id"]), "--json").stdout)
    assert (shown["status"], shown["status_on"], shown["updated_as_of"]) == ("kept", "2026-01-10", "2026-01-31")
