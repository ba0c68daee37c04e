"""Allocation over the store, on SQLite and PostgreSQL: placements written in one transaction
within the agencies' capacity (checked in the store after every run), at most one open placement
per claim (the database refuses a second), recall timers and no re-placement across days, recall on
demand, commission, and the commands."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from allocation import store as allocation_store
from api.agencies import service as agencies_service
from api.allocation import service
from engine.store import records
from tests.builders import claim, event, frames

DAY = date(2026, 3, 2)
LATER = DAY + timedelta(days=40)
PESEL = "44051401359"

STRATEGY = """\
name: store-test
segments: segments.yaml
settings: {recall_after_days: 30, no_replacement_days: 365, legal_margin: 0, score_without_history: 0.5}
pools:
  main: {agencies: {A: 1, B: 1}}
rules:
  - {name: sue-big, when: {balance: [20000, null]}, action: legal, queue: epu}
  - {name: place-rest, when: {balance: [1, null]}, action: place, pool: main}
"""
SEGMENTS = "segments:\n  - name: all\n    when: {}\n"
AGENCIES = """\
agencies:
  - {agency_id: A, name: Agencja A, capacity: 6, capacity_balance: 20000, commission_bp: 1500}
  - {agency_id: B, name: Agencja B, capacity: 5, capacity_balance: 9000, commission_tiers: [[0, 1000], [1000, 2000]]}
