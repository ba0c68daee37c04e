"""`cession report` and its service on a generated book in a store: the figures add up to what the
store holds, JSON for machines, a self-contained page for people, errors that name the input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.reports import service
from engine.errors import InputError, NotFound
from tests.reports.conftest import AS_OF


def _largest(generated) -> str:
    return generated["claims"].group_by("portfolio_id").len().sort("len", descending=True)["portfolio_id"][0]


def _collected(generated, portfolio: str, as_of: date) -> int:
    """Payments of the portfolio's claims on or before as_of, less those a reversal by then cancels."""
    events, claims = generated["events"], generated["claims"]
    mine = claims.filter(pl.col("portfolio_id") == portfolio)["claim_id"]
    cancelled = events.filter((pl.col("kind") == "reversal") & (pl.col("event_date") <= as_of))["reverses"]
    paid = events.filter(
        (pl.col("kind") == "payment")
        & (pl.col("event_date") <= as_of)
        & pl.col("claim_id").is_in(mine.implode())
        & ~pl.col("event_id").is_in(cancelled.implode())
    )
    return int(paid["amount"].sum())


def test_the_figures_add_up_to_the_store(generated):
    store, claims = generated["store"], generated["claims"]
    portfolio = _largest(generated)
    f = service.report(store=store, portfolio_id=portfolio, as_of=AS_OF, rate=0.12)
    mine = claims.filter(pl.col("portfolio_id") == portfolio)
    price = int(mine["purchase_price"].sum())
    assert f["portfolio"]["claims"] == mine.height
    assert f["portfolio"]["price"] == price
    assert f["collections"]["collected"] == _collected(generated, portfolio, AS_OF)
    assert f["collections"]["multiple"] == pytest.approx(f["collections"]["collected"] / price)
    assert f["collections"]["curve"][-1]["cumulative"] == f["collections"]["collected"]
    assert f["state"] == {"source": "run", "run_id": f["state"]["run_id"], "as_of": AS_OF.isoformat()}
    b = f["balances"]
    assert b["claims"] == mine.height
    assert b["principal_due"] + b["interest_due"] + b["costs_due"] == b["total_due"]
    lim = f["limitation"]
    assert (
        lim["time_barred"]["claims"]
        + lim["within_365_days"]["claims"]
        + lim["later"]["claims"]
        + lim["no_date"]["claims"]
        == mine.height
    )
    assert lim["within_90_days"]["claims"] <= lim["within_180_days"]["claims"] <= lim["within_365_days"]["claims"]
    assert sum(band["total_due"] for band in lim["bands"]) == b["total_due"]
    assert sum(band["claims"] for band in f["days_past_due"]) == mine.height
    e = f["erc"]
    assert len(e["monthly"]) == 84 and e["monthly"][0]["month"] == "2026-01"  # the as-of day ends its month
    assert e["total"] == sum(m["expected"] for m in e["monthly"]) == sum(y["expected"] for y in e["by_year"])
    assert 0 < e["discounted"] < e["total"]
    assert e["total"] == sum(v["erc"] for v in f["portfolio"]["vintages"]) or abs(
        e["total"] - sum(v["erc"] for v in f["portfolio"]["vintages"])
    ) <= len(f["portfolio"]["vintages"])  # each vintage rounded on its own
    assert f["agencies"], "the example allocation placed claims of the largest portfolio"
    for a in f["agencies"]:
        assert a["kept_promise_rate"] is None
        assert a["net"] == a["collected"] - a["commission"]


def test_a_day_without_a_stored_run_is_computed_for_the_report(generated):
    portfolio = _largest(generated)
    f = service.report(
        store=generated["store"], portfolio_id=portfolio, as_of=date(2025, 9, 15), rate=0.12, allow_stale_rates=True
    )
    assert f["state"]["source"] == "computed"
    assert f["collections"]["collected"] == _collected(generated, portfolio, date(2025, 9, 15))
    assert f["erc"]["monthly"][0]["month"] == "2025-09"  # the rest of the as-of month first
    assert f["balances"]["claims"] == generated["claims"].filter(pl.col("portfolio_id") == portfolio).height


def test_a_higher_discount_rate_values_the_portfolio_lower(generated):
    portfolio = _largest(generated)
    low = service.report(store=generated["store"], portfolio_id=portfolio, as_of=AS_OF, rate=0.05)
    high = service.report(store=generated["store"], portfolio_id=portfolio, as_of=AS_OF, rate=0.25)
    assert low["erc"]["total"] == high["erc"]["total"]
    assert high["erc"]["discounted"] < low["erc"]["discounted"]


def test_bad_input_is_named(generated):
    with pytest.raises(NotFound, match="portfolio 'NOPE'"):
        service.report(store=generated["store"], portfolio_id="NOPE", as_of=AS_OF)
    with pytest.raises(InputError, match="before the portfolio's first purchase"):
        service.report(store=generated["store"], portfolio_id=_largest(generated), as_of=date(2000, 1, 1))
    for text in ("abc", "-1", "101"):
        with pytest.raises(InputError, match="--discount-rate"):
            service.discount_rate(text=text)
    assert service.discount_rate(text="7,5") == pytest.approx(0.075)
    assert service.discount_rate(text=None) == pytest.approx(0.12)


