"""The limitation clock of one claim, step by step with the article that moved it (docs/engine.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.domain import EventKind, LimitationKind
from engine.inputs import prepare
from engine.kernel_run import explain_claim
from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY
from engine.rules import RuleBook, from_day_number, load_rules
from engine.single import events_of, one_claim

HOW = {
    codes.END_NEW_LAW: "art. 118 KC as in force since {reform}",
    codes.END_OLD_EXPIRED: "run began before {reform}; ended under the old law before the reform (art. 5 ust. 1 a contrario, 2018 act)",
    codes.END_OLD_EARLIER: "run began before {reform}; new period shorter, old-law end comes first (art. 5 ust. 2, 2018 act)",
    codes.END_FROM_REFORM: "run began before {reform}; new period shorter, counted from {reform} (art. 5 ust. 2, 2018 act)",
    codes.END_NEW_FROM_START: "run began before {reform}; new period not shorter, new law from the start (art. 5 ust. 1, 2018 act)",
}
STEP = {
    codes.STEP_START: "run starts",
    codes.STEP_NEW_RUN: "a new run starts (art. 123-124 KC)",
    codes.STEP_SUSPEND: "proceedings pending: the run does not go on until they all end (art. 123 § 1 pkt 1, art. 124 § 2 KC)",
    codes.STEP_TITLE: "enforcement title: a new run from it, also on a time-barred claim; court proceedings end with it (art. 125 § 1 KC)",
    codes.STEP_BARRED: "no effect: the claim was already time-barred and is not revived",
    codes.STEP_NO_EFFECT: "no effect on the clock here",
    codes.STEP_STILL_SUSPENDED: "one proceeding ended; another is still pending, so the run stays suspended (art. 124 § 2 KC)",
    codes.STEP_ABSORBED: "before the title became final: absorbed by the proceedings that ended in it (art. 124 § 2, 125 § 1 KC)",
}
#: Said of every end that falls on a Saturday, Sunday or public holiday.
NOT_MOVED = "falls on a {weekday}, not moved: III CZP 21/23 (SN, 7 judges, 2024-05-22: art. 115 KC does not apply to the end of a limitation period)"


@dataclass(frozen=True)
class LimitationStep:
    day: date
    what: str  # the event kind, or the kind of the first run
    effect: str
    rule: str
    end: date | None  # the end after this step (None while suspended)
    pending: int  # court and enforcement proceedings pending after this step


@dataclass(frozen=True)
class LimitationResult:
    as_of: date
    limitation_date: date | None
    time_barred: bool
    steps: tuple[LimitationStep, ...]
    rule_set: str  # limitation_rule_sets.csv: how the rules were read


def closed_day(d: date, rules: RuleBook) -> str | None:
    """ "Saturday", "Sunday" or the holiday's name when ``d`` is not a working day, else None."""
    if d.weekday() >= 5:
        return d.strftime("%A")
    names = [name for day, name in rules.holidays.holidays(d.year) if day == d]
    return f"public holiday ({names[0]})" if names else None


def explain_limitation(
    due: date,
    kind: LimitationKind | str,
    *,
    as_of: date,
    years: int | None = None,
    title: date | None = None,
    events: list[tuple[EventKind | str, date]] = (),  # type: ignore[assignment]
    rules: RuleBook | None = None,
) -> LimitationResult:
    rules = rules or load_rules()
    kind = LimitationKind(kind)
    facts = sorted(((EventKind(k).value, d) for k, d in events), key=lambda f: f[1])
    claim = one_claim(due=due, limitation_kind=kind, limitation_years=years, title=title)
    p = prepare(claim, events_of(facts), as_of, rules=rules)
    explained = explain_claim(p)
    reform = rules.limitation.reform_day.isoformat()
    run_kinds = list(LimitationKind)
    event_kinds = list(EventKind)
    steps = []
    for step, day, what, end, how, pending in explained.steps.tolist():
        if step == codes.STEP_START:
            label = f"{run_kinds[what].value} claim" if what != codes.LIMITATION_TITLE else "claim with a title"
        else:
            label = event_kinds[what].value
        ending = None if end == NULL_DAY else from_day_number(end)
        rule = HOW[how].format(reform=reform) if how >= 0 else ""
        if how >= 0 and ending is not None and (closed := closed_day(ending, rules)):
            rule += "; the end " + NOT_MOVED.format(weekday=closed)
        steps.append(LimitationStep(from_day_number(day), label, STEP[step], rule, ending, pending))
    limitation = explained.limitation_date
    return LimitationResult(
        as_of, limitation, limitation is not None and as_of > limitation, tuple(steps), rules.limitation_rule_set.name
    )
