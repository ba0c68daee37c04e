"""Charts as inline SVG, drawn on the server: a page that shows them needs no script, no font and
no network (the report is one self-contained file; the dashboard loads nothing from a CDN).

Two kinds: ``lines`` (series of (x, y) points, solid or dashed) and ``bars`` (one value per
category). Axis labels are Polish numbers (``1 234,5``, ``12%``). Every chart is an ``<svg
class="chart">`` with a ``<title>`` and an ``aria-label``; its plotting area has the class
``plot`` (the browser tests look for drawn pixels there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from api import formats

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 60
COLOURS = ("#1f5fa8", "#c2471f", "#2f8f4e", "#8a5cb8", "#b08a00", "#5f6b7a")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _ticks(low: float, high: float) -> list[float]:
    if high <= low:
        high = low + 1
    step = _nice_step(high - low)
    first = math.floor(low / step) * step
    out, t = [], first
    while t <= high + step * 1e-9:
        out.append(round(t, 10))
        t += step
    if out[-1] < high:
        out.append(out[-1] + step)
    return out


def number(value: float) -> str:
    """An axis label: a Polish number with as many decimals as it needs (at most 2)."""
    if float(value).is_integer():
        return formats.count(int(value))
    return formats.decimal(value, 2 if abs(value) < 10 else 1).rstrip("0").rstrip(",")


def percent(value: float) -> str:
    return number(round(100 * value, 2)) + "%"


def _frame(title: str, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape(label)}"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _axes(y_ticks: list[float], y0: float, y1: float, y_label: Callable[[float], str]) -> tuple[list[str], Callable]:
    plot_h = HEIGHT - TOP - BOTTOM

    def y(v: float) -> float:
        return TOP + plot_h - (v - y0) / (y1 - y0) * plot_h

    body = [
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{plot_h}" fill="#ffffff" stroke="#c8ced6"/>'
    ]
    for t in y_ticks:
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e6e9ee"/>'
            f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11" fill="#333">{escape(y_label(t))}</text>'
        )
    return body, y


def lines(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_format: Callable[[float], str] = number,
    x_format: Callable[[float], str] = number,
) -> str:
    """A line chart of ``series`` (an empty one: the axes and a note that there is nothing to draw)."""
    points = [p for s in series for p in s.points]
    if not points:
        return _frame(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'], title)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_ticks = _ticks(min(0.0, min(ys)), max(ys))
    y0, y1 = y_ticks[0], y_ticks[-1]
    body, y = _axes(y_ticks, y0, y1, y_format)
    plot_w = WIDTH - LEFT - RIGHT

    def x(v: float) -> float:
        return LEFT + (v - x0) / (x1 - x0) * plot_w

    for t in _ticks(x0, x1)[:-1] if x1 - x0 > 5 else sorted(set(xs)):
        if x0 <= t <= x1:
            body.append(
                f'<text x="{x(t):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" fill="#333">{escape(x_format(t))}</text>'
            )
    body.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - BOTTOM + 34}" text-anchor="middle" font-size="12" fill="#333">{escape(x_label)}</text>'
    )
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in s.points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        body.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>')
        lx = LEFT + 10 + 200 * i
        body.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="{HEIGHT - 12}" y2="{HEIGHT - 12}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{lx + 30}" y="{HEIGHT - 8}" font-size="11" fill="#333">{escape(s.name)}</text>'
        )
    return _frame(title, body, title)


def bars(
    title: str,
    categories: Sequence[str],
    values: Sequence[float],
    *,
    y_format: Callable[[float], str] = number,
    colour: str = COLOURS[0],
) -> str:
    """A bar chart: one bar per category, labelled under it."""
    if not categories:
        return _frame(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text>'], title)
    y_ticks = _ticks(min(0.0, min(values)), max(values) if max(values) > 0 else 1.0)
    y0, y1 = y_ticks[0], y_ticks[-1]
    body, y = _axes(y_ticks, y0, y1, y_format)
    plot_w = WIDTH - LEFT - RIGHT
    slot = plot_w / len(categories)
    for i, (name, v) in enumerate(zip(categories, values, strict=True)):
        left = LEFT + i * slot + slot * 0.15
        top, base = y(max(v, 0.0)), y(min(v, 0.0))
        body.append(
            f'<rect class="bar" x="{left:.1f}" y="{top:.1f}" width="{slot * 0.7:.1f}" height="{max(base - top, 0.5):.1f}" fill="{colour}"/>'
            f'<text x="{left + slot * 0.35:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" fill="#333">{escape(name)}</text>'
        )
    if not any(values):
        body.append(
            f'<text x="{WIDTH / 2}" y="{TOP + 30}" text-anchor="middle" font-size="13" fill="#555">all 0</text>'
        )
    return _frame(title, body, title)
