"""The predicates segments and strategy rules are made of, each a polars expression over the claim
frame (``allocation.features``): a segment or a rule matches a claim when all its predicates do.

Every predicate is one named expression, so that ``cession explain`` evaluates the very same
expressions on one claim and says which held and which did not.

| field | matches a claim when | example |
|---|---|---|
| balance | total_due in [min, max) zł (either end may be null) | ``[0, 1000]`` |
| days_past_due | days past due in [min, max) | ``[365, null]`` |
| debtor_kind | the debtor's kind is one of these | ``[consumer]`` |
| region | the debtor's postal code starts with one of these prefixes | ``["00", "01", "05-"]`` |
| limitation | the limitation status is one of ``open``, ``window`` (limitation date within the strategy's window), ``time_barred``, ``suspended`` (no limitation date) | ``[window]`` |
| paid_within_days | true: paid anything in the last N days; false: did not | ``{days: 90, paid: true}`` |
| payments | the number of payments in [min, max) | ``[0, 1]`` |
| title | whether the claim has an enforcement title | ``true`` |
| flags | the debtor has one of these flags | ``[disputed]`` |
| national_id | whether the debtor has a valid PESEL/NIP | ``false`` |
| plan_status | the claim's payment plan is one of ``none`` (never had one), ``active``, ``kept``, ``broken``, ``cancelled`` (its active plan, else its latest) | ``[broken]`` |
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.domain import DebtorFlag, DebtorKind

#: The largest amount in zł a band or a capacity may name: int64 grosz, what the store's columns hold.
MAX_ZL = Decimal(2**63 - 1) / 100

LimitationStatus = Literal["open", "window", "time_barred", "suspended"]
LIMITATION_STATUSES: tuple[str, ...] = ("open", "window", "time_barred", "suspended")
#: ``none`` and engine.domain.PlanStatus's values (tests/allocation/test_plan_status.py holds them equal)
PlanStatusName = Literal["none", "active", "kept", "broken", "cancelled"]


class Band(BaseModel):
    """[min, max): either end may be null (open)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min: Decimal | None = Field(None, ge=-MAX_ZL, le=MAX_ZL)
    max: Decimal | None = Field(None, ge=-MAX_ZL, le=MAX_ZL)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value):
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("a band is [min, max] (null for an open end)")
            return {"min": value[0], "max": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self):
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min {self.min} must be below max {self.max}")
        return self

    def expr(self, column: pl.Expr, scale: int = 1) -> pl.Expr:
        out = pl.lit(True)
        if self.min is not None:
            out = out & (column >= int(self.min * scale))
        if self.max is not None:
            out = out & (column < int(self.max * scale))
        return out

    def __str__(self) -> str:
        return f"[{'' if self.min is None else self.min}, {'' if self.max is None else self.max})"


class PaidWithin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    days: int = Field(gt=0)
    paid: bool = True


class Predicates(BaseModel):
    """The conditions of a segment or a rule (all must hold; none given: every claim)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    balance: Band | None = None
    days_past_due: Band | None = None
    debtor_kind: list[DebtorKind] | None = None
    region: list[str] | None = None
    limitation: list[LimitationStatus] | None = None
    paid_within_days: PaidWithin | None = None
    payments: Band | None = None
    title: bool | None = None
    flags: list[DebtorFlag] | None = None
    national_id: bool | None = None
    plan_status: list[PlanStatusName] | None = None

    @field_validator("debtor_kind", "flags", "limitation", "plan_status", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value

    @field_validator("region")
    @classmethod
    def _prefixes(cls, value: list[str] | None) -> list[str] | None:
        for prefix in value or []:
            if not prefix or not all(c.isdigit() or c == "-" for c in prefix) or len(prefix) > 6:
                raise ValueError(f"{prefix!r} is not a postal-code prefix (digits of NN-NNN, e.g. '00' or '02-3')")
        return value

    def named(self, day: date, window_days: int) -> dict[str, pl.Expr]:
        """Each given predicate as a boolean expression over the claim frame, by field."""
        found: dict[str, pl.Expr] = {}
        if self.balance is not None:
            found["balance"] = self.balance.expr(pl.col("balance"), 100)
        if self.days_past_due is not None:
            found["days_past_due"] = self.days_past_due.expr(pl.col("days_past_due"))
        if self.debtor_kind is not None:
            found["debtor_kind"] = pl.col("debtor_kind").is_in([k.value for k in self.debtor_kind])
        if self.region is not None:
            postal = pl.col("postal_code").fill_null("")
            found["region"] = pl.any_horizontal(postal.str.starts_with(p) for p in self.region)
        if self.limitation is not None:
            found["limitation"] = limitation_in(self.limitation, day, window_days)
        if self.paid_within_days is not None:
            since = day - timedelta(days=self.paid_within_days.days)
            paid = pl.col("last_paid").is_not_null() & (pl.col("last_paid") > since)
            found["paid_within_days"] = paid if self.paid_within_days.paid else ~paid
        if self.payments is not None:
            found["payments"] = self.payments.expr(pl.col("payments"))
        if self.title is not None:
            found["title"] = pl.col("title") == self.title
        if self.flags is not None:
            found["flags"] = pl.any_horizontal(pl.col("flags").list.contains(f.value) for f in self.flags)
        if self.national_id is not None:
            found["national_id"] = pl.col("national_id_ok") == self.national_id
        if self.plan_status is not None:
            found["plan_status"] = pl.col("plan_status").is_in(list(self.plan_status))
        return found

    def expr(self, day: date, window_days: int) -> pl.Expr:
        named = self.named(day, window_days)
        return pl.all_horizontal(named.values()).fill_null(False) if named else pl.lit(True)

    def described(self) -> dict[str, str]:
        """Each given predicate as a person reads it, by field (for `cession explain`)."""
        out = {}
        for name, value in self:
            if value is None:
                continue
            if isinstance(value, list):
                out[name] = ", ".join(str(v) for v in value)
            elif isinstance(value, PaidWithin):
                out[name] = f"{'paid' if value.paid else 'nothing paid'} in the last {value.days} days"
            else:
                out[name] = str(value)
        return out


#: a limitation status as a polars Enum (a small integer a claim, where a string takes 16 bytes)
LIMITATION_STATUS = pl.Enum(list(LIMITATION_STATUSES))


def limitation_status(day: date, window_days: int) -> pl.Expr:
    """``suspended`` (no limitation date), ``time_barred``, ``window`` (the limitation date within
    ``window_days`` of ``day``) or ``open`` (``LIMITATION_STATUS``)."""
    limit = pl.col("limitation_date")

    def status(name: str) -> pl.Expr:
        return pl.lit(name, dtype=LIMITATION_STATUS)

    return (
        pl.when(limit.is_null())
        .then(status("suspended"))
        .when(limit < day)
        .then(status("time_barred"))
        .when(limit <= day + timedelta(days=window_days))
        .then(status("window"))
        .otherwise(status("open"))
    )


def limitation_in(statuses, day: date, window_days: int) -> pl.Expr:
    """Whether a claim's ``limitation_status`` is one of ``statuses``, from its limitation date alone
    (no status made per claim: a rule reads this over millions of claims)."""
    limit = pl.col("limitation_date")
    end = day + timedelta(days=window_days)
    each = {
        "suspended": limit.is_null(),
        "time_barred": limit.is_not_null() & (limit < day),
        "window": limit.is_not_null() & (limit >= day) & (limit <= end),
        "open": limit.is_not_null() & (limit > end),
    }
    return pl.any_horizontal([each[s] for s in dict.fromkeys(statuses)])
