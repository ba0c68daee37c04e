"""The chart of accounts: which account each role of a posting goes to.

A chart is a YAML file (``charts/default.yaml`` is shipped) mapping every ``Role`` to an account
number and name; it is validated on load (allocation/yamlfile.py: errors name the file, the line
and the field): every role mapped, no unknown role, numbers unique unless two roles are meant to
share one account (``shared_with``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from allocation import yamlfile
from allocation.errors import AllocationFileError

DEFAULT_CHART = Path(__file__).parent / "charts" / "default.yaml"


class Role(StrEnum):
    """What an account is for in the journal (the keys of a chart's ``accounts``)."""

    CASH = "cash"  # money in (collections) and out (costs advanced)
    PURCHASE_SETTLEMENT = "purchase_settlement"  # the price owed to (or paid to) the seller
    RECEIVABLE_PRINCIPAL = "receivable_principal"
    RECEIVABLE_INTEREST = "receivable_interest"
    RECEIVABLE_COSTS = "receivable_costs"
    PURCHASE_DISCOUNT = "purchase_discount"  # nominal less price (a debit: bought above nominal)
    OVERPAYMENTS_OWED = "overpayments_owed"  # what payments could not place, owed back
    AGENCY_PAYABLE = "agency_payable"
    INTEREST_INCOME = "interest_income"
    INTEREST_WAIVED = "interest_waived"
    WRITE_OFF_LOSS = "write_off_loss"
    COMMISSION_EXPENSE = "commission_expense"


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    #: other roles that may post to the same number (e.g. one bank account for cash and settlements)
    shared_with: list[Role] = []

    @field_validator("number", mode="before")
    @classmethod
    def _text(cls, value):
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f'write the number as text in quotes ("{value}"), so that 0-prefixes and dots are kept')
        return value


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    currency: str = Field("PLN", pattern="^PLN$")
    accounts: dict[Role, Account]

    @field_validator("accounts")
    @classmethod
    def _complete(cls, accounts: dict[Role, Account]) -> dict[Role, Account]:
        missing = [r.value for r in Role if r not in accounts]
        if missing:
            raise ValueError(f"every role needs an account; missing: {', '.join(missing)}")
        return accounts

    def shared_numbers(self) -> tuple[Role, Role] | None:
        """The first two roles on one account number that did not say they share it (None: none)."""
        by_number: dict[str, Role] = {}
        for role, account in self.accounts.items():
            other = by_number.get(account.number)
            if other is not None and other not in account.shared_with and role not in self.accounts[other].shared_with:
                return other, role
            by_number.setdefault(account.number, role)
        return None

    def number(self, role: Role) -> str:
        return self.accounts[role].number

    def names(self) -> dict[str, str]:
        """Account number -> name (the first role's name where roles share a number)."""
        out: dict[str, str] = {}
        for role in Role:
            account = self.accounts[role]
            out.setdefault(account.number, account.name)
        return out


def load(path: Path | None = None) -> Chart:
    """The chart at ``path`` (default: the shipped one), validated; a bad file raises
    ``AllocationFileError`` (an InputError) naming file, line and field."""
    path = path or DEFAULT_CHART
    chart, _text, lines = yamlfile.load_with_lines(Chart, path)
    shared = chart.shared_numbers()
    if shared is not None:
        first, second = shared
        where = ("accounts", second.value, "number")
        raise AllocationFileError(
            f"{path}:{yamlfile.line_of(where, lines) or 1}: {yamlfile.field_name(where)}: "
            f"number {chart.number(second)!r} is also {first.value}'s "
            "(list the other role in shared_with if they are meant to share it)"
        )
    return chart