def test_json_amounts_are_strings_and_the_page_is_self_contained(generated):
    f = service.report(store=generated["store"], portfolio_id=_largest(generated), as_of=AS_OF, rate=0.12)
    data = service.as_json(figures=f)
    assert re.fullmatch(r"\d+\.\d\d", data["erc"]["total"])
    assert re.fullmatch(r"\d+\.\d\d", data["collections"]["curve"][0]["collected"])
    assert isinstance(data["collections"]["multiple"], float)
    page = service.html(figures=f)
    assert page.count('<svg class="chart"') >= 5
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched
    assert "<script" not in page
    assert re.search(r"\d \d{3},\d\d\u00a0zł", page.replace("\u00a0", " ", 1)) or "\u00a0zł" in page
    assert "ERC" in page and "chain-ladder" in page


def cession(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"} | env,
    )


@pytest.mark.slow
def test_the_command_writes_the_page_and_the_json(generated, tmp_path):
    env = {"CESSION_DATABASE_URL": generated["url"], "HOME": str(tmp_path)}
    portfolio = _largest(generated)
    out = tmp_path / "r" / "report.html"
    done = cession("report", "--portfolio", portfolio, "--as-of", str(AS_OF), "--out", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["out"] == str(out) and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert data["portfolio"]["portfolio_id"] == portfolio
    assert data["erc"]["discount_rate"] == pytest.approx(0.12)
    people = cession("report", "--portfolio", portfolio, "--as-of", str(AS_OF), "--discount-rate", "10", env=env)
    assert people.returncode == 0, people.stderr
    assert "ERC 84 months" in people.stdout and "zł" in people.stdout
    missing = cession("report", "--portfolio", "NOPE", "--as-of", str(AS_OF), env=env)
    assert missing.returncode == 2 and "portfolio 'NOPE'" in missing.stderr
    bad = cession("report", "--portfolio", portfolio, "--out", str(tmp_path), env=env)
    assert bad.returncode == 2 and "is a folder" in bad.stderr


def test_vintages_whose_claim_ids_interleave_are_read_claim_by_claim(tmp_path):
    """Claims numbered across portfolios in turn: the spans of claim ids overlap, so each
    payment's claim is looked up (the other path) and the sums are the same."""
    from engine.store import records
    from engine.store.database import open_store
    from tests.builders import claim, event, frames

    store = open_store(f"sqlite:///{tmp_path / 'interleaved.db'}")
    bought = {"P1": date(2024, 1, 10), "P2": date(2024, 3, 5)}
    claims = [
        claim(i, due=date(2023, 1, 1), portfolio_id=p, purchase_date=bought[p], purchase_price=10_000, debtor_id=i)
        for i, p in ((1, "P1"), (2, "P2"), (3, "P1"), (4, "P2"))
    ]
    events = [
        event(1, "payment", date(2024, 2, 1), 1_000, claim_id=1),
        event(2, "payment", date(2024, 4, 1), 2_000, claim_id=2),
        event(3, "payment", date(2024, 4, 2), 4_000, claim_id=3),
        event(4, "payment", date(2024, 5, 1), 8_000, claim_id=4),
        event(5, "reversal", date(2024, 5, 2), claim_id=4, reverses=4),
    ]
    records.load(store, *frames(claims, events))
    p1 = service.report(store=store, portfolio_id="P1", as_of=date(2024, 6, 30), allow_stale_rates=True)
    p2 = service.report(store=store, portfolio_id="P2", as_of=date(2024, 6, 30), allow_stale_rates=True)
    assert p1["collections"]["collected"] == 5_000 and p2["collections"]["collected"] == 2_000
    assert [m["collected"] for m in p1["collections"]["curve"][:4]] == [0, 1_000, 0, 4_000]
    assert p1["portfolio"]["price"] == 20_000 and p1["state"]["source"] == "computed"
    store.dispose()


def test_the_stores_sums_of_the_state_are_polars_sums_of_the_same_state(generated):
    """The stored run's claim_state summed in SQL (one pass of CASEs) equals the same state
    computed by the engine and summed by ``balances.grouped``."""
    from reports import balances
    from reports.store import portfolio_row, read_book

    store = generated["store"]
    portfolio = _largest(generated)
    with store.connect() as conn:
        run_id = portfolio_row(conn, portfolio)["current_run_id"]
    stored = read_book(store, portfolio, AS_OF, run_id=run_id).groups
    state = service.computed_state(store=store, portfolio_id=portfolio, as_of=AS_OF, allow_stale_rates=True)
    computed = balances.grouped(state, AS_OF)
    assert (
        stored.sort("band", "dpd_band").to_dicts()
        == computed.filter(pl.col("claims") > 0)
        .vstack(stored.filter(pl.col("claims") == 0))
        .sort("band", "dpd_band")
        .to_dicts()
    )
    assert balances.by_limitation(stored) == balances.by_limitation(computed)
    assert balances.by_days_past_due(stored) == balances.by_days_past_due(computed)
    assert balances.by_bucket(stored) == balances.by_bucket(computed)
