"""A plan's schedule: the down payment (instalment 0, optional) and the instalments 1..n, each a day
and an amount in grosz, that sum to the agreed total to the grosz.

- Equal instalments: the total less the down payment split into ``count`` amounts of
  ``floor(rest / count)`` grosz, the grosz left over (fewer than ``count``) added to the **last**
  instalment (the closing one, "rata wyrównująca"); days monthly from the first day, each
  counted from the first (``first + k months``), a day past a month's end on its last day
  (31 January, 28/29 February, 31 March: never drifting to the 28th).
- Custom instalments: the days and amounts as given (days strictly ascending).

The down payment is due on the day the plan is signed unless another day is given; every day of the
schedule is on or after the signing day and the instalments come after the down payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from engine.errors import InputError

#: instalments a plan may have at most (30 years of monthly instalments)
MAX_INSTALMENTS = 360


class PlanError(InputError):
    """Terms of a plan (or a settlement, a promise) that cannot be used: the message names the
    field and the rule."""


@dataclass(frozen=True)
class Instalment:
    number: int  # 0: the down payment
    due_on: date
    amount: int  # grosz


def monthly_days(first: date, count: int) -> list[date]:
    """``count`` days a month apart from ``first``, each ``first + k months`` (end of month kept)."""
    return [first + relativedelta(months=k) for k in range(count)]


def split_equally(amount: int, count: int) -> list[int]:
    """``amount`` grosz in ``count`` parts that sum to it: equal, the remainder on the last."""
    if count < 1:
        raise PlanError(f"instalments: at least 1, not {count}")
    base, rest = divmod(amount, count)
    if base == 0:
        raise PlanError(f"instalments: {amount} grosz cannot be split into {count} instalments of at least 0.01")
    return [base] * (count - 1) + [base + rest]


def equal_schedule(
    *,
    total: int,
    count: int,
    first_due: date,
    signed_on: date,
    down_payment: int = 0,
    down_payment_on: date | None = None,
) -> list[Instalment]:
    """The down payment (if any) and ``count`` equal monthly instalments from ``first_due``."""
    if down_payment < 0 or down_payment >= total:
        raise PlanError("down_payment: at least 0.00 and less than the total")
    days = monthly_days(first_due, count) if 1 <= count <= MAX_INSTALMENTS else []
    if not days:
        raise PlanError(f"instalments: 1 to {MAX_INSTALMENTS}, not {count}")
    amounts = split_equally(total - down_payment, count)
    return checked(
        _with_down_payment(down_payment, down_payment_on or signed_on)
        + [Instalment(k + 1, d, a) for k, (d, a) in enumerate(zip(days, amounts, strict=True))],
        signed_on=signed_on,
        total=total,
    )


def custom_schedule(
    *,
    instalments: list[tuple[date, int]],
    signed_on: date,
    down_payment: int = 0,
    down_payment_on: date | None = None,
    total: int | None = None,
) -> list[Instalment]:
    """The down payment (if any) and the given (day, grosz) instalments; ``total``, when given,
    must be what they sum to."""
    if not 1 <= len(instalments) <= MAX_INSTALMENTS:
        raise PlanError(f"instalments: 1 to {MAX_INSTALMENTS}, not {len(instalments)}")
    schedule = _with_down_payment(down_payment, down_payment_on or signed_on) + [
        Instalment(k + 1, d, a) for k, (d, a) in enumerate(instalments)
    ]
    return checked(schedule, signed_on=signed_on, total=total)


def _with_down_payment(amount: int, day: date) -> list[Instalment]:
    if amount < 0:
        raise PlanError("down_payment: must not be negative")
    return [Instalment(0, day, amount)] if amount else []


def checked(schedule: list[Instalment], *, signed_on: date, total: int | None = None) -> list[Instalment]:
    """``schedule`` if it is a plan's: amounts > 0, days on or after ``signed_on`` and strictly
    ascending, summing to ``total`` (when given); PlanError naming the instalment otherwise."""
    previous: Instalment | None = None
    for item in schedule:
        name = "down payment" if item.number == 0 else f"instalment {item.number}"
        if item.amount <= 0:
            raise PlanError(f"{name}: the amount must be more than 0.00")
        if item.due_on < signed_on:
            raise PlanError(f"{name}: due {item.due_on} is before the plan is signed ({signed_on})")
        if previous is not None and item.due_on <= previous.due_on:
            raise PlanError(f"{name}: due {item.due_on}, not after the one before it ({previous.due_on})")
        previous = item
    summed = sum(i.amount for i in schedule)
    if total is not None and summed != total:
        raise PlanError(f"total: the instalments sum to {summed} grosz, not the total {total}")
    return schedule
