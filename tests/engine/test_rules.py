"""The rule tables: shipped data, validated at load, refused past their validity."""

from datetime import date
from pathlib import Path

import pytest

from engine.rules import RuleTableError, StaleRulesError, load_rules
from engine.rules.loader import SHIPPED_DIR, _load

#: The research the rate tables were built from, when a checkout of it sits beside the repository (optional:
#: nothing else reads it; the tables' comments point at docs/law.md, the research's at its own digest).
SHARED = Path(__file__).resolve().parents[3] / "shared" / "domain" / "rates"


def test_shipped_rate_tables_have_sources_and_validity():
    rules = load_rules()
    for name, table in rules.rates.items():
        assert len(table.rate_bp) == len(table.sources) == len(table.effective_from) > 10, name
        assert list(table.effective_from) == sorted(set(table.effective_from)), name
        assert all(table.sources), name
    assert rules.rates["statutory_late"].last_valid == date(2026, 3, 5)
    assert rules.rates["commercial_late"].last_valid == date(2026, 6, 30)


def _rows_and_validity(text: str) -> list[str]:
    """A rate table's rows and its validity line: what the engine reads, without the prose comments."""
    return [line for line in text.splitlines() if not line.startswith("#") or "last_value_still_valid_on" in line]


@pytest.mark.skipif(not SHARED.exists(), reason="shared/domain not beside the checkout")
def test_shipped_tables_equal_the_domain_research():
    for path in SHARED.glob("*.csv"):
        shipped = (SHIPPED_DIR / path.name).read_text(encoding="utf-8")
        assert _rows_and_validity(shipped) == _rows_and_validity(path.read_text(encoding="utf-8")), path.name


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2015, 12, 31), 800),  # odsetki ustawowe, Dz.U. 2014 poz. 1858
        (date(2016, 1, 1), 700),  # ref 1.50 + 5.5
        (date(2022, 7, 7), 1150),
        (date(2022, 7, 8), 1200),
        (date(2026, 3, 5), 925),
    ],
)
def test_statutory_late_rate_on_a_day(day, rate):
    assert load_rules().rates["statutory_late"].rate_on(day) == rate


def test_commercial_2022_h2_is_16_percent():
    # docs/law.md §2.4's correction: the reference rate in force on 1 July 2022 was 6.00 %
    assert load_rules().rates["commercial_late"].rate_on(date(2022, 9, 1)) == 1600


def _holiday_days(year):
    return {d for d, _ in load_rules().holidays.holidays(year)}


def test_holidays_2018_include_the_one_off_12_november():
    days = _holiday_days(2018)
    assert date(2018, 11, 12) in days
    assert date(2019, 11, 12) not in _holiday_days(2019)
    assert {
        date(2018, 4, 1),
        date(2018, 4, 2),
        date(2018, 5, 20),
        date(2018, 5, 31),
    } <= days  # Easter, Pentecost, Corpus Christi


def test_christmas_eve_is_a_holiday_from_2025_only():
    assert date(2024, 12, 24) not in _holiday_days(2024)
    assert date(2025, 12, 24) in _holiday_days(2025)
    assert len(_holiday_days(2025)) == 14


def test_epiphany_from_2011():
    assert date(2010, 1, 6) not in _holiday_days(2010)
    assert date(2011, 1, 6) in _holiday_days(2011)


def test_next_open_day_skips_weekends_and_holidays():
    cal = load_rules().holidays
    assert cal.is_open(date(2023, 1, 2))
    assert not cal.is_open(date(2022, 12, 31))  # Saturday
    assert not cal.is_open(date(2025, 12, 24))
    assert cal.is_open(date(2024, 12, 24))


def test_limitation_rules_as_two_versions():
    lim = load_rules().limitation
    assert lim.reform_day == date(2018, 7, 9)
    assert lim.before.years["general"] == 10 and lim.after.years["general"] == 6
    assert lim.before.year_end_min_years is None and lim.after.year_end_min_years == 2


def test_stale_table_refused_with_instructions():
    rules = load_rules()
    stale = rules.stale(["statutory_late", "commercial_late"], date(2026, 5, 1))
    assert [t.name for t in stale] == ["statutory_late"]
    message = str(StaleRulesError(stale, date(2026, 5, 1)))
    assert "statutory_late" in message and "2026-03-05" in message
    assert "CESSION_RULES_DIR" in message and "--allow-stale-rates" in message


def _copy_rules(tmp_path, name, edit):
    text = (SHIPPED_DIR / name).read_text()
    (tmp_path / name).write_text(edit(text))
    _load.cache_clear()


def test_user_rules_dir_replaces_a_table(tmp_path):
    _copy_rules(
        tmp_path,
        "statutory_late.csv",
        lambda t: (
            t.replace("last_value_still_valid_on: 2026-03-05", "last_value_still_valid_on: 2026-12-31")
            + "2026-09-01,900,test row\n"
        ),
    )
    rules = load_rules(tmp_path)
    assert rules.rates["statutory_late"].rate_on(date(2026, 10, 1)) == 900
    assert rules.stale(["statutory_late"], date(2026, 11, 1)) == []


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda t: t + "2026-03-05,900,duplicate\n", "duplicate day"),
        (lambda t: t + "2020-01-01,900,unsorted\n", "sorted"),
        (lambda t: t + "2026-09-01,abc,bad\n", "whole number"),
        (lambda t: t + "2026-09-01,900,\n", "source"),
        (lambda t: t.replace("# last_value_still_valid_on: 2026-03-05\n", ""), "last_value_still_valid_on"),
    ],
)
def test_malformed_table_is_refused_naming_file_and_rule(tmp_path, edit, says):
    _copy_rules(tmp_path, "statutory_late.csv", edit)
    with pytest.raises(RuleTableError, match=says) as info:
        load_rules(tmp_path)
    assert "statutory_late.csv" in str(info.value)