"""


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    (tmp_path / "segments.yaml").write_text(SEGMENTS)
    (tmp_path / "strategy.yaml").write_text(STRATEGY)
    (tmp_path / "agencies.yaml").write_text(AGENCIES)
    return {"strategy": tmp_path / "strategy.yaml", "agencies": tmp_path / "agencies.yaml"}


def _consumers(n: int, *, deceased: int | None = None) -> pl.DataFrame:
    """Debtors 1..n, consumers with one valid PESEL, debtor ``deceased`` flagged so."""
    return pl.DataFrame(
        {
            "debtor_id": list(range(1, n + 1)),
            "debtor_kind": ["consumer"] * n,
            "national_id": [PESEL] * n,
            "name": [f"D{i}" for i in range(1, n + 1)],
            "postal_code": ["00-001"] * n,
            "flags": [["deceased"] if i == deceased else [] for i in range(1, n + 1)],
        }
    )


def _book() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """30 claims of 1 000 .. 30 000 zł (due 2025-06-01), one of a deceased debtor."""
    rows = [claim(i, due=date(2025, 6, 1), debtor_id=i, principal=i * 100_000) for i in range(1, 31)]
    claims, events = frames(rows)  # no payment yet: every segment scores settings.score_without_history
    debtors = _consumers(30, deceased=7)
    return claims, events, debtors


@pytest.fixture
def book_store(store, files):
    from api.runs import service as runs_service

    claims, events, debtors = _book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    agencies_service.load(store=store, path=files["agencies"])
    return store


def assert_capacity_kept(store) -> None:
    open_ = allocation_store.placements(store, open_only=True).filter(pl.col("agency_id").is_not_null())
    used = open_.group_by("agency_id").agg(cases=pl.len(), volume=pl.col("balance").sum())
    limits = allocation_store.agencies(store).join(used, on="agency_id")
    assert limits.height > 0
    for row in limits.iter_rows(named=True):
        assert row["cases"] <= row["capacity"], row
        assert row["volume"] <= row["capacity_balance"], row
    assert open_["claim_id"].is_unique().all()


def test_allocate_writes_placements_within_capacity_and_keeps_them(book_store, files):
    done = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert done.run_id is not None
    assert_capacity_kept(book_store)
    stored = allocation_store.placements(book_store)
    decisions = done.allocation.decisions
    assert stored.height == done.allocation.placements.height > 0
    assert set(stored["claim_id"]) == set(decisions.filter(pl.col("action").is_in(["place", "legal"]))["claim_id"])
    assert decisions.filter(pl.col("claim_id") == 7)["action"].item() == "hold"
    big = set(decisions.filter(pl.col("balance") >= 2_000_000)["claim_id"])  # 20 000 zł with interest
    assert set(stored.filter(pl.col("queue") == "epu")["claim_id"]) == big and {20, 30} <= big
    assert (stored["strategy_version"] == 1).all() and (stored["rule"].is_in(["sue-big", "place-rest"])).all()
    assert decisions.filter(pl.col("reason") == "pool full").height > 0  # more claims than capacity
    again = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert again.allocation.placements.height == 0  # the pools are full and what was placed is kept
    assert set(again.allocation.decisions.filter(pl.col("action") == "keep")["claim_id"]) == set(stored["claim_id"])
    assert_capacity_kept(book_store)


def test_a_dry_run_writes_nothing(book_store, files):
    done = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"], dry_run=True)
    assert done.run_id is None and done.allocation.placements.height > 0
    assert allocation_store.placements(book_store).height == 0
    assert allocation_store.latest_runs(book_store) == []


def test_the_database_refuses_a_second_open_placement_of_a_claim(book_store, files):
    service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    some = allocation_store.placements(book_store, open_only=True).row(0, named=True)
    with pytest.raises(sa.exc.IntegrityError), book_store.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO placements (claim_id, agency_id, queue, placed_on) VALUES (:c, NULL, 'court', :d)"),
            {"c": some["claim_id"], "d": DAY},
        )


def test_an_error_while_writing_leaves_the_previous_placements(book_store, files, monkeypatch):
    service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    before = allocation_store.placements(book_store)
    service.recall(store=book_store, as_of=DAY, agency="A")  # frees A's cases for the next allocation
    recalled = allocation_store.placements(book_store)

    def broken(conn, table, frame, **kw):
        if table == "placements":
            raise RuntimeError("disk gone")
        return original(conn, table, frame, **kw)

    original = allocation_store.write_frame
    monkeypatch.setattr(allocation_store, "write_frame", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert allocation_store.placements(book_store).equals(recalled)
    assert len(allocation_store.latest_runs(book_store)) == 1
    assert recalled.filter(pl.col("agency_id") == "A")["recall_reason"].unique().to_list() == ["on_demand"]
    assert before.height == recalled.height


def test_recall_after_days_without_payment_and_no_replacement_with_the_same_agency(book_store, files):
    from api.runs import service as runs_service

    first = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    with_agency = dict(
        first.allocation.placements.filter(pl.col("queue") == "agency").select("claim_id", "agency_id").iter_rows()
    )
    runs_service.run(store=book_store, as_of=LATER, allow_stale_rates=True)
    second = service.allocate(store=book_store, as_of=LATER, strategy_path=files["strategy"])
    recalls = second.allocation.recalls
    assert set(recalls["claim_id"]) == set(with_agency)  # 40 days, nothing paid: every agency case back
    assert set(recalls["recall_reason"]) == {"no_payment"}
    assert second.allocation.recalls.filter(pl.col("queue") == "epu").height == 0  # a court case is not recalled so
    for row in second.allocation.placements.filter(pl.col("queue") == "agency").iter_rows(named=True):
        assert with_agency.get(row["claim_id"]) != row["agency_id"], row  # never back to the same agency
    history = allocation_store.placements(book_store)
    assert history.filter(pl.col("recalled_on") == LATER).height == len(with_agency)  # the history is kept
    assert_capacity_kept(book_store)


def test_commission_on_payments_during_the_placement(book_store, files):
    service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    placed = (
        allocation_store.placements(book_store, open_only=True).filter(pl.col("agency_id") == "B").row(0, named=True)
    )
    records.post_events(
        book_store,
        pl.DataFrame(
            [
                event(900, "payment", DAY + timedelta(days=3), 40_000, claim_id=placed["claim_id"]) | {"source": "B"},
                event(901, "payment", DAY + timedelta(days=4), 5_000, claim_id=placed["claim_id"])
                | {"source": "direct"},
            ]
        ),
    )
    rows = service.open_placements(store=book_store, as_of=DAY + timedelta(days=10), agency="B")
    mine = rows.filter(pl.col("claim_id") == placed["claim_id"]).row(0, named=True)
    assert mine["paid"] == 40_000  # only the agency's own payments count
    assert mine["commission"] == 40_000 * mine["rate_bp"] // 10_000 and mine["rate_bp"] == 1000


def test_the_commands(book_store, files, store_url, capsys, tmp_path, monkeypatch):
    from tests.test_cli import run_here

    monkeypatch.setenv("COLUMNS", "200")
    base = ["--database-url", store_url]
    code, out, _ = run_here(
        capsys, "allocate", "--as-of", str(DAY), "--strategy", str(files["strategy"]), "--json", *base
    )
    assert code == 0
    result = json.loads(out)
    assert result["dry_run"] is False and result["placed"] > 0 and isinstance(result["balance"], str)
    assert {r["action"] for r in result["by_action"]} >= {"hold", "legal", "place"}
    parquet = tmp_path / "placements.parquet"
    code, _, _ = run_here(capsys, "placements", "--open", "--agency", "A", "--out", str(parquet), *base)
    assert code == 0
    written = pl.read_parquet(parquet)
    assert {"claim_id", "agency_id", "queue", "placed_on", "strategy", "rule"} <= set(written.columns)
    assert set(written["agency_id"]) == {"A"}
    code, out, _ = run_here(capsys, "explain", "7", "--as-of", str(DAY), "--strategy", str(files["strategy"]), *base)
    assert code == 0 and "deceased" in out and "Decision: hold" in out
    code, out, _ = run_here(
        capsys, "explain", "25", "--as-of", str(DAY), "--strategy", str(files["strategy"]), "--json", *base
    )
    explained = json.loads(out)
    assert explained["decision"]["action"] == "keep" and explained["open_placement"]["queue"] == "epu"
    code, out, _ = run_here(capsys, "recall", "--claim", "25", "--as-of", str(DAY), "--json", *base)
    assert code == 0 and json.loads(out)["recalled"] == 1
    code, out, _ = run_here(capsys, "agencies", "list", "--json", *base)
    assert {a["agency_id"]: a["open_cases"] for a in json.loads(out)}["A"] > 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(STRATEGY.replace("action: place", "action: plase"))
    (tmp_path / "segments.yaml").write_text(SEGMENTS)
    code, _, err = run_here(capsys, "allocate", "--as-of", str(DAY), "--strategy", str(bad), *base)
    assert code == 2 and ":8: rules[1].action: Input should be" in err and "Traceback" not in err
    code, _, err = run_here(capsys, "allocate", "--as-of", str(LATER), "--strategy", str(files["strategy"]), *base)
    assert code == 2 and "cession run --as-of" in err
    code, out, _ = run_here(
        capsys, "segments", "--as-of", str(DAY), "--strategy", str(files["strategy"]), "--json", *base
    )
    segments = json.loads(out)
    assert code == 0 and [s["segment"] for s in segments["segments"]] == ["all", "other"]
    assert segments["segments"][0]["claims"] == 30 and segments["segments"][0]["balance"].count(".") == 1
    assert set(segments["calibration"][0]) >= {"predicted_pay_share", "actual_pay_share"}
    code, _, err = run_here(capsys, "agencies", "add", "A", "--capacity", "3", *base)
    assert code == 2 and "already stored" in err
    code, out, _ = run_here(capsys, "agencies", "update", "A", "--capacity", "3", "--json", *base)
    assert code == 0 and json.loads(out)["updated"] == ["capacity"]


def test_a_placement_made_meanwhile_is_refused_whole(book_store, files, monkeypatch):
    """Another allocate placed a claim between this one's read and its write: the unique index
    refuses, nothing of this allocation is written, and it says so (exit code 2)."""
    from allocation import decide as deciding

    chosen_day = DAY
    original = deciding.decide

    def racing(book, strategy, day):
        allocation = original(book, strategy, day)
        claim_id = allocation.placements["claim_id"][0]
        with book_store.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO placements (claim_id, agency_id, queue, placed_on) VALUES (:c, NULL, 'court', :d)"
                ),
                {"c": claim_id, "d": chosen_day},
            )
        return allocation

    monkeypatch.setattr(service, "decide", racing)
    from engine.store.database import StoreError

    with pytest.raises(StoreError, match="another allocate"):
        service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert allocation_store.placements(book_store).height == 1
    assert allocation_store.latest_runs(book_store) == []


@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=[pytest.mark.ray, pytest.mark.slow])])
def test_the_decisions_are_the_same_whichever_executor_computed_the_state(store, files, executor):
    """The engine run that allocation reads may be made on either executor (in 3 partitions): the
    decisions are those of the state made in one piece in this process."""
    from api.runs import service as runs_service

    claims, events, debtors = _book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    agencies_service.load(store=store, path=files["agencies"])
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    whole = service.allocate(store=store, as_of=DAY, strategy_path=files["strategy"], dry_run=True)
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True, executor=executor, partitions=3)
    parted = service.allocate(store=store, as_of=DAY, strategy_path=files["strategy"], dry_run=True)
    assert parted.allocation.decisions.equals(whole.allocation.decisions)


KILLER = """
import os, signal, sys
from datetime import date
from pathlib import Path
from allocation import store as allocation_store
from api.allocation import service
from engine.store.database import open_store

