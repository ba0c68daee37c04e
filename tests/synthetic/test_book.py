"""The synthetic portfolio generator (synthetic/book.py): determinism, docs/data-contract.md dtypes and
every invariant the engine and the tests downstream rely on."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

import synthetic.book as generator
from engine.domain import AMOUNT_EVENT_KINDS, CLAIM_LIMITATION_KINDS, DebtorKind, EventKind, InterestBasis
from engine.schema import CLAIMS, EVENTS
from engine.validation import check_claims, check_events, check_unknown_claims
from synthetic.book import generate_portfolio, write_portfolio

N = 5_000
SEED = 20_240_601
LATEST = date(2026, 10, 31)
col = pl.col


@pytest.fixture(scope="module")
def book() -> tuple[pl.DataFrame, pl.DataFrame]:
    return generate_portfolio(N, SEED)


@pytest.fixture(scope="module")
def chunked() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Several chunks, generated in threads, with non-default id offsets and latest day."""
    mp = pytest.MonkeyPatch()
    mp.setattr(generator, "CHUNK_CLAIMS", 1_024)
    try:
        yield generate_portfolio(
            N, SEED + 1, first_claim_id=1_000_001, first_event_id=7_000_001, latest_day=date(2024, 6, 30)
        )
    finally:
        mp.undo()


@pytest.fixture(params=["single", "chunked"])
def frames(request, book, chunked) -> tuple[pl.DataFrame, pl.DataFrame, date]:
    if request.param == "single":
        return (*book, LATEST)
    return (*chunked, date(2024, 6, 30))


# ------------------------------------------------------------------------------------- determinism
def test_same_seed_same_frames(book):
    claims, events = generate_portfolio(N, SEED)
    assert claims.equals(book[0])
    assert events.equals(book[1])


def test_different_seed_different_frames(book):
    claims, events = generate_portfolio(N, SEED + 7)
    assert not claims.equals(book[0])
    assert not events.equals(book[1])


def test_threads_do_not_change_the_output(monkeypatch):
    monkeypatch.setattr(generator, "CHUNK_CLAIMS", 700)
    monkeypatch.setattr(generator, "WORKERS", 1)
    one = generate_portfolio(3_000, 5)
    monkeypatch.setattr(generator, "WORKERS", 3)
    three = generate_portfolio(3_000, 5)
    assert one[0].equals(three[0]) and one[1].equals(three[1])


def test_empty_and_tiny():
    for n in (0, 1, 3):
        claims, events = generate_portfolio(n, 1)
        assert claims.height == n
        assert claims.schema == pl.Schema({c.name: c.dtype for c in CLAIMS})
        assert events.schema == pl.Schema({c.name: c.dtype for c in EVENTS})
    claims, events = generate_portfolio(50, 1, events_per_claim=0.0)
    assert claims.height == 50 and events.height == 0


# ------------------------------------------------------------------------------------------- schema
def test_dtypes_exactly_as_schema(frames):
    claims, events, _ = frames
    assert list(claims.schema.items()) == [(c.name, c.dtype) for c in CLAIMS]
    assert list(events.schema.items()) == [(c.name, c.dtype) for c in EVENTS]


def test_engine_accepts_it(frames):
    claims, events, _ = frames
    check_claims(claims)
    check_events(events)
    check_unknown_claims(claims, events)


def test_no_nulls_where_schema_forbids(frames):
    claims, events, _ = frames
    for frame, spec in ((claims, CLAIMS), (events, EVENTS)):
        for c in spec:
            if not c.nullable:
                assert frame[c.name].null_count() == 0, c.name


def test_enum_values(frames):
    claims, events, _ = frames
    assert set(claims["debtor_kind"].unique()) <= {k.value for k in DebtorKind}
    assert set(claims["interest_basis"].unique()) == {k.value for k in InterestBasis}
    assert set(claims["limitation_kind"].unique()) == {k.value for k in CLAIM_LIMITATION_KINDS}
    assert set(events["kind"].unique()) == {k.value for k in EventKind}
    sources = set(events["source"].drop_nulls().unique())
    assert sources <= {f"AG{i:02d}" for i in range(1, 13)} | {"bailiff", "direct", "seller"}
    assert {"bailiff", "direct", "seller"} <= sources


# ------------------------------------------------------------------------------------------- claims
def test_claims_sorted_unique_ids(frames):
    claims, _, _ = frames
    ids = claims["claim_id"]
    assert ids.n_unique() == claims.height
    assert (ids.diff().drop_nulls() > 0).all()
    assert ids[0] in (1, 1_000_001)
    assert ids[-1] - ids[0] == claims.height - 1


