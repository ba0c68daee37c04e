"""Dated law as data: the shipped rule tables, read and validated once, never literals in code.

Each table is a CSV in ``engine/rules/data/`` with ``#`` comment lines (their sources) and one
``# last_value_still_valid_on: YYYY-MM-DD`` line: past that day its values are unknown, not
unchanged. A user may put updated copies of any table in a folder named by ``CESSION_RULES_DIR``
(or ``rules_dir=``); a file there replaces the shipped file of the same name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np
from dateutil.easter import easter

from engine.domain import InterestBasis, LimitationKind
from engine.errors import InputError

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).parent / "data"
#: The setting (``engine.settings``) naming a folder of updated tables, as users set it.
RULES_DIR_ENV = "CESSION_RULES_DIR"
EPOCH = date(1970, 1, 1)

#: The interest tables the engine reads, by file stem: those the interest bases read (engine/domain.py).
RATE_TABLES = tuple(dict.fromkeys(b.rates.over or b.rates.table for b in InterestBasis if b.rates is not None))
#: Interest tables derived from another one: name -> (base table, file of dated offsets in bp).
DERIVED_RATE_TABLES = {
    b.rates.table: b.rates.files for b in InterestBasis if b.rates is not None and b.rates.over is not None
}
#: Also shipped and validated (not read by the engine yet).
OTHER_RATE_TABLES = ("statutory_capital", "reference_rate")


class RuleTableError(InputError):
    """A rule table is malformed: names the file, the line and the rule it breaks."""


class StaleRulesError(InputError):
    """``as_of`` lies past the day a rule table is known to be valid."""

    def __init__(self, stale: list[RateTable], as_of: date):
        self.stale = stale
        self.as_of = as_of
        lines = [
            f"rate table {t.name!r} is known to be valid only up to {t.last_valid:%Y-%m-%d} "
            f"(file {t.path}), but as_of is {as_of:%Y-%m-%d}."
            for t in stale
        ]
        super().__init__(
            "\n".join(lines)
            + "\nPast that day the rates are unknown, not unchanged. To update: copy the file(s) into a "
            f"folder, add the rows in force since then (Monitor Polski obwieszczenie / NBP decision) with "
            f"their source, move the '# last_value_still_valid_on:' line, and point {RULES_DIR_ENV} at "
            "that folder. To go on knowingly with the last known rate, pass --allow-stale-rates "
            "(allow_stale_rates=True); the result records that you did."
        )


def day_number(d: date) -> int:
    """Days since 1970-01-01: the int32 day of Arrow date32 and of every kernel."""
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


@dataclass(frozen=True)
class _CsvFile:
    path: Path
    last_valid: date
    rows: list[dict[str, str]]  # with "_line": the 1-based line number in the file
    sha256: str


def _read(name: str, rules_dir: Path | None, header: tuple[str, ...]) -> _CsvFile:
    path = SHIPPED_DIR / f"{name}.csv"
    if rules_dir is not None and (rules_dir / f"{name}.csv").exists():
        path = rules_dir / f"{name}.csv"
        log.info("rule table %s read from %s instead of the shipped one", name, path)
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    last_valid: date | None = None
    body: list[tuple[int, str]] = []
    for no, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if key.strip() == "last_value_still_valid_on":
                last_valid = _parse_date(value.strip(), path, no, "last_value_still_valid_on")
        elif line.strip():
            body.append((no, line))
    if last_valid is None:
        raise RuleTableError(f"{path}: no '# last_value_still_valid_on: YYYY-MM-DD' line")
    if not body:
        raise RuleTableError(f"{path}: no header line")
    reader = csv.reader(io.StringIO("\n".join(line for _, line in body)))
    got_header = tuple(next(reader))
    if got_header[: len(header)] != header:
        raise RuleTableError(
            f"{path}:{body[0][0]}: header must start with {','.join(header)}, got {','.join(got_header)}"
        )
    rows = []
    for (no, _), values in zip(body[1:], reader, strict=False):
        if len(values) < len(header):
            raise RuleTableError(f"{path}:{no}: expected {len(header)} fields, got {len(values)}")
        # a source may contain commas: everything past the header's last column belongs to it
        values = values[: len(got_header) - 1] + [",".join(values[len(got_header) - 1 :])]
        row = dict(zip(got_header, values, strict=False))
        row["_line"] = str(no)
        rows.append(row)
    return _CsvFile(path, last_valid, rows, hashlib.sha256(raw).hexdigest())


def _parse_date(value: str, path: Path, line: int | str, column: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RuleTableError(f"{path}:{line}: {column} {value!r} is not a date YYYY-MM-DD") from None


def _parse_int(value: str, path: Path, line: int | str, column: str, *, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise RuleTableError(f"{path}:{line}: {column} {value!r} is not a whole number") from None
    if number < minimum:
        raise RuleTableError(f"{path}:{line}: {column} {number} is below {minimum}")
    return number


@dataclass(frozen=True)
class RateTable:
    """A yearly rate in basis points, in force from each ``effective_from`` until the next row."""

    name: str
    path: Path
    effective_from: tuple[date, ...]
    rate_bp: tuple[int, ...]
    sources: tuple[str, ...]
    last_valid: date
    sha256: str

    def rate_on(self, d: date) -> int | None:
        """The rate in force on ``d`` (None before the first row)."""
        rate = None
        for day, bp in zip(self.effective_from, self.rate_bp, strict=True):
            if day > d:
                break
            rate = bp
        return rate

    @property
    def days(self) -> np.ndarray:
        return np.array([day_number(d) for d in self.effective_from], dtype=np.int32)

    @property
    def bps(self) -> np.ndarray:
        return np.array(self.rate_bp, dtype=np.int32)


def _rate_table(name: str, rules_dir: Path | None) -> RateTable:
    f = _read(name, rules_dir, ("effective_from", "rate_bp"))
    days, bps, sources = [], [], []
    for row in f.rows:
        line = row["_line"]
        day = _parse_date(row["effective_from"], f.path, line, "effective_from")
        if days and day <= days[-1]:
            rule = "duplicate day" if day == days[-1] else "rows must be sorted by effective_from"
            raise RuleTableError(f"{f.path}:{line}: effective_from {day} after {days[-1]}: {rule}")
        days.append(day)
        bps.append(_parse_int(row["rate_bp"], f.path, line, "rate_bp"))
        source = row.get("source", "").strip()
        if not source:
            raise RuleTableError(f"{f.path}:{line}: every rate needs a source")
        sources.append(source)
    if not days:
        raise RuleTableError(f"{f.path}: no rows")
    if f.last_valid < days[-1]:
        raise RuleTableError(f"{f.path}: last_value_still_valid_on {f.last_valid} is before its last row {days[-1]}")
    return RateTable(name, f.path, tuple(days), tuple(bps), tuple(sources), f.last_valid, f.sha256)


def _derived_rate_table(name: str, base: RateTable, offsets_name: str, rules_dir: Path | None) -> RateTable:
    """``base`` plus the offset in force on each day (0 before the first offset row): a row on every
    day either table changes, each with both sources. Valid as long as both are."""
    f = _read(offsets_name, rules_dir, ("effective_from", "offset_bp"))
    offsets: list[tuple[date, int, str]] = []
    for row in f.rows:
        line = row["_line"]
        day = _parse_date(row["effective_from"], f.path, line, "effective_from")
        if offsets and day <= offsets[-1][0]:
            raise RuleTableError(f"{f.path}:{line}: effective_from {day} after {offsets[-1][0]}: rows must be sorted")
        try:
            offset = int(row["offset_bp"])
        except ValueError:
            raise RuleTableError(f"{f.path}:{line}: offset_bp {row['offset_bp']!r} is not a whole number") from None
        source = row.get("source", "").strip()
        if not source:
            raise RuleTableError(f"{f.path}:{line}: every offset needs a source")
        offsets.append((day, offset, source))
    if not offsets:
        raise RuleTableError(f"{f.path}: no rows")
    days = sorted(set(base.effective_from) | {d for d, _, _ in offsets})
    rates, sources = [], []
    for day in days:
        base_bp = base.rate_on(day)
        if base_bp is None:  # an offset before the base table starts: nothing to offset yet
            continue
        in_force = [(o, src) for d, o, src in offsets if d <= day]
        offset, offset_source = in_force[-1] if in_force else (0, "")
        if base_bp + offset < 0:
            raise RuleTableError(f"{f.path}: {name} on {day} would be {base_bp + offset} bp, below 0")
        base_source = base.sources[bisect_right(base.effective_from, day) - 1]
        rates.append((day, base_bp + offset))
        sources.append(f"{base.name}: {base_source}" + (f"; {offset:+d} bp: {offset_source}" if in_force else ""))
    digest = hashlib.sha256(f"{base.sha256}:{f.sha256}".encode()).hexdigest()
    return RateTable(
        name,
        f.path,
        tuple(d for d, _ in rates),
        tuple(bp for _, bp in rates),
        tuple(sources),
        min(base.last_valid, f.last_valid),
        digest,
    )


@dataclass(frozen=True)
class HolidayRule:
    name: str
    rule: str  # "fixed:MM-DD" or "easter:+N"
    valid_from: date
    valid_until: date | None
    source: str

    def day_in(self, year: int) -> date | None:
        kind, _, arg = self.rule.partition(":")
        if kind == "fixed":
            month, day = (int(x) for x in arg.split("-"))
            d = date(year, month, day)
        else:
            d = easter(year) + timedelta(days=int(arg))
        if d < self.valid_from or (self.valid_until is not None and d > self.valid_until):
            return None
        return d


@dataclass(frozen=True)
class HolidayCalendar:
    """Poland's days free from work, and the art. 115 KC 'next open day' lookup the kernels use."""

    rules: tuple[HolidayRule, ...]
    path: Path
    last_valid: date
    sha256: str
    first_year: int = 1990
    last_year: int = 2299

    def holidays(self, year: int) -> list[tuple[date, str]]:
        found = [(d, r.name) for r in self.rules if (d := r.day_in(year)) is not None]
        return sorted(found)

    def is_open(self, d: date) -> bool:
        """A day that does not move a deadline: not Saturday, Sunday nor a public holiday."""
        return d.weekday() < 5 and all(r.day_in(d.year) != d for r in self.rules)

    @property
    def base_day(self) -> int:
        return day_number(date(self.first_year, 1, 1))

    @property
    def next_open_day(self) -> np.ndarray:
        """For each day from 1 January of ``first_year``: the first open day on or after it."""
        return _next_open_day(self)


