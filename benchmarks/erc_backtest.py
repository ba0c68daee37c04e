"""ERC back-test: the ERC a portfolio's report would have made at the end of its month 12, against
what the book then collected in its months 13-24.

The book is `cession generate`'s (synthetic/book.py), whose collection behaviour is known: each
claim's events fall between its cut-off and the book's last day (2026-10-31) with density
falling as t^-0.23 (u^1.3 of the span), payments mostly instalments of a few per cent of the
balance, some settling in full, ~3 % reversed. Every portfolio with 24 complete months of history
is cut in turn: its ERC is made from what the whole book (every portfolio) had collected by the end
of its month 12 (``reports.portfolio``'s method: chain-ladder pooled across the book's vintages,
the tail, young vintages priced), for the next 12 months, and compared with the collections of
months 13-24 (payments less the reversals dated by the end of month 24).

    uv run python benchmarks/erc_backtest.py --claims 200000 --seeds 1,2,3

prints a Markdown table (BENCHMARKS.md) and, with --json, the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date

import numpy as np
import polars as pl

from reports import erc
from reports.collections import month_end, month_number, monthly, net_payments, vintages
from synthetic.book import generate_portfolio

CUT, AHEAD = 12, 12
LAST_DAY = date(2026, 10, 31)  # generate_portfolio's latest_day


def generated_book(n_claims: int, seed: int):
    """`cession generate`'s book: (claims, payments, reversals, its last day)."""
    claims, events = generate_portfolio(n_claims, seed)
    claims = claims.select(
        "claim_id",
        "portfolio_id",
        "purchase_date",
        "purchase_price",
        "principal",
        "interest_at_cutoff",
        "costs_at_cutoff",
    )
    payments = events.filter(pl.col("kind") == "payment").select("event_id", "claim_id", "event_date", "amount")
    reversals = events.filter(pl.col("kind") == "reversal").select("reverses", "event_date")
    return claims, payments, reversals, LAST_DAY