def test_portfolios(frames):
    claims, _, latest = frames
    per = claims.group_by("portfolio_id").agg(
        n=pl.len(),
        refs=col("seller_ref").n_unique(),
        purchases=col("purchase_date").n_unique(),
        cutoff_span=(col("cutoff_date").max() - col("cutoff_date").min()).dt.total_days(),
    )
    assert 2 <= per.height <= 12
    assert (per["refs"] == per["n"]).all(), "seller_ref unique within a portfolio"
    assert (per["purchases"] == 1).all(), "one purchase_date per portfolio"
    assert (per["cutoff_span"] <= 31).all(), "cut-off dates of a portfolio close together"
    assert claims["portfolio_id"].str.contains(r"^[A-Z]+-\d{4}-\d{2}$").all()
    assert claims["seller_ref"].str.contains(r"^[A-Z]{3}/\d{9}$").all()


def test_claim_dates(frames):
    claims, _, latest = frames
    bad = claims.filter(
        (col("due_date") > col("cutoff_date"))
        | (col("cutoff_date") > col("purchase_date"))
        | (col("purchase_date") > latest)
        | (col("cutoff_date") >= latest)
        | (col("title_date") <= col("due_date"))
        | (col("title_date") >= col("purchase_date"))
    )
    assert bad.height == 0
    if latest == LATEST:
        assert claims["due_date"].min() < date(2010, 1, 1)
        assert claims["due_date"].max() > date(2024, 1, 1)
        assert claims["due_date"].min() >= date(2005, 1, 1)
    share = claims["title_date"].is_not_null().mean()
    assert 0.06 < share < 0.14


def test_claim_money_and_codes(frames):
    claims, _, _ = frames
    for money in ("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price"):
        assert claims[money].min() >= 0, money
    assert claims["principal"].max() <= 200_000_00
    positive = claims.filter(col("principal") > 0)["principal"]
    assert positive.min() >= 50_00
    assert 0 < (claims["principal"] == 0).sum() < 0.03 * claims.height
    assert (claims["interest_at_cutoff"] > 0).mean() > 0.6
    assert (claims["costs_at_cutoff"] > 0).mean() > 0.4
    base = col("principal") + col("interest_at_cutoff")
    ok = claims.select(
        ((col("purchase_price") >= (base * 0.03).floor() - 1) & (col("purchase_price") <= base * 0.30)).all()
    ).item()
    assert ok, "purchase_price 3..30 % of principal + interest"

    contractual = claims["interest_basis"] == InterestBasis.CONTRACTUAL
    assert (claims["contractual_rate_bp"].is_not_null() == contractual).all()
    rates = claims["contractual_rate_bp"].drop_nulls()
    assert rates.min() >= 800 and rates.max() <= 3000 and (rates > 2450).any()
    custom = claims["limitation_kind"] == "custom"
    assert (claims["limitation_years"].is_not_null() == custom).all()
    years = claims["limitation_years"].drop_nulls()
    assert years.min() >= 1 and years.max() <= 10


def test_debtors(frames):
    claims, _, _ = frames
    consumers = (claims["debtor_kind"] == DebtorKind.CONSUMER).mean()
    assert 0.78 < consumers < 0.92
    kinds = claims.group_by("debtor_id").agg(kinds=col("debtor_kind").n_unique(), n=pl.len())
    assert (kinds["kinds"] == 1).all(), "a debtor has one kind"
    assert (kinds["n"] > 1).any(), "some debtors have several claims"
    assert kinds.height > 0.8 * claims.height, "most debtors have one claim"
    business = claims.filter(col("debtor_kind") == "business")
    assert (business["interest_basis"] == "commercial_late").mean() > 0.5


# ------------------------------------------------------------------------------------------- events
def test_events_sorted_and_ids(frames):
    _, events, _ = frames
    assert events["event_id"].n_unique() == events.height
    # event ids increase along (claim_id, event_date, event_id)
    assert (events["event_id"].diff().drop_nulls() == 1).all()
    assert events["event_id"][0] in (1, 7_000_001)
    assert events.select(
        (
            (col("claim_id").diff() > 0)
            | ((col("claim_id").diff() == 0) & (col("event_date").diff().dt.total_days() >= 0))
        )
        .slice(1)
        .all()
    ).item()
    ordered = events.sort("claim_id", "event_date", "event_id")
    assert ordered.equals(events)


