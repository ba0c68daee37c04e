"""The contact rules as data (YAML, ``contacts/data/contact_rules.yaml`` by default): channels and
their hours, caps per debtor, the flags that forbid contact and the steps, validated on load with
errors naming the file, the line and the field (``allocation.yamlfile``), versioned by content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from allocation import yamlfile
from allocation.errors import AllocationFileError
from contacts.vocabulary import Channel, StepWhen, Template
from engine.domain import DebtorFlag, PlacementQueue

DEFAULT_RULES = Path(__file__).with_name("data") / "contact_rules.yaml"


class ContactRulesError(AllocationFileError):
    """A contact rules file that cannot be used: ``FILE:LINE: field: why``."""


def _clock(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day (HH:MM)") from None


class Hours(BaseModel):
    """A channel's windows: weekdays (Monday-Friday), Saturday, Sunday; none: no contact that day.
    ``holidays``: whether public holidays (engine/rules/data/holidays.csv) keep their weekday window."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    weekdays: tuple[str, str] | None = None
    saturday: tuple[str, str] | None = None
    sunday: tuple[str, str] | None = None
    holidays: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        for name in ("weekdays", "saturday", "sunday"):
            window = getattr(self, name)
            if window is not None:
                start, end = (_clock(t) for t in window)
                if not start < end:
                    raise ValueError(f"{name}: the window must start before it ends ({window[0]} - {window[1]})")
        return self

    def window(self, day: date, holiday: bool) -> tuple[time, time] | None:
        """The window of ``day`` (local time), or None: no contact on it."""
        if holiday and not self.holidays:
            return None
        chosen = self.weekdays if day.weekday() < 5 else self.saturday if day.weekday() == 5 else self.sunday
        return None if chosen is None else (_clock(chosen[0]), _clock(chosen[1]))


class Caps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    per_day: int = Field(1, ge=0)
    per_week: int = Field(2, ge=0)
    per_month: int = Field(5, ge=0)
    min_days_between: int = Field(3, ge=0)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    template: Template
    when: StepWhen
    queues: tuple[PlacementQueue, ...] = ()
    channels: tuple[Channel, ...] = Field(min_length=1)
    after_notice_days: int = Field(0, ge=0)
    every_days: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _queues(self) -> Step:
        if self.when == StepWhen.NO_NOTICE and self.queues:
            raise ValueError("queues: a no_notice step applies to every claim, it names no queue")
        if self.when != StepWhen.NO_NOTICE and not self.queues:
            raise ValueError(f"queues: a {self.when} step names the placement queues it works")
        yamlfile.distinct([c.value for c in self.channels], "channel")
        return self


class ContactRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    valid_from: date
    last_value_still_valid_on: date
    timezone: str = "Europe/Warsaw"
    channels: dict[Channel, Hours]
    caps: Caps = Caps()
    forbid_flags: tuple[DebtorFlag, ...] = ()
    steps: list[Step] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Europe/Warsaw)") from None
        return value

    @model_validator(mode="after")
    def _known(self) -> ContactRules:
        yamlfile.distinct([s.name for s in self.steps], "step")
        for i, step in enumerate(self.steps):
            for channel in step.channels:
                if channel not in self.channels:
                    raise ValueError(f"steps[{i}] ({step.name}): channel {channel.value!r} has no hours in channels")
        if sum(s.when == StepWhen.NO_NOTICE for s in self.steps) > 1:
            raise ValueError("steps: one no_notice step at most")
        return self


@dataclass(frozen=True)
class Rules:
    """A loaded rules file: the validated rules, its text and sha256 (the version a contact records)."""

    rules: ContactRules
    text: str
    path: Path

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.rules.timezone)

    def stale_on(self, day: date) -> bool:
        return day > self.rules.last_value_still_valid_on

    def windows(self, day: date) -> dict[Channel, tuple[datetime, datetime] | None]:
        """Each channel's window on ``day`` as moments (aware, in the rules' zone), or None."""
        from engine.rules.loader import load_rules

        holiday = day in {d for d, _ in load_rules().holidays.holidays(day.year)}
        found = {}
        for channel, hours in self.rules.channels.items():
            window = hours.window(day, holiday)
            found[channel] = (
                None
                if window is None
                else (datetime.combine(day, window[0], self.zone), datetime.combine(day, window[1], self.zone))
            )
        return found

    def week_start(self, day: date) -> date:
        return day - timedelta(days=6)

    def month_start(self, day: date) -> date:
        return day - timedelta(days=29)


def load(path: Path | None = None) -> Rules:
    """The rules of ``path`` (default: the shipped file), validated (``ContactRulesError`` names the
    file, the line and the field)."""
    path = path or DEFAULT_RULES
    try:
        found, text = yamlfile.load(ContactRules, path)
    except ContactRulesError:
        raise
    except AllocationFileError as e:
        raise ContactRulesError(str(e)) from None
    return Rules(found, text, path)
