"""Contacts: planning a day for a whole book (the rules over every claim, vectorised) and rendering
demand letters to PDF. Figures: BENCHMARKS.md.

    CESSION_BENCH_CONTACT_CLAIMS=10000000 uv run pytest benchmarks/test_bench_contacts.py -k plan -s
    CESSION_BENCH_LETTERS=10000 CESSION_BENCH_ROUNDS=1 uv run pytest benchmarks/test_bench_contacts.py -k render -s

The plan is timed on the frames the store gives it (``contacts.plan.Book``: claims with their state,
debtors with their channels, flags, objections, doubtful addresses and virtual accounts, the open
placements, the stored contacts per claim and per debtor), built by a seeded generator outside the
timer: 1.3 claims a debtor, a third of the claims in a reminder or legal queue, half already told
of their assignment, a history for a third of the debtors. Letters: one process, one core; each
round renders CESSION_BENCH_LETTERS different demand letters (the amounts and names vary).
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from contacts import plan, render, rules, templates
from contacts.plan import Book
from contacts.vocabulary import Channel, Template

CLAIMS = int(os.environ.get("CESSION_BENCH_CONTACT_CLAIMS", "200000"))
LETTERS = int(os.environ.get("CESSION_BENCH_LETTERS", "100"))
ROUNDS = int(os.environ.get("CESSION_BENCH_ROUNDS", "3"))
DAY = date(2026, 12, 7)


def synthetic_book(n: int, seed: int = 7) -> Book:
    rng = np.random.default_rng(seed)
    debtors = max(1, int(n / 1.3))
    claim_ids = np.arange(1, n + 1, dtype=np.int64)
    debtor_of = rng.integers(1, debtors + 1, n, dtype=np.int64)
    claims = pl.DataFrame(
        {
            "claim_id": claim_ids,
            "debtor_id": debtor_of,
            "debtor_kind": np.where(rng.random(n) < 0.9, "consumer", "business"),
            "total_due": rng.integers(0, 5_000_000, n, dtype=np.int64),
            "time_barred": rng.random(n) < 0.1,
        }
    )
    ids = np.arange(1, debtors + 1, dtype=np.int64)
    flag_roll = rng.random(debtors)
    flags = (
        pl.Series(np.where(flag_roll < 0.01, "deceased", np.where(flag_roll < 0.02, "bankrupt", "")))
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    objected = (
        pl.Series(np.where(rng.random(debtors) < 0.05, "sms", ""))
        .str.split(",")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    debtor_frame = pl.DataFrame(
        {
            "debtor_id": ids,
            "flags": flags,
            "has_letter": rng.random(debtors) < 0.97,
            "has_email": rng.random(debtors) < 0.5,
            "has_sms": rng.random(debtors) < 0.7,
            "has_phone": rng.random(debtors) < 0.7,
            "objected": objected,
            "address_doubtful": rng.random(debtors) < 0.02,
            "virtual_account": rng.random(debtors) < 0.99,
        }
    )
    placed = rng.random(n) < 0.33
    queues = np.array(["reminder", "epu", "court", "agency"])[rng.integers(0, 4, n)]
    placements = pl.DataFrame(
        {
            "claim_id": claim_ids[placed],
            "queue": queues[placed],
            "placed_on": [DAY - timedelta(days=30)] * int(placed.sum()),
        }
    ).with_columns(pl.col("placed_on").cast(pl.Date))
    told = rng.random(n) < 0.5
    history = pl.DataFrame(
        {
            "claim_id": claim_ids[told],
            "notice_on": pl.Series([DAY - timedelta(days=60)] * int(told.sum()), dtype=pl.Date),
            "reminded_on": pl.Series([DAY - timedelta(days=20)] * int(told.sum()), dtype=pl.Date),
            "demanded_on": pl.Series([None] * int(told.sum()), dtype=pl.Date),
        }
    )
    contacted = rng.random(debtors) < 0.33
    m = int(contacted.sum())
    debtor_history = pl.DataFrame(
        {
            "debtor_id": ids[contacted],
            "week": rng.integers(0, 3, m, dtype=np.int64),
            "month": rng.integers(2, 6, m, dtype=np.int64),
            "last_on": pl.Series([DAY - timedelta(days=5)] * m, dtype=pl.Date),
        }
    )
    return Book(claims, debtor_frame, placements, history, debtor_history)


@pytest.mark.benchmark
def test_plan(benchmark):
    book = synthetic_book(CLAIMS)
    loaded = rules.load()
    planned = benchmark.pedantic(plan.plan, args=(book, loaded, DAY), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert planned.height > 0 and planned["claim_id"].is_unique().all()
    benchmark.extra_info["claims"] = CLAIMS
    benchmark.extra_info["contacts"] = planned.height
    benchmark.extra_info["queued"] = int((planned["status"] == "queued").sum())


@pytest.mark.benchmark
def test_render_demand_letters(benchmark):
    from tests.contacts.letters_data import data

    version = templates.current(Template.DEMAND, Channel.LETTER)
    letters = []
    for i in range(LETTERS):
        d = data("demand", name=f"Dłużnik {i}", principal=100_000 + 37 * i, interest=1_234 + i, costs=i % 5_000)
        d["title"] = version.title("demand", False)
        d["letter"]["letter_id"] = i
        letters.append(d)
    render.pdf(version, letters[0], DAY)  # the compiler and its fonts loaded outside the timer

    def all_letters() -> int:
        return sum(len(render.pdf(version, d, DAY).pdf) for d in letters)

    size = benchmark.pedantic(all_letters, rounds=ROUNDS, iterations=1)
    seconds = benchmark.stats.stats.median
    benchmark.extra_info["letters"] = LETTERS
    benchmark.extra_info["letters_per_second"] = round(LETTERS / seconds, 1)
    benchmark.extra_info["bytes_per_letter"] = size // LETTERS
    print(f"\n{LETTERS} demand letters: median {seconds:.2f} s, {LETTERS / seconds:.1f} letters/s on one core")