@cache
def _next_open_day(calendar: HolidayCalendar) -> np.ndarray:
    base = calendar.base_day
    end = day_number(date(calendar.last_year, 12, 31))
    days = np.arange(base, end + 1 + 14, dtype=np.int32)  # margin: an end on 31 Dec of the last year moves
    closed = ((days.astype(np.int64) + 3) % 7) >= 5  # 1970-01-01 was a Thursday: +3 makes Monday 0
    for year in range(calendar.first_year, calendar.last_year + 2):
        for d, _ in calendar.holidays(year):
            i = day_number(d) - base
            if 0 <= i < len(days):
                closed[i] = True
    nxt = np.empty(len(days), dtype=np.int32)
    following = days[-1]
    for i in range(len(days) - 1, -1, -1):
        if not closed[i]:
            following = days[i]
        nxt[i] = following
    return nxt[: end - base + 1]


def _holiday_calendar(rules_dir: Path | None) -> HolidayCalendar:
    f = _read("holidays", rules_dir, ("name", "rule", "valid_from", "valid_until", "source"))
    rules = []
    for row in f.rows:
        line = row["_line"]
        rule = row["rule"].strip()
        kind, _, arg = rule.partition(":")
        ok = (kind == "fixed" and len(arg) == 5 and arg[2] == "-") or (kind == "easter" and arg.lstrip("+-").isdigit())
        if not ok:
            raise RuleTableError(f"{f.path}:{line}: rule {rule!r} must be 'fixed:MM-DD' or 'easter:+N'")
        until = row["valid_until"].strip()
        rules.append(
            HolidayRule(
                name=row["name"].strip(),
                rule=rule,
                valid_from=_parse_date(row["valid_from"], f.path, line, "valid_from"),
                valid_until=_parse_date(until, f.path, line, "valid_until") if until else None,
                source=row["source"].strip(),
            )
        )
    return HolidayCalendar(tuple(rules), f.path, f.last_valid, f.sha256)


