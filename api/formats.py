"""Numbers and tables as a Polish reader reads them, in whatever width the terminal has.

Amounts: ``1 386 901 845,82 zł``: groups of three digits parted by a no-break space (U+00A0,
the grouping sign of CLDR's Polish locale, as Polish spreadsheets write it), a decimal comma, and
`` zł``. Counts: ``1 500 000``. Only the terminal reads them so: ``--json`` and files keep
``"123.45"`` (``engine.money.pln``), and ``engine.money.to_grosz`` reads both forms back.

Tables (``records``) fit the console: a table whose every value fits whole is printed as a
table; else each record is printed as a block of ``label value`` lines, so that no date or
amount is ever cut (``2025-1…``) or wrapped (rich parts lines at any space, the no-break one too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: the thousands separator of Polish numbers (CLDR pl: U+00A0 NO-BREAK SPACE)
GROUP = "\u00a0"
DECIMAL = ","


def count(n: int | None) -> str:
    """1500000 -> '1 500 000' (None: '-')."""
    if n is None:
        return "-"
    return f"{n:,}".replace(",", GROUP)


def amount(grosz: int | None, currency: bool = True) -> str:
    """Grosz as a Polish reader writes złoty: 138690184582 -> '1 386 901 845,82 zł' (None: '-')."""
    if grosz is None:
        return "-"
    sign = "-" if grosz < 0 else ""
    whole, cents = divmod(abs(int(grosz)), 100)
    text = f"{sign}{count(whole)}{DECIMAL}{cents:02d}"
    return f"{text}{GROUP}zł" if currency else text


def decimal(value: float | Decimal | int, places: int) -> str:
    """A number with ``places`` decimals and a decimal comma: 11.25 -> '11,25'."""
    return f"{value:,.{places}f}".replace(",", GROUP).replace(".", DECIMAL)


def ratio(value: float | None, places: int = 2) -> str:
    """A multiple: 2.7547 -> '2,75×' (None: '-')."""
    return "-" if value is None else decimal(value, places) + "\u00d7"


def percent(value: float | None, places: int = 1) -> str:
    """A fraction as a Polish percentage: 0.327 -> '32,7%' (None: '-')."""
    return "-" if value is None else decimal(100 * value, places) + "%"


def seconds(value: float | None) -> str:
    """A duration: 1.234 -> '1,23 s'."""
    return "-" if value is None else f"{decimal(value, 2)}{GROUP}s"


def share(part: int, whole: int) -> str:
    """part of whole as a Polish percentage: '12,5%' ('' when whole is 0)."""
    return decimal(100 * part / whole, 1) + "%" if whole else ""


def clipped(text: str, limit: int = 160) -> str:
    """Free text (an error) on one line, at most ``limit`` characters (cut with '…')."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Column:
    """A column of ``records``: its heading, which side its values lean to, whether its values
    may wrap (free text such as an error) or must stay whole (dates, amounts, counts), and
    whether it may be left out of a table too wide for the terminal (``optional``)."""

    name: str
    justify: str = "left"
    wraps: bool = False
    optional: bool = False


def records(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """``rows`` as a table when every value fits the console whole; else as a table without
    the optional columns (from the right, as few as need be; a line names them); else one
    block per record (its first value as the block's heading, then ``label value`` lines)."""
    shown = list(range(len(columns)))
    optional = [i for i, c in enumerate(columns) if c.optional]
    while True:
        table = _table(title, [columns[i] for i in shown], [[row[i] for i in shown] for row in rows])
        if fits(console, table, [columns[i] for i in shown], [[row[i] for i in shown] for row in rows]):
            console.print(table)
            left_out = [c.name for i, c in enumerate(columns) if i not in shown]
            if left_out:
                console.print(
                    f"[dim]not shown at this width: {', '.join(left_out)} (a wider terminal or --json shows them)[/]"
                )
            return
        if not optional:
            break
        shown.remove(optional.pop())
    _blocks(console, title, columns, rows)


def _table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, header_style="bold")
    for c in columns:
        table.add_column(c.name, justify=c.justify, no_wrap=not c.wraps, overflow="fold")  # type: ignore[arg-type]
    for row in rows:
        table.add_row(*row)
    return table


def _blocks(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """One record per block: the first value as its heading, then a ``label value`` line for each other."""
    console.print(Text(title, style="bold"))
    width = max(len(c.name) for c in columns[1:])
    for row in rows:
        console.print(Text(f"{columns[0].name} {row[0]}", style="bold"))
        block = Table.grid(padding=(0, 1))
        block.add_column(width=width + 2, no_wrap=True)
        block.add_column(overflow="fold")  # what does not fit beside its label wraps (free text only: see fits)
        for c, value in zip(columns[1:], row[1:], strict=True):
            if value:
                block.add_row(f"  {c.name}", Text.from_markup(value, justify=c.justify))  # type: ignore[arg-type]
        console.print(block)


def fits(console: Console, table: Table, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> bool:
    """Whether ``table`` shows every value of its whole columns uncut in the console's width:
    it does when its widest rendering fits; with wrapping columns, when it fits once those
    are given a reasonable share (20 cells each)."""
    widest = Measurement.get(console, console.options.update_width(10_000), table).maximum  # its natural width
    if widest <= console.width:
        return True
    wrapping = [i for i, c in enumerate(columns) if c.wraps]
    if not wrapping:
        return False
    whole = [max([len(c.name)] + [Text.from_markup(r[i]).cell_len for r in rows]) for i, c in enumerate(columns)]
    needed = sum(w for i, w in enumerate(whole) if i not in wrapping) + 20 * len(wrapping) + 3 * len(columns) + 1
    return needed <= console.width


def facts(console: Console, parts: Sequence[str], separator: str = "   ") -> None:
    """Short facts (``claims 1 500 000``, ...) on as few lines as the console's width allows,
    a fact never parted across lines."""
    line = ""
    for part in parts:
        if line and Text.from_markup(line + separator + part).cell_len > console.width:
            console.print(line, highlight=False)
            line = part
        else:
            line = f"{line}{separator}{part}" if line else part
    if line:
        console.print(line, highlight=False)
