"""Segments and strategies as data (YAML), validated on load, versioned by content hash.

A segments file names ordered segments, each a set of predicates (``allocation.predicates``); a
claim is in the first segment it matches, else in ``other``. A strategy file names its segments
(inline or a file beside it), its settings, its agency pools and an ordered list of rules
``segment/predicates -> action``; the first rule that matches a claim decides. Optionally a
challenger: another strategy file that decides for a seeded, stable share of some segments.

A rule may not override the holds (``allocation.decide``): a rule that would send held debtors'
claims anywhere, or time-barred consumer claims to a legal queue, is loaded with a warning.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from allocation import yamlfile
from allocation.errors import AllocationFileError
from allocation.predicates import Predicates
from engine.domain import HOLDING_FLAGS, LEGAL_QUEUES, ActionKind, DebtorKind, HoldReason, PlacementQueue

OTHER = "other"  # the segment of a claim that matches none


class Segment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    when: Predicates = Predicates()


class Segments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    segments: list[Segment] = Field(min_length=1)

    @field_validator("segments")
    @classmethod
    def _distinct(cls, value: list[Segment]) -> list[Segment]:
        yamlfile.distinct([s.name for s in value], "segment")
        if any(s.name == OTHER for s in value):
            raise ValueError(f"{OTHER!r} is the segment of the claims no segment matches; name it otherwise")
        return value


class Settings(BaseModel):
    """The strategy's numbers (days, shares); every one has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: a claim whose limitation date falls within this many days is in the limitation window
    limitation_window_days: int = Field(180, ge=0)
    #: a legal queue only when balance x score exceeds the legal costs by this share
    legal_margin: float = Field(0.25, ge=0)
    #: an agency or reminder placement is recalled after this many days without a payment
    recall_after_days: int = Field(120, gt=0)
    #: a recalled claim is not placed with the same agency again for this many days
    no_replacement_days: int = Field(180, ge=0)
    #: by-performance pools weigh agencies by recovery per placed zloty over this many days
    performance_days: int = Field(180, gt=0)
    #: the score (share paying within 90 days) and recovery per zloty of every segment while the
    #: store holds no history to learn them from (a new book)
    score_without_history: float = Field(0.05, ge=0, le=1)
    recovery_without_history: float = Field(0.02, ge=0)


