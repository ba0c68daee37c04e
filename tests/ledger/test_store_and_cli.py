"""The journal from the store (SQLite and PostgreSQL) and the commands as people and scripts use
them: formats by extension, the trial balance, reconciliation's exit codes, a bad chart, nothing
written when a transaction does not balance."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from api import exits
from engine.store import records
from tests.builders import event, frames
from tests.ledger.ledgers import none_claim


def run_here(capsys, *args: str) -> tuple[int, str, str]:
    from api.cli import app

    code = exits.run(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def stored(store):
    """A store with two claims: a payment on time, one recorded late (a file's recorded_on), a cost."""
    claims, events = frames(
        [none_claim(1), none_claim(2, portfolio_id="P2", seller_ref="REF-2")],
        [
            event(1, "payment", date(2026, 2, 10), 8_000),
            event(2, "payment", date(2026, 1, 20), 3_000, claim_id=2),
            event(3, "cost", date(2026, 2, 12), 1_000, claim_id=2),
        ],
    )
    events = events.with_columns(recorded_on=pl.Series([None, date(2026, 2, 4), None], dtype=pl.Date))
    records.load(store, claims, events)
    return store


def test_events_carry_the_day_they_were_recorded(stored):
    import sqlalchemy as sa

    with stored.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT event_id, recorded_on FROM events ORDER BY event_id")).all())
    as_date = {k: v if isinstance(v, date) else date.fromisoformat(v) for k, v in rows.items()}
    # a loaded file is a history: its own recorded_on, else each event's own day
    assert as_date == {1: date(2026, 2, 10), 2: date(2026, 2, 4), 3: date(2026, 2, 12)}
    _, posted = frames([], [event(4, "payment", date(2026, 2, 1), 100, claim_id=1)])
    assert records.post_events(stored, posted).inserted == 1
    with stored.connect() as conn:
        day = conn.execute(sa.text("SELECT recorded_on FROM events WHERE event_id = 4")).scalar()
    assert str(day) == datetime.now(UTC).date().isoformat()  # posted now: recorded today
    # the HTTP API inserts through the model: its default records today too
    from engine.store.models import Event

    with stored.begin() as conn:
        conn.execute(
            sa.insert(Event.__table__),
            [{"claim_id": 2, "event_date": date(2026, 2, 2), "kind": "cost", "amount": 5, "idempotency_key": "http:1"}],
        )
        day = conn.execute(sa.text("SELECT recorded_on FROM events WHERE idempotency_key = 'http:1'")).scalar()
    assert str(day) == datetime.now(UTC).date().isoformat()
    # the same event posted again another day is the same event, not a conflict
    again = posted.with_columns(recorded_on=pl.lit(date(2030, 1, 1)))
    written = records.post_events(stored, again)
    assert written.inserted == 0 and written.rejects.height == 0


def test_the_journal_from_the_store_posts_a_late_payment_when_it_was_recorded(stored):
    from api.ledger import service
    from ledger.book import from_store

    j = service.compute(book=from_store(stored), first=date(2026, 2, 1), last=date(2026, 2, 28))
    late = j.lines.filter(pl.col("event_id") == 2)
    assert late.get_column("entry_date").unique().to_list() == [date(2026, 2, 4)]
    assert late.filter(pl.col("account") == "131").get_column("debit").to_list() == [3_000]
    assert service.reconciliation(journal=j).ok
    january = service.compute(book=from_store(stored), first=date(2026, 1, 1), last=date(2026, 1, 31))
    assert january.lines.filter(pl.col("kind") == "collection").height == 0  # not known in January
    only = service.compute(book=from_store(stored, "P2"), first=date(2026, 2, 1), last=date(2026, 2, 28))
    assert only.lines.get_column("portfolio_id").unique().to_list() == ["P2"]


@pytest.fixture
def store_file(tmp_path):
    from engine.store.database import open_store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    claims, events = frames(
        [none_claim(1), none_claim(2, portfolio_id="P2", seller_ref="REF-2")],
        [event(1, "payment", date(2026, 2, 10), 8_000), event(2, "cost", date(2026, 2, 12), 1_234, claim_id=2)],
    )
    records.load(store, claims, events)
    store.dispose()
    return url


def test_one_journal_three_formats(store_file, tmp_path, capsys):
    common = ("--from", "2026-01-01", "--to", "2026-02-28", "--database-url", store_file)
    for name in ("j.parquet", "j.csv", "j.xlsx"):
        code, out, err = run_here(capsys, "journal", *common, "--out", str(tmp_path / name), "--json")
        assert code == 0, err
    parquet = pl.read_parquet(tmp_path / "j.parquet")
    assert parquet.columns == [
        "tx_id",
        "entry_date",
        "account",
        "debit",
        "credit",
        "portfolio_id",
        "claim_id",
        "event_id",
        "kind",
        "memo",
    ]
    assert parquet.schema["debit"] == pl.Int64 and parquet["debit"].sum() == parquet["credit"].sum()
    csv = pl.read_csv(tmp_path / "j.csv", schema_overrides={"debit": pl.String, "credit": pl.String})
    cost = csv.filter(pl.col("kind") == "cost").sort("account")
    assert cost.select("account", "debit", "credit").rows() == [("131", "0.00", "12.34"), ("248-03", "12.34", "0.00")]
    assert csv["tx_id"].to_list() == parquet["tx_id"].to_list()
    xlsx = pl.read_excel(tmp_path / "j.xlsx")
    assert xlsx.height == parquet.height
    assert [round(x * 100) for x in xlsx["debit"].to_list()] == parquet["debit"].to_list()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_the_trial_balance_and_the_summary_for_scripts(store_file, tmp_path, capsys):
    args = ("journal", "--from", "2026-02-01", "--to", "2026-02-28", "--database-url", store_file)
    code, out, _ = run_here(capsys, *args, "--out", str(tmp_path / "j.parquet"), "--trial-balance", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["balanced"] and summary["debit"] == summary["credit"] == "92.34"
    cash = [r for r in summary["trial_balance"] if r["account"] == "131"]
    assert {r["portfolio_id"]: r["balance"] for r in cash} == {"P1": "80.00", "P2": "-12.34", None: "67.66"}
    code, out, _ = run_here(capsys, *args, "--out", str(tmp_path / "j.csv"), "--trial-balance")
    assert code == 0 and "trial balance" in out and "67,66\xa0zł" in out


def test_reconcile_exits_0_when_it_reconciles_and_3_on_a_difference_naming_the_claims(store_file, capsys, monkeypatch):
    args = ("reconcile", "--from", "2026-02-01", "--to", "2026-02-28", "--database-url", store_file)
    code, out, _ = run_here(capsys, *args, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    # a journal that lost a line of claim 2's cost: reported, with the claim, exit 3
    import ledger.journal

    lines = ledger.journal.lines

    def losing(postings, chart):
        out = lines(postings, chart)
        dropped = out.filter((pl.col("claim_id") == 2) & (pl.col("kind") == "cost"))
        return out.join(dropped, on=["tx_id"], how="anti")

    monkeypatch.setattr(ledger.journal, "lines", losing)
    code, out, _ = run_here(capsys, *args, "--json")
    summary = json.loads(out)
    assert code == exits.ExitCode.DIFFERENCE == 3 and summary["ok"] is False
    costs = [c for c in summary["checks"] if c["check"] == "costs"]
    assert costs == [
        {
            "check": "costs",
            "portfolio_id": "P2",
            "journal": "0.00",
            "events_or_engine": "12.34",
            "difference": "-12.34",
            "claims_with_difference": 1,
            "claims": [2],
        }
    ]
    code, out, _ = run_here(capsys, *args)
    assert code == 3 and "difference in costs of P2: -12,34\xa0zł; claims 2" in out


def test_an_unbalanced_transaction_stops_the_journal_before_any_byte_is_written(
    store_file, tmp_path, capsys, monkeypatch
):
    import ledger.journal

    costs = ledger.journal._costs

    def broken(m):
        out = costs(m)
        return out.with_columns(amount=pl.when(pl.col("role") == "cash").then(pl.col("amount") + 1).otherwise("amount"))

    monkeypatch.setattr(ledger.journal, "_costs", broken)
    out = tmp_path / "j.parquet"
    code, _, err = run_here(
        capsys, "journal", "--from", "2026-02-01", "--to", "2026-02-28", "--database-url", store_file, "--out", str(out)
    )
    assert code == 1 and "do not balance" in err and "20260212-2-cost-2 (+1 grosz)" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "store.db"] or not out.exists()
    assert not out.exists()


def test_a_bad_chart_is_refused_naming_file_line_and_field(store_file, tmp_path, capsys):
    from ledger.chart import DEFAULT_CHART

    text = DEFAULT_CHART.read_text().replace('number: "402"', "number: 402")
    chart = tmp_path / "chart.yaml"
    chart.write_text(text)
    args = ("journal", "--from", "2026-02-01", "--to", "2026-02-28", "--database-url", store_file)
    code, _, err = run_here(capsys, *args, "--out", str(tmp_path / "j.csv"), "--chart", str(chart))
    line = text.splitlines().index("    number: 402") + 1
    assert code == 2 and f"{chart}:{line}: accounts.commission_expense.number: " in err
    chart.write_text(DEFAULT_CHART.read_text().replace("  agency_payable:", "  agency_payables:"))
    code, _, err = run_here(capsys, *args, "--out", str(tmp_path / "j.csv"), "--chart", str(chart))
    assert code == 2 and "agency_payables" in err
    code, _, err = run_here(capsys, *args, "--out", str(tmp_path / "j.txt"))
    assert code == 2 and ".parquet, .csv or .xlsx" in err
    code, _, err = run_here(capsys, "journal", "--from", "2026-03-01", "--to", "2026-02-01", "--out", "x.csv")
    assert code == 2 and "is after" in err


def test_a_book_from_files(tmp_path, capsys):
    claims, events = frames([none_claim(1)], [event(1, "payment", date(2026, 2, 10), 8_000)])
    claims.write_parquet(tmp_path / "claims.parquet")
    events.write_parquet(tmp_path / "events.parquet")
    code, out, err = run_here(
        capsys,
        "journal",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
        "--claims",
        str(tmp_path / "claims.parquet"),
        "--events",
        str(tmp_path / "events.parquet"),
        "--out",
        str(tmp_path / "j.parquet"),
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["kinds"]["collection"] == {"transactions": 1, "debit": "80.00"}


def test_commissions_from_the_store_s_placements_and_agencies(store):
    """An agency with tiers by days past due at placement, a placement of claim 1 in February: its
    payment of 80.00 zł earns the tier's 20 %, the direct payment nothing."""
    import sqlalchemy as sa

    from allocation.store import add_agency
    from api.ledger import service
    from engine.store.models import Placement
    from ledger.book import from_store

    claims, events = frames(
        [none_claim(1)],
        [
            event(1, "payment", date(2026, 2, 10), 8_000) | {"source": "AG01"},
            event(2, "payment", date(2026, 2, 11), 1_000) | {"source": "direct"},
        ],
    )
    records.load(store, claims, events)
    add_agency(
        store, "AG01", {"name": "Agency 1", "commission_bp": 1_000, "commission_tiers": [[0, 1_500], [180, 2_000]]}
    )
    with store.begin() as conn:
        conn.execute(
            sa.insert(Placement.__table__).values(
                claim_id=1, agency_id="AG01", queue="agency", placed_on=date(2026, 2, 1), days_past_due=200
            )
        )
    j = service.compute(book=from_store(store), first=date(2026, 2, 1), last=date(2026, 2, 28))
    fees = j.lines.filter(pl.col("kind") == "commission").select("account", "debit", "credit", "event_id").rows()
    assert sorted(fees) == [("204", 0, 1_600, 1), ("402", 1_600, 0, 1)]
    assert service.reconciliation(journal=j).ok
