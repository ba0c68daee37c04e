"""One portfolio's figures as of a day: the one entry point of the package (``figures``).

Money in grosz (ints; ERC estimates rounded half up), ratios as floats, months as
``YYYY-MM``; the command line and the dashboard turn them into JSON (``"1234.56"``) and pages
(``1 234,56 zł``).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from reports import agencies, balances, erc
from reports.collections import curve as portfolio_curve
from reports.collections import last_complete_month, month_number, month_of, monthly, vintages
from reports.store import Book

METHOD = (
    "chain-ladder on cumulative monthly collections by vintage (portfolio x purchase month), "
    "volume-weighted development factors pooled across the book; past the oldest vintage the book's "
    "monthly collections per zloty of price continued by a fitted decay (exponential or inverse power); "
    f"vintages with fewer than {erc.MIN_MONTHS} complete months or nothing collected: price x the "
    "book's expected collections per zloty of price"
)


def _month_label(number: int) -> str:
    return month_of(number).strftime("%Y-%m")


def figures(
    book: Book,
    *,
    portfolio: dict,
    as_of: date,
    groups: pl.DataFrame,
    state_source: dict,
    discount_rate: float,
    horizon: int = erc.HORIZON,
) -> dict:
    """Every figure of the report on ``portfolio`` (its row: portfolio_id, name, seller) as of
    ``as_of`` from ``book`` (the store's reads) and ``groups`` (its claim_state as of ``as_of``
    summed by ``balances.grouped``; ``state_source`` says where it came from)."""
    portfolio_id = portfolio["portfolio_id"]
    as_of_month = month_number(as_of)
    vint = vintages(book.purchased, as_of)
    collections = monthly(None, book.paid)
    cumulative = erc.triangle(vint, collections)
    dev = erc.development(vint, cumulative, erc.development_length(vint, as_of_month, horizon))
    in_month = (
        vint.select(*erc.VINTAGE)
        .join(
            collections.filter(pl.col("month") == as_of_month - pl.col("purchase_month")),
            on=list(erc.VINTAGE),
            how="left",
        )
        .get_column("collected")
        .fill_null(0)
        .to_numpy()
        if last_complete_month(as_of) < as_of_month
        else np.zeros(vint.height)
    )
    projection = erc.project(vint, cumulative, dev, as_of_month, in_month, horizon)

    mine = (vint["portfolio_id"] == portfolio_id).to_numpy()
    own = vint.filter(pl.col("portfolio_id") == portfolio_id)
    price, face, claims = (int(own[c].sum() or 0) for c in ("price", "face", "claims"))
    first_month = int(own["purchase_month"].min()) if own.height else as_of_month
    through = as_of_month - first_month
    curve = portfolio_curve(collections.filter(pl.col("portfolio_id") == portfolio_id), price, through)
    collected = int(curve["collected"].sum()) if curve.height else 0

    expected = projection.expected[mine].sum(axis=0) if mine.any() else np.zeros(len(projection.months))
    keep = projection.months > last_complete_month(as_of)
    months, expected = projection.months[keep], expected[keep]
    rounded = erc.grosz(expected)
    total = int(rounded.sum())
    value = erc.grosz(erc.discounted(months, expected, as_of, discount_rate))
    monthly_erc = [
        {"month": _month_label(int(m)), "month_since_purchase": int(m) - first_month, "expected": int(x)}
        for m, x in zip(months, rounded, strict=True)
    ]
    year = np.maximum(months - as_of_month - 1, 0) // 12  # the rest of the as-of month counts in year 1
    per_year = np.bincount(year, weights=rounded, minlength=(horizon + 11) // 12) if len(months) else []
    by_year = [{"year": y + 1, "expected": int(x)} for y, x in enumerate(per_year)]

    tail = dev.tail
    return {
        "portfolio": {
            "portfolio_id": portfolio_id,
            "name": portfolio.get("name"),
            "seller": portfolio.get("seller"),
            "claims": claims,
            "price": price,
            "face_value": face,
            "purchase_date": own["purchase_date"].min().isoformat() if own.height else None,
            "vintages": [
                {
                    "purchase_month": _month_label(int(r["purchase_month"])),
                    "claims": int(r["claims"]),
                    "price": int(r["price"]),
                    "method": str(projection.method[i]),
                    "erc": int(erc.grosz(projection.expected[i][keep].sum())),
                }
                for i, r in zip(np.nonzero(mine)[0], own.iter_rows(named=True), strict=True)
            ],
        },
        "as_of": as_of.isoformat(),
        "state": state_source,
        "collections": {
            "collected": collected,
            "multiple": collected / price if price else None,
            "recovery_rate": collected / face if face else None,
            "months_since_purchase": through,
            "curve": [
                {
                    "month": int(r["month"]),
                    "calendar_month": _month_label(first_month + int(r["month"])),
                    "collected": int(r["collected"]),
                    "cumulative": int(r["cumulative"]),
                    "multiple": r["multiple"],
                }
                for r in curve.iter_rows(named=True)
            ],
            "book_curve": [
                {"month": k, "multiple": float(dev.per_price[k])}
                for k in range(min(len(dev.per_price), cumulative.shape[1]))
            ],
        },
        "balances": balances.by_bucket(groups),
        "limitation": balances.by_limitation(groups),
        "days_past_due": balances.by_days_past_due(groups),
        "agencies": agencies.performance(book.placements, book.placed_payments, book.agencies, as_of),
        "erc": {
            "method": METHOD,
            "horizon_months": horizon,
            "discount_rate": discount_rate,
            "total": total,
            "discounted": value,
            "expected_multiple": (collected + total) / price if price else None,
            "by_year": by_year,
            "monthly": monthly_erc,
            "tail": {
                "model": tail.model,
                "a": tail.a,
                "b": tail.b,
                "points": tail.points,
                "from_month": tail.from_month,
            },
            "factors": dev.table(through=cumulative.shape[1] + 12),
            "book_vintages": vint.height,
        },
    }