def stationary_book(n_claims: int, seed: int):
    """The same claims, paying by a law that is the same for every vintage: claim i pays in month k
    after its purchase a Poisson(rate_i * exp(-k / 36)) number of instalments (rate_i ~ Gamma(2)
    around 0.15 a month), each a log-normal ~3 % of its balance at cut-off, on a day of that
    month, up to the book's last day; no reversals. (claims, payments, reversals, last day)."""
    claims, _ = generate_portfolio(n_claims, seed, events_per_claim=0.0)
    claims = claims.select(
        "claim_id",
        "portfolio_id",
        "purchase_date",
        "purchase_price",
        "principal",
        "interest_at_cutoff",
        "costs_at_cutoff",
    )
    rng = np.random.default_rng(seed + 1000)
    start = (claims["purchase_date"].dt.year() * 12 + claims["purchase_date"].dt.month() - 1).to_numpy()
    months = month_number(LAST_DAY) - start + 1  # months 0 .. the last day's month
    n = claims.height
    rate = 0.15 * rng.gamma(2.0, 0.5, n)
    claim_row = np.repeat(np.arange(n), months)
    k = np.arange(months.sum()) - np.repeat(np.cumsum(months) - months, months)
    counts = rng.poisson(rate[claim_row] * np.exp(-k / 36.0))
    row = np.repeat(claim_row, counts)
    month = np.repeat(start[claim_row] + k, counts)
    balance = (claims["principal"] + claims["interest_at_cutoff"] + claims["costs_at_cutoff"]).to_numpy()[row]
    amount = np.maximum(np.rint(balance * 0.03 * np.exp(0.6 * rng.standard_normal(len(row)))), 100).astype(np.int64)
    first = (
        pl.Series((month // 12).astype(np.int32)).cast(pl.String)
        + "-"
        + pl.Series((month % 12 + 1).astype(np.int32)).cast(pl.String).str.zfill(2)
        + "-01"
    )
    day = first.str.to_date("%Y-%m-%d") + pl.duration(days=pl.Series(rng.integers(0, 28, len(row))))
    payments = pl.DataFrame(
        {
            "event_id": np.arange(1, len(row) + 1, dtype=np.int64),
            "claim_id": claims["claim_id"].to_numpy()[row],
            "event_date": pl.select(day).to_series(),
            "amount": amount,
        }
    ).filter(pl.col("event_date") <= LAST_DAY)
    return claims, payments, pl.DataFrame(schema={"reverses": pl.Int64, "event_date": pl.Date}), LAST_DAY


def backtest(book, seed: int) -> list[dict]:
    claims, payments, reversals, last_day = book
    out = []
    for portfolio, bought in (
        claims.group_by("portfolio_id").agg(pl.col("purchase_date").min()).sort("purchase_date").rows()
    ):
        start = month_number(bought)
        cut_day, end_day = month_end(start + CUT), month_end(start + CUT + AHEAD)
        if end_day > last_day:
            continue  # not 24 months of history yet
        # the ERC as the report makes it at the end of month 12 (only what was known then)
        known = claims.filter(pl.col("purchase_date") <= cut_day)
        paid = net_payments(payments, reversals, cut_day)
        vint = vintages(known, cut_day)
        collections = monthly(known, paid)
        cumulative = erc.triangle(vint, collections)
        as_of_month = month_number(cut_day)
        dev = erc.development(vint, cumulative, erc.development_length(vint, as_of_month, AHEAD))
        projection = erc.project(vint, cumulative, dev, as_of_month, np.zeros(vint.height), AHEAD)
        mine = (vint["portfolio_id"] == portfolio).to_numpy()
        ahead = (projection.months > as_of_month) & (projection.months <= as_of_month + AHEAD)
        expected = projection.expected[mine][:, ahead].sum(axis=0)
        # what the book then collected in months 13-24
        later = monthly(claims.filter(pl.col("portfolio_id") == portfolio), net_payments(payments, reversals, end_day))
        actual_by_month = (
            later.filter((pl.col("month") > CUT) & (pl.col("month") <= CUT + AHEAD))
            .group_by("month")
            .agg(pl.col("collected").sum())
            .sort("month")
        )
        actual = np.zeros(AHEAD)
        actual[actual_by_month["month"].to_numpy() - CUT - 1] = actual_by_month["collected"].to_numpy()
        price = int(claims.filter(pl.col("portfolio_id") == portfolio)["purchase_price"].sum())
        first_year = int(later.filter(pl.col("month") <= CUT)["collected"].sum())
        out.append(
            {
                "seed": seed,
                "portfolio": portfolio,
                "cut": cut_day.isoformat(),
                "claims": int((claims["portfolio_id"] == portfolio).sum()),
                "price": price,
                "collected_months_0_12": first_year,
                "erc_months_13_24": int(erc.grosz(expected.sum())),
                "actual_months_13_24": int(actual.sum()),
                "error": float(expected.sum() / actual.sum() - 1) if actual.sum() else None,
                "monthly_mape": float(np.mean(np.abs(expected - actual) / np.maximum(actual, 1))),
                "method": str(projection.method[np.nonzero(mine)[0][0]]),
                "vintages_in_book": vint.height,
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=200_000)
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--books", default="generated,stationary", help="generated (cession generate), stationary")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    books = {"generated": generated_book, "stationary": stationary_book}
    rows = [
        r | {"book": name}
        for name in args.books.split(",")
        for seed in args.seeds.split(",")
        for r in backtest(books[name](args.claims, int(seed)), int(seed))
    ]
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({"rows": rows, "seconds": seconds}, indent=2))
        return
    print(f"{args.claims} claims, seeds {args.seeds}, {seconds:.1f} s, {date.today()}")
    for name in args.books.split(","):
        mine = [r for r in rows if r["book"] == name]
        print(f"\n{name} book\n")
        print(
            "| seed | portfolio | cut (end of month 12) | claims | collected months 0-12 | ERC months 13-24 "
            "| actual months 13-24 | error | monthly MAPE |"
        )
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
        for r in mine:
            print(
                f"| {r['seed']} | {r['portfolio']} | {r['cut']} | {r['claims']:,} | {r['collected_months_0_12'] / 100:,.0f} zł "
                f"| {r['erc_months_13_24'] / 100:,.0f} zł | {r['actual_months_13_24'] / 100:,.0f} zł | {r['error']:+.1%} "
                f"| {r['monthly_mape']:.1%} |"
            )
        errors = np.array([r["error"] for r in mine if r["error"] is not None])
        total_e = sum(r["erc_months_13_24"] for r in mine)
        total_a = sum(r["actual_months_13_24"] for r in mine)
        print(
            f"\n{name}: {len(mine)} portfolio cuts: median error {np.median(errors):+.1%}, median absolute error "
            f"{np.median(np.abs(errors)):.1%}, all portfolios together {total_e / total_a - 1:+.1%}"
        )


if __name__ == "__main__":
    main()
