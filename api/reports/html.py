"""A report's figures as HTML for people: one self-contained page (``page``: styles and charts
inline, no script, nothing fetched; it opens offline) and the portfolio's section the dashboard
shows (``environment``: the Jinja2 templates of both, with Polish number filters).

Amounts read ``1 234,56 zł``, ratios ``2,75×``, shares ``32,7%`` (``api.formats``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from api import formats
from api.reports import charts

TEMPLATES = Path(__file__).parent / "templates"
DASHBOARD_TEMPLATES = Path(__file__).parents[1] / "http" / "templates"


def factor(value: float) -> str:
    return formats.decimal(value, 4)


@cache
def environment() -> Environment:
    """The templates of the report and of the dashboard, HTML-escaped, with the number filters."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(DASHBOARD_TEMPLATES), FileSystemLoader(TEMPLATES)]),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        undefined=StrictUndefined,
        lstrip_blocks=True,
    )
    env.filters.update(
        amount=formats.amount, number=formats.count, ratio=formats.ratio, percent=formats.percent, factor=factor
    )
    return env


def chart_set(figures: dict) -> dict[str, Markup]:
    """The report's charts (inline SVG) from its figures."""
    collections, erc = figures["collections"], figures["erc"]
    price = figures["portfolio"]["price"]
    actual = [(p["month"], p["multiple"]) for p in collections["curve"] if p["multiple"] is not None]
    projected: list[tuple[float, float]] = []
    if price and actual:
        level = collections["collected"]
        projected = [actual[-1]]
        for m in erc["monthly"]:
            level += m["expected"]
            projected.append((m["month_since_purchase"], level / price))
    end = projected[-1][0] if projected else (actual[-1][0] if actual else 0)
    book = [(p["month"], p["multiple"]) for p in collections["book_curve"] if p["month"] <= end]
    curve = charts.lines(
        "Collection curve: cumulative collections / price",
        [
            charts.Series("this portfolio", actual),
            charts.Series("expected (ERC)", projected, dashed=True),
            charts.Series("the book (pooled)", book),
        ],
        x_label="months since purchase",
        y_format=lambda v: charts.number(v) + "\u00d7",
    )
    monthly_actual = [(p["month"], p["collected"] / 100) for p in collections["curve"]]
    monthly_expected = [(m["month_since_purchase"], m["expected"] / 100) for m in erc["monthly"]]
    per_month = charts.lines(
        "Collections by month (zł)",
        [charts.Series("collected", monthly_actual), charts.Series("expected (ERC)", monthly_expected, dashed=True)],
        x_label="months since purchase",
    )
    by_year = charts.bars(
        "Expected remaining collections by year (zł)",
        [f"year {y['year']}" for y in erc["by_year"]],
        [y["expected"] / 100 for y in erc["by_year"]],
    )
    bands = figures["limitation"]["bands"]
    limitation = charts.bars(
        "Total due by limitation status (zł)",
        [b["band"] for b in bands],
        [b["total_due"] / 100 for b in bands],
        colour=charts.COLOURS[1],
    )
    balances = figures["balances"]
    buckets = charts.bars(
        "Balances by bucket (zł)",
        ["principal", "interest", "costs"],
        [balances["principal_due"] / 100, balances["interest_due"] / 100, balances["costs_due"] / 100],
        colour=charts.COLOURS[2],
    )
    agencies = [a for a in figures["agencies"] if a["recovery_per_placed_zloty"] is not None]
    recovery = charts.bars(
        "Recovery per placed zloty",
        [a["agency_id"] or a["queue"] for a in agencies],
        [a["recovery_per_placed_zloty"] for a in agencies],
        y_format=charts.percent,
        colour=charts.COLOURS[3],
    )
    drawn = dict(
        curve=curve, per_month=per_month, by_year=by_year, limitation=limitation, buckets=buckets, recovery=recovery
    )
    return {k: Markup(v) for k, v in drawn.items()}


def curve_rows(figures: dict) -> list[dict]:
    """The curve's table: every twelfth month and the last one (the JSON has every month)."""
    curve = figures["collections"]["curve"]
    return [p for p in curve if p["month"] % 12 == 0 or p is curve[-1]]


def context(figures: dict) -> dict:
    return {"f": figures, "charts": chart_set(figures), "curve_rows": curve_rows(figures)}


def page(figures: dict) -> str:
    """The whole report as one self-contained HTML page."""
    return environment().get_template("report.html.j2").render(**context(figures))