@dataclass(frozen=True)
class LimitationVersion:
    effective_from: date
    years: dict[LimitationKind, int | None]  # None: the claim's own limitation_years
    year_end_min_years: int | None  # None: no year-end rule
    sources: dict[LimitationKind, str]


@dataclass(frozen=True)
class LimitationRules:
    """The Civil Code before and after the 2018 reform, with art. 5 of the amending act between."""

    before: LimitationVersion
    after: LimitationVersion
    path: Path
    sha256: str

    @property
    def reform_day(self) -> date:
        return self.after.effective_from


def _limitation_rules(rules_dir: Path | None) -> LimitationRules:
    f = _read("limitation_periods", rules_dir, ("effective_from", "kind", "years", "year_end_min_years", "source"))
    by_day: dict[date, list[dict[str, str]]] = {}
    for row in f.rows:
        by_day.setdefault(_parse_date(row["effective_from"], f.path, row["_line"], "effective_from"), []).append(row)
    if len(by_day) != 2:
        raise RuleTableError(
            f"{f.path}: the engine knows one reform (two versions with a transitional rule); "
            f"found {len(by_day)} versions ({', '.join(map(str, sorted(by_day)))})"
        )
    versions = []
    for day in sorted(by_day):
        years: dict[LimitationKind, int | None] = {}
        sources: dict[LimitationKind, str] = {}
        year_end: set[int | None] = set()
        for row in by_day[day]:
            line = row["_line"]
            try:
                kind = LimitationKind(row["kind"].strip())
            except ValueError:
                raise RuleTableError(f"{f.path}:{line}: unknown kind {row['kind']!r}") from None
            if kind in years:
                raise RuleTableError(f"{f.path}:{line}: kind {kind} twice for {day}")
            raw_years = row["years"].strip()
            if kind is LimitationKind.CUSTOM:
                if raw_years:
                    raise RuleTableError(f"{f.path}:{line}: custom takes the claim's own years; leave years empty")
                years[kind] = None
            else:
                years[kind] = _parse_int(raw_years, f.path, line, "years", minimum=1)
            raw_end = row["year_end_min_years"].strip()
            year_end.add(_parse_int(raw_end, f.path, line, "year_end_min_years", minimum=1) if raw_end else None)
            sources[kind] = row["source"].strip()
        missing = set(LimitationKind) - set(years)
        if missing:
            raise RuleTableError(f"{f.path}: version {day} lacks kinds {sorted(missing)}")
        if len(year_end) != 1:
            raise RuleTableError(f"{f.path}: version {day} must have one year_end_min_years for all kinds")
        versions.append(LimitationVersion(day, years, year_end.pop(), sources))
    return LimitationRules(versions[0], versions[1], f.path, f.sha256)


