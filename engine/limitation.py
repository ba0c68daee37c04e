"""The limitation clock of one claim, step by step with the article that moved it (ENGINE.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from engine.domain import EventKind, LimitationKind
from engine.kernels import codes
from engine.kernels.calendar import NULL_DAY
from engine.rules import RuleBook, from_day_number, load_rules
from engine.single import events_of, one_claim
from engine.state import explain_claim, prepare

HOW = {
    codes.END_NEW_LAW: "art. 118 KC as in force since {reform}",
    codes.END_OLD_EXPIRED: "run began before {reform}; ended under the old law before the reform (art. 5 ust. 1 a contrario, 2018 act)",
    codes.END_OLD_EARLIER: "run began before {reform}; new period shorter, old-law end comes first (art. 5 ust. 2, 2018 act)",
    codes.END_FROM_REFORM: "run began before {reform}; new period shorter, counted from {reform} (art. 5 ust. 2, 2018 act)",
    codes.END_NEW_FROM_START: "run began before {reform}; new period not shorter, new law from the start (art. 5 ust. 1, 2018 act)",
}
STEP = {
    codes.STEP_START: "run starts",
    codes.STEP_NEW_RUN: "interrupted: a new run starts (art. 123-124 KC)",
    codes.STEP_SUSPEND: "proceedings: the run does not go on until they end (art. 123 § 1 pkt 1, art. 124 § 2 KC)",
    codes.STEP_TITLE: "enforcement title: a new run (art. 125 § 1 KC)",
    codes.STEP_BARRED: "no effect: the claim was already time-barred and is not revived",
    codes.STEP_NO_EFFECT: "no effect on the clock here",
}


@dataclass(frozen=True)
class LimitationStep:
    day: date
    what: str  # the event kind, or the kind of the first run
    effect: str
    rule: str
    end: date | None  # the end after this step (None while suspended)
    moved_from: date | None  # the end before the art. 115 KC move, when it moved


@dataclass(frozen=True)
class LimitationResult:
    as_of: date
    limitation_date: date | None
    time_barred: bool
    steps: tuple[LimitationStep, ...]


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
    out, _, trace = explain_claim(p)
    reform = rules.limitation.reform_day.isoformat()
    run_kinds = list(LimitationKind)
    event_kinds = list(EventKind)
    steps = []
    suspended = False
    for step, day, what, raw, how, end in trace.tolist():
        if step == codes.STEP_START:
            label = f"{run_kinds[what].value} claim" if what != codes.LIMITATION_TITLE else "claim with a title"
        else:
            label = event_kinds[what].value
        if step == codes.STEP_SUSPEND:
            suspended = True
        elif step in (codes.STEP_NEW_RUN, codes.STEP_TITLE):
            suspended = False
        starts_run = step in (codes.STEP_START, codes.STEP_NEW_RUN, codes.STEP_TITLE)
        rule = HOW[how].format(reform=reform) if starts_run else ""
        moved = starts_run and raw != end
        if moved:
            rule += "; end falls on a Saturday, Sunday or holiday: moved to the next working day (art. 115 KC)"
        steps.append(
            LimitationStep(
                day=from_day_number(day),
                what=label,
                effect=STEP[step],
                rule=rule,
                end=None if suspended or end == NULL_DAY else from_day_number(end),
                moved_from=from_day_number(raw) if moved else None,
            )
        )
    limitation = None if out[9] == NULL_DAY else from_day_number(out[9])
    return LimitationResult(as_of, limitation, limitation is not None and as_of > limitation, tuple(steps))