original = allocation_store.write_frame
def killed_midway(conn, table, frame, **kw):
    written = original(conn, table, frame, **kw)
    if table == "placements":  # the rows are in, the transaction not committed: die here
        os.kill(os.getpid(), signal.SIGKILL)
    return written
allocation_store.write_frame = killed_midway
service.allocate(store=open_store(sys.argv[1]), as_of=date.fromisoformat(sys.argv[2]), strategy_path=Path(sys.argv[3]))
"""


def test_an_allocation_killed_midway_leaves_the_previous_placements(book_store, files, store_url):
    import signal
    import subprocess
    import sys

    service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    service.recall(store=book_store, as_of=DAY, agency="B")  # room for the next allocation to place more
    before = allocation_store.placements(book_store)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, store_url, DAY.isoformat(), str(files["strategy"])],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert allocation_store.placements(book_store).equals(before)
    assert len(allocation_store.latest_runs(book_store)) == 1
    again = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert again.allocation.placements.height > 0
    assert_capacity_kept(book_store)


def test_the_agencies_change_feed_tells_every_placement_and_recall_once_in_order(book_store, files, monkeypatch):
    """The outbox is written in the change's own transaction: a placement with an agency, a recall
    by a later allocation or on demand each once, in order; a failed allocation leaves none."""
    from api.runs import service as runs_service

    first = service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    placed = first.allocation.placements.filter(pl.col("agency_id").is_not_null())
    feed = _feed(book_store)
    assert sorted((f[1], f[2], f[3], f[5]) for f in feed) == sorted(
        (a, "placed", c, DAY) for c, a in placed.select("claim_id", "agency_id").iter_rows()
    )
    assert [f[4] for f in feed] == sorted(f[4] for f in feed) and len({f[4] for f in feed}) == len(feed)
    # an allocation that fails while writing leaves no change behind
    original = allocation_store.write_frame

    def broken(conn, table, frame, **kw):
        if table == "placements":
            raise RuntimeError("disk gone")
        return original(conn, table, frame, **kw)

    service.recall(store=book_store, as_of=DAY, agency="A")
    after_recall = _feed(book_store)
    recalled = [f for f in after_recall if f[2] == "recalled"]
    assert {f[3] for f in recalled} == set(placed.filter(pl.col("agency_id") == "A")["claim_id"])
    assert {f[6] for f in recalled} == {"on_demand"} and {f[1] for f in recalled} == {"A"}
    monkeypatch.setattr(allocation_store, "write_frame", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        service.allocate(store=book_store, as_of=DAY, strategy_path=files["strategy"])
    assert _feed(book_store) == after_recall
    monkeypatch.setattr(allocation_store, "write_frame", original)
    # a later allocation's recalls (no payment) come before its new placements
    runs_service.run(store=book_store, as_of=LATER, allow_stale_rates=True)
    second = service.allocate(store=book_store, as_of=LATER, strategy_path=files["strategy"])
    new = _feed(book_store)[len(after_recall) :]
    kinds = [f[2] for f in new]
    assert kinds == sorted(kinds, key=lambda k: k != "recalled")  # recalls first, then placements
    assert {f[3] for f in new if f[2] == "recalled"} == set(
        second.allocation.recalls.filter(pl.col("agency_id").is_not_null())["claim_id"]
    )


def _feed(store) -> list[tuple]:
    """The change feed's rows in order: (change_id, agency_id, change, claim_id, placement_id, day, reason)."""
    import sqlalchemy as sa

    from engine.store.changes import CHANGES

    columns = ("change_id", "agency_id", "change", "claim_id", "placement_id", "day", "reason")
    with store.connect() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(*(CHANGES.c[c] for c in columns)).order_by(CHANGES.c.change_id))
        ]


