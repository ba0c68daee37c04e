"""The daily update of payment plans (`cession plans update`, the first step of `cession run`):
N plans of 12 monthly instalments (a third with a down payment), one claim each, their payments (most
plans paid around each day, some stopping after a few instalments, some instalments paid in two
parts), as of a day when most plans are under way; plus N/10 settlements and N/10 promises.

- ``test_plans_compute``: what the update computes, every plan's status from its instalments and
  payments (``payments.plans.store.compute``, polars), frames in memory;
- ``test_plans_update``: the whole update on a store (reads, compute, write-off events, changed rows
  written), SQLite, or PostgreSQL when CESSION_BENCH_DATABASE_URL is set (a schema of its own);
  each round a day later than the one before (as the daily run goes).

Sizes: CESSION_BENCH_PLANS (default 20 000). The issue's target: 1M plans in under 10 s.

    CESSION_BENCH_PLANS=1000000 uv run pytest benchmarks/test_bench_plans.py -s
    CESSION_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
      CESSION_BENCH_PLANS=1000000 uv run pytest benchmarks/test_bench_plans.py -s -k update
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta
from itertools import count

import numpy as np
import polars as pl
import pytest

from benchmarks.test_bench_store import empty_store  # noqa: F401 (fixture)
from payments.plans import store as plans_store

PLANS = int(os.environ.get("CESSION_BENCH_PLANS", "20000"))
AS_OF = date(2026, 11, 30)
FIRST = date(2025, 7, 1)
INSTALMENTS = 12


def synthetic_book(n: int, seed: int = 1) -> dict[str, pl.DataFrame]:
    """n plans (one claim each, claim_id = plan_id), their instalments and payments, n // 10
    settlements and promises on the same claims: numpy and polars, no loop over plans."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype=np.int64)
    signed = pl.Series(np.full(n, FIRST, dtype="datetime64[D]") + rng.integers(0, 480, n)).cast(pl.Date)
    plans = pl.DataFrame(
        {
            "plan_id": ids,
            "claim_id": ids,
            "signed_on": signed,
            "grace_days": np.full(n, 5, dtype=np.int32),
            "break_after_days": np.full(n, 30, dtype=np.int32),
            "write_off_rest": rng.random(n) < 0.3,
        }
    )
    down = rng.random(n) < 1 / 3
    numbers = np.tile(np.arange(0, INSTALMENTS + 1, dtype=np.int32), n)
    owner = np.repeat(ids, INSTALMENTS + 1)
    instalments = (
        pl.DataFrame({"plan_id": owner, "number": numbers, "amount": rng.integers(5_000, 50_000, owner.size)})
        .join(plans.select("plan_id", "signed_on"), on="plan_id")
        .with_columns(due_on=pl.col("signed_on").dt.offset_by(pl.format("{}mo", pl.col("number"))))
        .filter((pl.col("number") > 0) | pl.col("plan_id").is_in(pl.Series(ids[down]).implode()))
        .select("plan_id", "number", "due_on", "amount")
    )
    # each plan pays its instalments up to a number it stops at (most never stop), a few days either
    # side of each day; one instalment in five in two halves
    stops = pl.DataFrame({"plan_id": ids, "stop": np.where(rng.random(n) < 0.7, 99, rng.integers(1, 12, n))})
    paid = instalments.join(stops, on="plan_id").filter(pl.col("number") <= pl.col("stop"))
    jitter = rng.integers(-6, 12, paid.height)
    halves = rng.random(paid.height) < 0.2
    first = paid.with_columns(
        event_date=pl.col("due_on") + pl.duration(days=pl.Series(jitter)),
        amount=pl.when(pl.Series(halves)).then(pl.col("amount") // 2).otherwise(pl.col("amount")),
    )
    second = paid.filter(pl.Series(halves)).with_columns(
        event_date=pl.col("due_on") + pl.duration(days=pl.Series(jitter[halves] + 3)),
        amount=pl.col("amount") - pl.col("amount") // 2,
    )
    payments = (
        pl.concat([first.select("plan_id", "event_date", "amount"), second.select("plan_id", "event_date", "amount")])
        .filter(pl.col("event_date") <= AS_OF + timedelta(days=10))
        .sort("plan_id", "event_date")
        .select(
            claim_id="plan_id",
            event_id=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
            event_date="event_date",
            amount="amount",
        )
    )
    some = rng.choice(ids, size=max(n // 10, 1), replace=False)
    made = pl.Series(np.full(some.size, date(2026, 10, 1), dtype="datetime64[D]") + rng.integers(0, 60, some.size))
    offers = pl.DataFrame(
        {"claim_id": some, "made": made.cast(pl.Date), "amount": rng.integers(10_000, 60_000, some.size)}
    )
    settlements = offers.select(
        settlement_id=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        claim_id="claim_id",
        offered_on="made",
        amount="amount",
        pay_by=pl.col("made") + pl.duration(days=45),
    )
    promises = offers.select(
        promise_id=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        claim_id="claim_id",
        made_on="made",
        amount=pl.col("amount") // 3,
        pay_by=pl.col("made") + pl.duration(days=14),
    )
    return {
        "plans": plans,
        "instalments": instalments,
        "payments": payments,
        "settlements": settlements,
        "promises": promises,
    }


@pytest.fixture(scope="module")
def book() -> dict[str, pl.DataFrame]:
    return synthetic_book(PLANS)


@pytest.mark.benchmark(group="plans")
@pytest.mark.parametrize("n", [PLANS])
def test_plans_compute(benchmark, book, n):
    found_plans, _, _ = benchmark.pedantic(
        plans_store.compute,
        args=(book["plans"], book["instalments"], book["settlements"], book["promises"], book["payments"], AS_OF),
        rounds=3,
        warmup_rounds=1,
    )
    statuses = dict(found_plans.group_by("status").len().iter_rows())
    print(f"\n{n} plans, {book['instalments'].height} instalments, {book['payments'].height} payments: {statuses}")
    assert found_plans.height == n and set(statuses) <= {"active", "kept", "broken"} and statuses.get("broken")


def _moment(day: str) -> pl.Expr:
    """Noon (UTC) of the day in column ``day``."""
    return (pl.col(day).cast(pl.Datetime("us")) + pl.duration(hours=12)).dt.replace_time_zone("UTC")


def _stored(store, book: dict[str, pl.DataFrame]) -> None:
    """The book written to the store's tables as they would hold it after a day of use."""
    from engine.store.bulk import is_postgres, write_frame

    totals = (
        book["instalments"]
        .group_by("plan_id")
        .agg(
            total=pl.col("amount").sum(),
            down_payment=pl.col("amount").filter(pl.col("number") == 0).sum(),
            instalments=(pl.col("number") > 0).sum().cast(pl.Int32),
            next_due_on=pl.col("due_on").min(),
        )
    )
    plans = (
        book["plans"]
        .join(totals, on="plan_id")
        .with_columns(
            status=pl.lit("active"),
            status_on=pl.col("signed_on"),
            paid=pl.lit(0, dtype=pl.Int64),
            instalments_paid=pl.lit(0, dtype=pl.Int32),
            on_time=pl.lit(True),
            # made on the day signed (as a plan is), not at the moment the benchmark wrote it
            created_at=_moment("signed_on"),
            created_by=pl.lit("bench"),
        )
    )
    offers = {"paid": pl.lit(0, dtype=pl.Int64), "created_by": pl.lit("bench")}
    events = book["payments"].with_columns(
        kind=pl.lit("payment"), idempotency_key=pl.lit("bench:") + pl.col("event_id").cast(pl.String)
    )
    with store.begin() as conn:
        write_frame(conn, "payment_plans", plans)
        write_frame(conn, "plan_instalments", book["instalments"])
        write_frame(conn, "events", events)
        if is_postgres(conn):  # ids came with the rows: the store numbers the events it makes after them
            conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('events', 'event_id'), (SELECT max(event_id) FROM events))"
            )
        write_frame(
            conn,
            "settlements",
            book["settlements"].with_columns(
                status=pl.lit("open"), status_on=pl.col("offered_on"), created_at=_moment("offered_on"), **offers
            ),
        )
        write_frame(
            conn,
            "promises",
            book["promises"].with_columns(
                status=pl.lit("open"), status_on=pl.col("made_on"), created_at=_moment("made_on"), **offers
            ),
        )


@pytest.mark.benchmark(group="plans")
@pytest.mark.parametrize("n", [PLANS])
def test_plans_update(benchmark, empty_store, book, n):  # noqa: F811 (fixture)
    _stored(empty_store, book)
    # the day before's update (not timed: the first one after the book was written reads it all),
    # then each round the next day's, as the daily run goes
    started, cpu = time.perf_counter(), time.process_time()
    before = plans_store.update(empty_store, AS_OF - timedelta(days=1), who="bench")
    print(
        f"\nthe day before's update: {time.perf_counter() - started:.2f} s wall, "
        f"{time.process_time() - cpu:.2f} s CPU (this process), {before.changed}"
    )
    days = count()

    def one_day():
        started, cpu = time.perf_counter(), time.process_time()
        result = plans_store.update(empty_store, AS_OF + timedelta(days=next(days)), who="bench")
        print(
            f"\n{result.as_of}: {time.perf_counter() - started:.2f} s wall, "
            f"{time.process_time() - cpu:.2f} s CPU (this process), changed {result.changed}"
        )
        return result

    result = benchmark.pedantic(one_day, rounds=3, warmup_rounds=0)
    print(f"\n{n} plans, the last round: {result.summary()}")
    assert sum(result.plans.values()) > 0