def test_event_dates_in_window(frames):
    claims, events, latest = frames
    joined = events.join(claims.select("claim_id", "cutoff_date"), on="claim_id", how="left")
    assert joined["cutoff_date"].null_count() == 0, "every event has its claim"
    assert (joined["event_date"] > joined["cutoff_date"]).all()
    assert (joined["event_date"] <= latest).all()


def test_amount_and_reverses_nullness(frames):
    _, events, _ = frames
    amount_kind = col("kind").is_in([k.value for k in AMOUNT_EVENT_KINDS])
    assert events.select((col("amount").is_not_null() == amount_kind).all()).item()
    assert events.filter(amount_kind)["amount"].min() > 0
    reversal = col("kind") == EventKind.REVERSAL
    assert events.select((col("reverses").is_not_null() == reversal).all()).item()


def test_reversal_targets(frames):
    _, events, _ = frames
    reversals = events.filter(col("kind") == EventKind.REVERSAL)
    targets = events.select(
        col("event_id").alias("reverses"),
        col("claim_id").alias("t_claim"),
        col("event_date").alias("t_date"),
        col("kind").alias("t_kind"),
    )
    joined = reversals.join(targets, on="reverses", how="left")
    assert joined["t_claim"].null_count() == 0, "target exists"
    assert (joined["t_claim"] == joined["claim_id"]).all(), "same claim"
    assert joined["t_kind"].is_in(["payment", "cost"]).all(), "a payment or a cost, never a reversal"
    assert (joined["t_date"] <= joined["event_date"]).all(), "dated on or after the target"
    assert (joined["reverses"] < joined["event_id"]).all(), "sorted after the target"
    assert joined["reverses"].n_unique() == joined.height, "each target reversed once"
    share = reversals.height / events.height
    assert 0.02 < share < 0.04


def test_follow_ups_come_after_their_filing(frames):
    _, events, _ = frames
    first = events.group_by("claim_id").agg(
        court=col("event_date").filter(col("kind") == "court_filing").min(),
        enforcement=col("event_date").filter(col("kind") == "enforcement_filing").min(),
    )
    joined = events.join(first, on="claim_id")
    court_follow = joined.filter(col("kind").is_in(["proceedings_end", "title"]))
    assert court_follow.height > 0
    assert (court_follow["event_date"] > court_follow["court"]).all()  # null court would fail here
    enf_end = joined.filter(col("kind") == "enforcement_end")
    assert enf_end.height > 0
    assert (enf_end["event_date"] > enf_end["enforcement"]).all()
    # every filing has at most as many follow-ups of each kind as filings
    counts = events.group_by("claim_id").agg(
        [
            (col("kind") == k).sum().alias(k)
            for k in ("court_filing", "proceedings_end", "title", "enforcement_filing", "enforcement_end")
        ]
    )
    assert (counts["proceedings_end"] <= counts["court_filing"]).all()
    assert (counts["title"] <= counts["court_filing"]).all()
    assert (counts["enforcement_end"] <= counts["enforcement_filing"]).all()


def test_event_mix(frames):
    claims, events, _ = frames
    assert 2.7 < events.height / claims.height < 3.3
    share = events["kind"].value_counts(normalize=True).to_dict(as_series=False)
    share = dict(zip(share["kind"], share["proportion"], strict=True))
    assert share["payment"] > 0.6
    assert 0.0005 < share["write_off"] < 0.02
    same_day = events.group_by("claim_id", "event_date").len().filter(col("len") > 1).height
    assert same_day > 0.005 * events.height, "some events share a day"
    assert events.filter(col("kind") == "payment")["source"].null_count() == 0


def test_payment_amounts(book):
    claims, events = book
    pays = events.filter(col("kind") == "payment").join(
        claims.select("claim_id", balance=col("principal") + col("interest_at_cutoff") + col("costs_at_cutoff")),
        on="claim_id",
    )
    ratio = pays["amount"] / pays["balance"].clip(lower_bound=1)
    assert ratio.median() < 0.2, "mostly small relative to the balance"
    assert (ratio >= 1.0).mean() > 0.03, "some settle in full"
    assert (ratio >= 1.2).mean() > 0.005, "some overpay"


def test_events_per_claim_parameter():
    claims, events = generate_portfolio(4_000, 3, events_per_claim=1.0)
    assert 0.85 < events.height / claims.height < 1.15


def test_write_portfolio_round_trip(tmp_path, chunked):
    claims, events = chunked
    claims_path, events_path = write_portfolio(tmp_path / "out", claims, events)
    assert claims_path.name == "claims.parquet" and events_path.name == "events.parquet"
    assert pl.read_parquet(claims_path).equals(claims)
    assert pl.read_parquet(events_path).equals(events)