def _paying_book() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """12 claims in two portfolios with payments before the scores' reference day (DAY - 90),
    after it, after DAY (not counted), on the reference day itself, and one reversed."""
    reference = DAY - timedelta(days=90)
    rows = [
        claim(i, due=date(2024, 6, 1), debtor_id=i, principal=i * 200_000, portfolio_id="P1" if i <= 6 else "P2")
        for i in range(1, 13)
    ]
    pays = [
        event(101, "payment", date(2025, 1, 10), 10_000, claim_id=1),
        event(102, "payment", reference, 5_000, claim_id=1),  # on the reference day: before it
        event(103, "payment", reference + timedelta(days=1), 7_000, claim_id=1),
        event(104, "payment", DAY, 3_000, claim_id=2),
        event(105, "payment", DAY + timedelta(days=1), 9_000, claim_id=2),  # after the day: not counted
        event(106, "payment", date(2025, 3, 1), 20_000, claim_id=3),
        event(107, "payment", DAY - timedelta(days=10), 50_000, claim_id=3),
        event(108, "reversal", DAY - timedelta(days=5), None, claim_id=3, reverses=107),  # 107 undone
        event(109, "payment", date(2025, 2, 1), 30_000, claim_id=8),
        event(110, "payment", DAY - timedelta(days=30), 40_000, claim_id=9),
        event(111, "payment", DAY - timedelta(days=20), 1_000, claim_id=9),
    ]
    claims, events = frames(rows, pays)
    debtors = _consumers(12)
    return claims, events, debtors


