"""Bank statements of a generated portfolio (the benchmarks' large ones, the demo's small one):
credits to its claims written as a Polish bank's MT940, with every kind of line the matching meets.

Of the credits (seeded): 50% to the debtor's virtual account, 25% with the claim's seller_ref in
the title, 10% with the claim's id after a marker ("ID 123"), 10% nobody's (a name and title that
fit no one), and 5% returns of credits earlier in the file.

    uv run python -m synthetic.statements --claims p10m/claims.parquet --lines 1000000 --out stmt.sta
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from engine.store.virtual_accounts import numbers

FUND_ACCOUNT = "61109010140000071219812874"
DEFAULT_PREFIX = "9990000900"


def credits(claims: pl.DataFrame, n: int, seed: int = 1, prefix: str = DEFAULT_PREFIX, refs: str = "B") -> pl.DataFrame:
    """n statement lines (kind, claim_id, seller_ref, debtor_id, amount, virtual_account, ref, returns);
    ``refs``: the bank references' prefix, at most 6 characters (another statement: another prefix;
    a reference is at most 16 characters where a return names it)."""
    if len(refs) > 6:
        raise ValueError(f"refs {refs!r}: at most 6 characters")
    rng = np.random.default_rng(seed)
    picked = claims.select("claim_id", "seller_ref", "debtor_id").sample(n, with_replacement=True, seed=seed)
    kind = rng.choice(["va", "ref", "id", "nobody", "return"], size=n, p=[0.5, 0.25, 0.1, 0.1, 0.05])
    amount = rng.integers(1_000, 200_000, size=n)
    frame = picked.with_columns(
        kind=pl.Series(kind),
        amount=pl.Series(amount, dtype=pl.Int64),
        ref=pl.lit(refs) + pl.int_range(n).cast(pl.String).str.zfill(10),
    )
    frame = frame.with_columns(virtual_account=numbers(frame["debtor_id"], prefix))
    # a return gives back a credit earlier in the file (the first line is never one)
    earlier = pl.Series(rng.integers(0, np.maximum(np.arange(n), 1))).cast(pl.Int64)
    frame = frame.with_columns(returns=pl.when(pl.col("kind") == "return").then(earlier))
    return frame


def write_mt940(frame: pl.DataFrame, path: Path, day: date = date(2025, 12, 1)) -> None:
    """``frame`` as an MT940 statement of FUND_ACCOUNT (PKO BP style :86: with ~ subfields)."""
    yymmdd, mmdd = day.strftime("%y%m%d"), day.strftime("%m%d")
    refs = frame["ref"]
    source = frame["returns"].fill_null(0)
    originals = refs.gather(source)
    orig_amount = frame["amount"].gather(source)
    kind = pl.col("kind")
    money = pl.when(kind == "return").then(pl.lit(orig_amount)).otherwise(pl.col("amount"))
    amount_text = (money // 100).cast(pl.String) + "," + (money % 100).cast(pl.String).str.zfill(2)
    title = (
        pl.when(kind == "ref")
        .then(pl.lit("Splata ") + pl.col("seller_ref"))
        .when(kind == "id")
        .then(pl.lit("ID ") + pl.col("claim_id").cast(pl.String) + " rata")
        .when(kind == "return")
        .then(pl.lit("Zwrot przelewu"))
        .otherwise(pl.lit("wplata"))
    )
    name = pl.when(kind == "nobody").then(pl.lit("ZBIGNIEW NIKT")).otherwise(pl.lit("JAN KOWALSKI"))
    extra = pl.when(kind == "va").then(pl.lit("\n~63") + pl.col("virtual_account")).otherwise(pl.lit(""))
    line61 = (
        pl.when(kind == "return")
        .then(pl.lit(f":61:{yymmdd}{mmdd}RCN") + amount_text + "N240" + pl.lit(originals) + "//" + pl.col("ref"))
        .otherwise(pl.lit(f":61:{yymmdd}{mmdd}CN") + amount_text + "N240NONREF//" + pl.col("ref"))
    )
    line86 = (
        pl.lit(":86:240~00VE02PRZELEW~20")
        + title
        + pl.lit("\n~3010501445~311000002287654321~32")
        + name
        + pl.lit("\n~38PL07105014451000002287654321")
        + extra
    )
    body = frame.select(pl.concat_str([line61, line86], separator="\n").alias("x"))["x"]
    head = f":20:MT940\n:25:/PL{FUND_ACCOUNT}\n:28C:00001\n:60F:C{yymmdd}PLN0,00\n"
    tail = f":62F:C{yymmdd}PLN0,00\n-\n"
    tmp = path.with_name(f".{path.name}.partial")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(head)
        for chunk in body.to_frame().iter_slices(200_000):
            f.write("\n".join(chunk["x"].to_list()) + "\n")
        f.write(tail)
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=Path, required=True)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--refs", default="B", help="the bank references' prefix (another statement: another one)")
    parser.add_argument(
        "--day", type=date.fromisoformat, default=date(2025, 12, 1), help="the booking day (YYYY-MM-DD)"
    )
    args = parser.parse_args()
    claims = pl.read_parquet(args.claims, columns=["claim_id", "seller_ref", "debtor_id"])
    write_mt940(credits(claims, args.lines, args.seed, refs=args.refs), args.out, args.day)


if __name__ == "__main__":
    main()
