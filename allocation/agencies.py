"""Agencies as data: what a `cession agencies add|update` option or an agencies YAML file says,
validated (pydantic) and turned into the store's row (grosz, basis points)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from allocation import yamlfile
from allocation.predicates import MAX_ZL, Band
from engine.domain import DebtorKind


class AgencySpec(BaseModel):
    """An agency: capacity in open cases and in open balance (zł), the regions (postal-code
    prefixes), debtor kinds and balance band (zł) it takes, its commission (basis points, or tiers
    by days past due at placement: [[from_days, bp], ...]) and its term for a case (days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agency_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=0, le=2**31 - 1)  # the store's INTEGER
    capacity_balance: Decimal | None = Field(None, ge=0, le=MAX_ZL, decimal_places=2)
    regions: list[str] = []
    debtor_kinds: list[DebtorKind] = []
    balance: Band | None = None
    commission_bp: int | None = Field(None, ge=0, le=10_000)
    commission_tiers: list[tuple[int, int]] | None = None
    term_days: int | None = Field(None, gt=0, le=36_500)
    active: bool = True

    @field_validator("regions")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix or len(prefix) > 6 or not all(c.isdigit() or c == "-" for c in prefix):
                raise ValueError(f"{prefix!r} is not a postal-code prefix (digits of NN-NNN, e.g. '00' or '02-3')")
        return value

    @field_validator("commission_tiers")
    @classmethod
    def _tiers(cls, value):
        if value is None:
            return value
        starts = [start for start, _ in value]
        if any(not 0 <= start <= 36_500 for start in starts):
            raise ValueError("a tier's days past due are within 0..36500")
        if starts != sorted(set(starts)) or (starts and starts[0] != 0):
            raise ValueError("tiers are [[0, bp], [days, bp], ...] with days rising from 0")
        for _, bp in value:
            if not 0 <= bp <= 10_000:
                raise ValueError(f"a tier's rate {bp} bp is not within 0..10000")
        return value

    def row(self) -> dict:
        """The store's columns (agencies), amounts in grosz."""
        return {
            "name": self.name,
            "capacity": self.capacity,
            "capacity_balance": None if self.capacity_balance is None else int(self.capacity_balance * 100),
            "regions": list(self.regions),
            "debtor_kinds": [k.value for k in self.debtor_kinds],
            "balance_min": None if self.balance is None or self.balance.min is None else int(self.balance.min * 100),
            "balance_max": None if self.balance is None or self.balance.max is None else int(self.balance.max * 100),
            "commission_bp": self.commission_bp,
            "commission_tiers": [list(t) for t in self.commission_tiers] if self.commission_tiers else None,
            "term_days": self.term_days,
            "active": self.active,
        }


class AgenciesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agencies: list[AgencySpec] = Field(min_length=1)

    @field_validator("agencies")
    @classmethod
    def _distinct(cls, value: list[AgencySpec]) -> list[AgencySpec]:
        yamlfile.distinct([a.agency_id for a in value], "agency")
        return value


def load_agencies(path: Path) -> list[AgencySpec]:
    model, _ = yamlfile.load(AgenciesFile, Path(path))
    return list(model.agencies)


def spec(values: dict, where: str = "options") -> AgencySpec:
    """An agency from loose values (the command line's), its first problem named by field."""
    data, lines = values, {}
    return yamlfile.validated(AgencySpec, data, lines, where)