def _kept(store: sa.Engine) -> pl.DataFrame:
    from engine.store.models import ClaimPayments

    with store.connect() as conn:
        return pl.DataFrame([dict(r._mapping) for r in conn.execute(sa.select(ClaimPayments.__table__)).all()])


def test_a_run_keeps_each_claims_payments_and_allocation_decides_the_same_on_them(store, files):
    from api.runs import service as runs_service

    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    agencies_service.load(store=store, path=files["agencies"])
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    kept = {r["claim_id"]: r for r in _kept(store).iter_rows(named=True)}
    reference = DAY - timedelta(days=90)
    assert set(kept) == {1, 2, 3, 8, 9}  # the claims that paid by DAY
    assert {k: v for k, v in kept[1].items() if k not in ("run_id", "claim_id")} == {
        "payments": 3,
        "last_paid": reference + timedelta(days=1),
        "payments_before": 2,
        "last_paid_before": reference,
        "paid_since": 7_000,
    }
    assert (kept[2]["payments"], kept[2]["last_paid"], kept[2]["payments_before"], kept[2]["paid_since"]) == (
        1,
        DAY,
        0,
        3_000,
    )
    assert kept[2]["last_paid_before"] is None
    assert (kept[3]["payments"], kept[3]["last_paid"], kept[3]["paid_since"]) == (1, date(2025, 3, 1), 0)  # 107 undone
    assert (kept[9]["payments"], kept[9]["payments_before"], kept[9]["paid_since"]) == (2, 0, 41_000)

    # the same claim frames, scores and decisions as from every payment
    lean = allocation_store.read_inputs(store, DAY, placed_since=DAY)
    full = allocation_store.read_inputs(store, DAY, every_payment=True)
    assert lean.paid is not None and full.paid is None
    assert lean.payments.height == 0  # nothing placed yet: no payment read
    from allocation.decide import decide
    from allocation.features import claim_frame
    from allocation.strategy import load_strategy

    for day in (DAY, reference):  # (a join keeps no row order)
        assert claim_frame(lean, day).sort("claim_id").equals(claim_frame(full, day).sort("claim_id"))
    with pytest.raises(ValueError, match="not for"):
        claim_frame(lean, DAY - timedelta(days=30))
    done = service.allocate(store=store, as_of=DAY, strategy_path=files["strategy"], dry_run=True)
    strategy = load_strategy(files["strategy"])
    book = service._book(store, strategy, DAY)[0]
    every = decide(replace(book, inputs=full), strategy, DAY)
    assert done.allocation.decisions.equals(every.decisions)

    # a second run of one portfolio: its claims' rows are the new run's (the shared run's are
    # deleted), the other's stay
    first_run = kept[1]["run_id"]
    runs_service.run(store=store, as_of=DAY, portfolio="P1", allow_stale_rates=True)
    now = _kept(store)
    runs = {r["claim_id"]: r["run_id"] for r in now.iter_rows(named=True)}
    assert now.height == len(runs) == 5
    assert {runs[c] for c in (1, 2, 3)} != {first_run} and {runs[8], runs[9]} == {first_run}
    lean = allocation_store.read_inputs(store, DAY)
    assert claim_frame(lean, DAY).sort("claim_id").equals(claim_frame(full, DAY).sort("claim_id"))


def test_a_state_stored_before_the_run_kept_payments_is_allocated_from_every_payment(store, files):
    from api.runs import service as runs_service

    claims, events, debtors = _paying_book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    runs_service.run(store=store, as_of=DAY, allow_stale_rates=True)
    with store.begin() as conn:  # as a run stored before migration 0019
        conn.exec_driver_sql("UPDATE engine_runs SET payments_horizon_days = NULL")
        conn.exec_driver_sql("DELETE FROM claim_payments")
    old = allocation_store.read_inputs(store, DAY, placed_since=DAY)
    assert old.paid is None and old.payments.height == 8  # every payment by DAY (107 undone, 105 after DAY)
    from allocation.features import claim_frame

    assert claim_frame(old, DAY).filter(pl.col("claim_id") == 9)["payments"].item() == 2
