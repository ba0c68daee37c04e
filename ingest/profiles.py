"""Seller profiles: how one seller's export maps onto docs/data-contract.md (YAML, validated when loaded).

A file whose columns already carry docs/data-contract.md's names needs no profile. A profile names the
seller's columns, maps the seller's spellings of values onto docs/data-contract.md's, derives several columns
from one (a product type decides interest_basis and limitation_kind), fills defaults and carries
the seller's control totals. Shipped profiles live in ingest/profiles/*.yaml; ``--profile`` takes
the name of one of them or a path to a YAML file of your own.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.domain import CLAIM_LIMITATION_KINDS, DebtorKind, InterestBasis
from engine.errors import InputError

SHIPPED = Path(__file__).with_name("profiles")

#: The columns ingest reads (docs/data-contract.md's names; PLN amounts, dates as text), and what they are.
CLAIM_COLUMNS = (
    "seller_ref",
    "debtor_kind",
    "principal",
    "interest_at_cutoff",
    "costs_at_cutoff",
    "due_date",
    "cutoff_date",
    "interest_basis",
    "contractual_rate_bp",
    "contractual_rate_percent",
    "limitation_kind",
    "limitation_years",
    "title_date",
    "purchase_date",
    "purchase_price",
)
DEBTOR_COLUMNS = ("national_id", "name", "street", "postal_code", "city", "phone", "email", "flags")
#: checked but not stored: a birth date helps match debtors without a PESEL; REGON and IBAN are checksummed
EXTRA_COLUMNS = ("birth_date", "regon", "iban")
INPUT_COLUMNS = CLAIM_COLUMNS + DEBTOR_COLUMNS + EXTRA_COLUMNS
#: a file must carry these (or the profile a default for them, or the command line a value)
REQUIRED_COLUMNS = (
    "seller_ref",
    "debtor_kind",
    "name",
    "principal",
    "interest_at_cutoff",
    "costs_at_cutoff",
    "due_date",
    "cutoff_date",
    "interest_basis",
    "limitation_kind",
)
ENUMS: dict[str, tuple[str, ...]] = {
    "debtor_kind": tuple(DebtorKind),
    "interest_basis": tuple(InterestBasis),
    "limitation_kind": tuple(k.value for k in CLAIM_LIMITATION_KINDS),
}


class ProfileError(InputError):
    """A profile that cannot be used: unknown column, unknown value, bad YAML."""


def _known_column(name: str) -> str:
    if name not in INPUT_COLUMNS:
        raise ValueError(f"unknown column {name!r}; ingest reads: {', '.join(INPUT_COLUMNS)}")
    return name


def _known_values(assigned: dict[str, str]) -> dict[str, str]:
    for column, value in assigned.items():
        _known_column(column)
        if column in ENUMS and value not in ENUMS[column]:
            raise ValueError(f"{column}: {value!r} is not one of {', '.join(ENUMS[column])}")
    return assigned


class Products(BaseModel):
    """One seller column (e.g. 'Rodzaj produktu') whose value decides several docs/data-contract.md columns."""

    model_config = ConfigDict(extra="forbid")
    column: str
    map: dict[str, dict[str, str]]

    @field_validator("map")
    @classmethod
    def _targets(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for assigned in value.values():
            _known_values(assigned)
        return value


class ControlTotals(BaseModel):
    """What the seller says the file holds: rows and the sum of principal (PLN text)."""

    model_config = ConfigDict(extra="forbid")
    count: int | None = Field(default=None, ge=0)
    principal: str | None = None


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    seller: str | None = None
    encoding: Literal["utf-8", "cp1250", "iso-8859-2"] | None = None  # detected when absent
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)  # detected when absent
    sheet: str | int = 0  # XLSX: the sheet's name or position
    #: docs/data-contract.md's column -> the seller's header (matched ignoring case and spacing)
    columns: dict[str, str] = {}
    #: docs/data-contract.md's column -> {seller's spelling: docs/data-contract.md's value} (matched ignoring case and spacing)
    values: dict[str, dict[str, str]] = {}
    products: Products | None = None
    #: docs/data-contract.md's column -> the text used where the file has no such column or an empty cell
    defaults: dict[str, str] = {}
    control_totals: ControlTotals | None = None
    #: CSV: a row with fewer fields than the header (a seller's export that drops a row's trailing
    #: empty fields) is read with the missing fields empty, and counted, instead of rejected
    pad_short_rows: bool = False

    @field_validator("columns", "defaults")
    @classmethod
    def _columns_known(cls, value: dict[str, str]) -> dict[str, str]:
        for column in value:
            _known_column(column)
        return value

    @field_validator("values")
    @classmethod
    def _values_known(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for column, spellings in value.items():
            for target in spellings.values():
                _known_values({column: target})
        return value

    @model_validator(mode="after")
    def _defaults_are_values(self) -> Profile:
        _known_values({c: v for c, v in self.defaults.items() if c in ENUMS})
        return self


#: A file in docs/data-contract.md's shape needs nothing more.
CANONICAL = Profile(name="canonical")


def load_profile(name_or_path: str | Path | None) -> Profile:
    """A shipped profile by name (ingest/profiles/<name>.yaml) or a YAML file; None: docs/data-contract.md's names."""
    if name_or_path is None:
        return CANONICAL
    path = Path(name_or_path)
    if not path.exists():
        path = SHIPPED / f"{name_or_path}.yaml"
        if not path.exists():
            raise ProfileError(
                f"profile {name_or_path!r}: no such file, and no shipped profile of that name "
                f"(shipped: {', '.join(shipped_profiles())})"
            )
    return _read(path)


@cache
def shipped_profiles() -> dict[str, Profile]:
    """Every shipped profile, each validated (a broken one fails here, at start, not mid-file)."""
    return {path.stem: _read(path) for path in sorted(SHIPPED.glob("*.yaml"))}


def _read(path: Path) -> Profile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Profile.model_validate(data)
    except (yaml.YAMLError, ValidationError) as e:
        raise ProfileError(f"profile {path}: {e}") from None