class Pool(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: agency id -> weight (the share of the pool's placements it should get)
    agencies: dict[str, float] = Field(min_length=1)
    by: str = Field("weights", pattern="^(weights|performance)$")

    @field_validator("agencies")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for agency, weight in value.items():
            if weight <= 0:
                raise ValueError(f"agency {agency!r}: a weight must be > 0 (got {weight})")
        return value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=100)
    segment: list[str] | None = None
    when: Predicates = Predicates()
    action: ActionKind
    pool: str | None = None  # action place
    queue: PlacementQueue | None = None  # action legal
    reason: HoldReason | None = None  # action hold
    #: at most this many claims a day (a legal queue's filing capacity); the first by priority
    daily_limit: int | None = Field(None, gt=0)

    @field_validator("segment", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _action_fields(self):
        needs = {ActionKind.PLACE: "pool", ActionKind.LEGAL: "queue", ActionKind.HOLD: "reason"}
        for action, name in needs.items():
            given = getattr(self, name) is not None
            if self.action == action and not given:
                raise ValueError(f"action {action} needs {name!r}")
            if self.action != action and given:
                raise ValueError(f"{name!r} goes with action {action}, not {self.action}")
        if self.action == ActionKind.KEEP:
            raise ValueError("keep is what a claim with an open placement gets; a rule may say leave")
        if self.queue is not None and self.queue not in LEGAL_QUEUES:
            raise ValueError(f"queue {self.queue} is not a legal queue ({PlacementQueue.spelled(LEGAL_QUEUES)})")
        return self


class Challenger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    strategy: str  # a strategy file, beside this one
    share: float = Field(gt=0, lt=1)
    seed: int = 0
    segments: list[str] | None = None  # none: every segment


class StrategyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    segments: str | list[Segment]
    settings: Settings = Settings()
    pools: dict[str, Pool] = {}
    rules: list[Rule] = Field(min_length=1)
    challenger: Challenger | None = None

    @model_validator(mode="after")
    def _references(self):
        for i, rule in enumerate(self.rules):
            if rule.pool is not None and rule.pool not in self.pools:
                raise ValueError(
                    f"rules[{i}] ({rule.name}): pool {rule.pool!r} is not among pools ({', '.join(self.pools) or 'none'})"
                )
        yamlfile.distinct([r.name for r in self.rules], "rule")
        return self


@dataclass(frozen=True)
class Strategy:
    """A loaded strategy: its rules, segments, settings, pools, its content hash and warnings."""

    name: str
    path: Path
    sha256: str
    texts: dict[str, str]  # file name -> text (what the hash is of; kept in the store)
    segments: tuple[Segment, ...]
    settings: Settings
    pools: dict[str, Pool]
    rules: tuple[Rule, ...]
    warnings: tuple[str, ...] = ()
    challenger: Strategy | None = None
    challenger_share: float = 0.0
    challenger_seed: int = 0
    challenger_segments: tuple[str, ...] | None = None

    @property
    def short(self) -> str:
        return self.sha256[:12]

    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments] + [OTHER]

    @property
    def segment_enum(self) -> pl.Enum:
        """The segments as a polars Enum, in their order (``other`` last)."""
        return pl.Enum(self.segment_names())

    def segment_expr(self, day: date) -> pl.Expr:
        """Each claim's segment (``segment_enum``): the first that matches, else ``other``. An Enum
        made of Enum literals: a small integer a claim (at 10M claims, string literals made
        categorical take ~1-3 s; these ~0.1 s)."""
        enum = self.segment_enum

        def name(text: str) -> pl.Expr:
            return pl.lit(text, dtype=enum)

        expr = None
        for s in self.segments:
            match = s.when.expr(day, self.settings.limitation_window_days)
            expr = pl.when(match).then(name(s.name)) if expr is None else expr.when(match).then(name(s.name))
        return expr.otherwise(name(OTHER)) if expr is not None else name(OTHER)

    def stored_text(self) -> str:
        return json.dumps(self.texts, ensure_ascii=False, indent=1, sort_keys=True)


def load_segments(path: Path) -> tuple[tuple[Segment, ...], str]:
    model, text = yamlfile.load(Segments, path)
    return tuple(model.segments), text


def _warnings(model: StrategyFile, where: Path) -> list[str]:
    """Rules that try what a hold forbids: the hold wins, the file is loaded with a warning."""
    found = []
    for i, rule in enumerate(model.rules):
        if rule.action == ActionKind.HOLD:
            continue
        flags = set(rule.when.flags or ()) & set(HOLDING_FLAGS)
        if flags:
            found.append(
                f"{where}: rules[{i}] ({rule.name}) would {rule.action} debtors flagged "
                f"{', '.join(sorted(flags))}: they are held whatever a rule says; the hold wins"
            )
        if rule.action == ActionKind.LEGAL:
            kinds = rule.when.debtor_kind or list(DebtorKind)
            barred = rule.when.limitation is None or "time_barred" in rule.when.limitation
            if barred and DebtorKind.CONSUMER in kinds and rule.when.limitation is not None:
                found.append(
                    f"{where}: rules[{i}] ({rule.name}) sends time-barred consumer claims to the {rule.queue} "
                    "queue: never (art. 117 § 2¹ KC); they are only placed for voluntary collection, the "
                    "rule is skipped for them"
                )
    return found


def load_strategy(path: Path, *, as_challenger: bool = False) -> Strategy:
    """The strategy file at ``path`` (its segments file and challenger beside it), validated."""
    path = Path(path)
    model, text, lines = yamlfile.load_with_lines(StrategyFile, path)
    texts = {path.name: text}
    if isinstance(model.segments, str):
        segments_path = path.parent / model.segments
        segments, segments_text = load_segments(segments_path)
        texts[model.segments] = segments_text
    else:
        segments = tuple(model.segments)
    known = {s.name for s in segments} | {OTHER}
    for i, rule in enumerate(model.rules):
        for name in rule.segment or ():
            if name not in known:
                line = yamlfile.line_of(("rules", i, "segment"), lines)
                raise AllocationFileError(
                    f"{path}:{line}: rules[{i}].segment: {name!r} is not a segment ({', '.join(sorted(known))})"
                )
    challenger = None
    if model.challenger is not None:
        if as_challenger:
            raise AllocationFileError(
                f"{path}:{yamlfile.line_of(('challenger',), lines)}: challenger: a challenger "
                "strategy has no challenger of its own"
            )
        challenger = load_strategy(path.parent / model.challenger.strategy, as_challenger=True)
        if [s.name for s in challenger.segments] != [s.name for s in segments]:
            raise AllocationFileError(
                f"{path}:{yamlfile.line_of(('challenger', 'strategy'), lines)}: challenger.strategy: "
                f"{model.challenger.strategy} must use the same segments (the split is by segment)"
            )
        for name in model.challenger.segments or ():
            if name not in known:
                raise AllocationFileError(
                    f"{path}:{yamlfile.line_of(('challenger', 'segments'), lines)}: challenger.segments: "
                    f"{name!r} is not a segment"
                )
        texts.update({f"challenger/{k}": v for k, v in challenger.texts.items()})
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return Strategy(
        name=model.name,
        path=path,
        sha256=digest,
        texts=texts,
        segments=segments,
        settings=model.settings,
        pools=dict(model.pools),
        rules=tuple(model.rules),
        warnings=tuple(_warnings(model, path)),
        challenger=challenger,
        challenger_share=model.challenger.share if model.challenger else 0.0,
        challenger_seed=model.challenger.seed if model.challenger else 0,
        challenger_segments=tuple(model.challenger.segments)
        if model.challenger and model.challenger.segments
        else None,
    )
