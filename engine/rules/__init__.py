"""Rule tables: dated law shipped as data (see loader.py)."""

from engine.rules.loader import (
    HolidayCalendar,
    LimitationRules,
    RateTable,
    RuleBook,
    RuleTableError,
    StaleRulesError,
    day_number,
    from_day_number,
    load_rules,
)

__all__ = [
    "HolidayCalendar",
    "LimitationRules",
    "RateTable",
    "RuleBook",
    "RuleTableError",
    "StaleRulesError",
    "day_number",
    "from_day_number",
    "load_rules",
]