#: The rule sets of limitation_rule_sets.csv this engine computes by.
IMPLEMENTED_LIMITATION_RULE_SETS = ("2026-12",)


@dataclass(frozen=True)
class LimitationRuleSet:
    """How the limitation rules are read: the rule set the engine computes by (the file's last row)."""

    name: str
    adopted_on: date
    source: str
    path: Path
    sha256: str


def _limitation_rule_set(rules_dir: Path | None) -> LimitationRuleSet:
    f = _read("limitation_rule_sets", rules_dir, ("adopted_on", "rule_set"))
    if not f.rows:
        raise RuleTableError(f"{f.path}: no rows")
    last = f.rows[-1]
    name = last["rule_set"].strip()
    if name not in IMPLEMENTED_LIMITATION_RULE_SETS:
        raise RuleTableError(
            f"{f.path}:{last['_line']}: rule set {name!r} is not one this engine computes by "
            f"({', '.join(IMPLEMENTED_LIMITATION_RULE_SETS)}); the last row decides"
        )
    adopted = _parse_date(last["adopted_on"], f.path, last["_line"], "adopted_on")
    return LimitationRuleSet(name, adopted, last.get("source", "").strip(), f.path, f.sha256)


@dataclass(frozen=True)
class RuleBook:
    """Every rule table the engine reads, validated, with where each came from."""

    rates: dict[str, RateTable]
    holidays: HolidayCalendar
    limitation: LimitationRules
    limitation_rule_set: LimitationRuleSet
    other_rates: dict[str, RateTable] = field(default_factory=dict)

    def versions(self) -> dict[str, dict[str, str]]:
        """What a run records about the rules it used: file, sha256 and validity of each table."""
        out = {
            name: {"path": str(t.path), "sha256": t.sha256, "last_value_still_valid_on": t.last_valid.isoformat()}
            for name, t in self.rates.items()
        }
        out["holidays"] = {"path": str(self.holidays.path), "sha256": self.holidays.sha256}
        out["limitation_periods"] = {"path": str(self.limitation.path), "sha256": self.limitation.sha256}
        rule_set = self.limitation_rule_set
        out["limitation_rule_set"] = {"path": str(rule_set.path), "sha256": rule_set.sha256, "rule_set": rule_set.name}
        return out

    def stale(self, names: list[str], as_of: date) -> list[RateTable]:
        return [self.rates[n] for n in names if as_of > self.rates[n].last_valid]


def load_rules(rules_dir: str | Path | None = None) -> RuleBook:
    """Read and validate every rule table (cached per folder); ``CESSION_RULES_DIR`` by default
    (``engine.settings``)."""
    if rules_dir is None:
        from engine.settings import RULES, read

        rules_dir = read(RULES).rules_dir or None
    return _load(Path(rules_dir).resolve() if rules_dir else None)


@cache
def _load(rules_dir: Path | None) -> RuleBook:
    if rules_dir is not None and not rules_dir.is_dir():
        raise RuleTableError(f"{RULES_DIR_ENV}={rules_dir} is not a folder")
    rates = {name: _rate_table(name, rules_dir) for name in RATE_TABLES}
    for name, (base, offsets) in DERIVED_RATE_TABLES.items():
        rates[name] = _derived_rate_table(name, rates[base], offsets, rules_dir)
    return RuleBook(
        rates=rates,
        holidays=_holiday_calendar(rules_dir),
        limitation=_limitation_rules(rules_dir),
        limitation_rule_set=_limitation_rule_set(rules_dir),
        other_rates={name: _rate_table(name, rules_dir) for name in OTHER_RATE_TABLES},
    )


#: A rule table as read (validated header, ``last_value_still_valid_on``, rows as text with their
#: ``_line``), for tables read outside the engine (allocation's fee tables).
RuleCsv = _CsvFile


def read_table(name: str, header: tuple[str, ...], rules_dir: str | Path | None = None) -> RuleCsv:
    """The rule table ``name`` (``CESSION_RULES_DIR``'s copy if there is one), its header checked."""
    if rules_dir is None:
        from engine.settings import RULES, read

        rules_dir = read(RULES).rules_dir or None
    return _read(name, Path(rules_dir).resolve() if rules_dir else None, header)
