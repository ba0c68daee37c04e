"""The claim frame allocation decides on: one row per claim, from the stored ``claim_state``
joined with claims, debtors and the payments among the events, as of a day.

The state is the engine's as of its run's day (``as_of``). The same frame as of an earlier day
(the scores' reference days, ``allocation.scores``) is rebuilt from it: the balance then is
today's plus what was paid since (interest accrued in between is not taken off: a slight
overstatement, the same for every segment), days past due are fewer by the days in between, the
payments are those made by then, and the limitation date is today's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import polars as pl

from engine.domain import PAYMENTS_HORIZON_DAYS, DebtorKind
from ingest.identifiers import NIP_WEIGHTS, PESEL_WEIGHTS

STATE_COLUMNS = ("claim_id", "total_due", "principal_due", "days_past_due", "limitation_date", "time_barred")
CLAIM_COLUMNS = ("claim_id", "portfolio_id", "debtor_id", "debtor_kind", "due_date", "title_date")
DEBTOR_SCHEMA = {"debtor_id": pl.Int64, "national_id": pl.String, "postal_code": pl.String, "flags": pl.List(pl.String)}
PAYMENT_SCHEMA = {"claim_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64, "source": pl.String}
#: each paying claim's payments as its engine run kept them (engine.store.models.ClaimPayments):
#: how many and the latest up to the state's day, and up to ``PAYMENTS_HORIZON_DAYS`` before it,
#: and the amount paid since then
PAID_SCHEMA = {
    "claim_id": pl.Int64,
    "payments": pl.Int32,
    "last_paid": pl.Date,
    "payments_before": pl.Int32,
    "last_paid_before": pl.Date,
    "paid_since": pl.Int64,
}
#: each claim's payment plan status (payments/plans): its active plan's, else its latest plan's
PLAN_STATUS_SCHEMA = {"claim_id": pl.Int64, "plan_status": pl.String}
#: a claim that never had a payment plan
NO_PLAN = "none"


@dataclass(frozen=True)
class Inputs:
    """What allocation reads: the state as of ``as_of`` and what it is joined with.

    The payments are either all of them (``paid`` None) or, as the store keeps them, each paying
    claim's counts and amounts (``paid``) with the payments of placed claims only: the claim frame
    is then made only as of ``as_of`` and ``PAYMENTS_HORIZON_DAYS`` before it, the days ``paid``
    covers (another day is refused: a programmer's error)."""

    as_of: date
    state: pl.DataFrame  # STATE_COLUMNS
    claims: pl.DataFrame  # CLAIM_COLUMNS
    debtors: pl.DataFrame  # DEBTOR_SCHEMA
    payments: pl.DataFrame  # PAYMENT_SCHEMA: payments not reversed (with ``paid``: of placed claims only)
    plans: pl.DataFrame | None = None  # PLAN_STATUS_SCHEMA (None: no claim has a plan)
    paid: pl.DataFrame | None = None  # PAID_SCHEMA, by claim_id (None: ``payments`` holds every payment)
    _joined: dict = field(default_factory=dict, repr=False, compare=False)

    def paid_facts(self, day: date) -> pl.LazyFrame | None:
        """claim_id, payments, last_paid as of ``day`` and (an earlier day) paid_since: what was
        paid after it, from ``paid``; None when every payment is at hand."""
        if self.paid is None:
            return None
        shift = (self.as_of - day).days
        if shift == 0:
            return self.paid.lazy().select("claim_id", "payments", "last_paid")
        if shift == PAYMENTS_HORIZON_DAYS:
            return self.paid.lazy().select(
                "claim_id", payments="payments_before", last_paid="last_paid_before", paid_since="paid_since"
            )
        raise ValueError(
            f"the payments read are kept for {self.as_of} and {PAYMENTS_HORIZON_DAYS} days before, not for {day}"
        )

    def joined(self) -> pl.DataFrame:
        """The state joined with its claims and debtors (the part of the claim frame that is the
        same for every day), with ``national_id_ok`` and ``plan_status``; made once."""
        if "frame" not in self._joined:
            plans = self.plans if self.plans is not None else pl.DataFrame(schema=PLAN_STATUS_SCHEMA)
            self._joined["frame"] = (
                self.state.lazy()
                .select(STATE_COLUMNS)
                .join(self.claims.lazy().select(CLAIM_COLUMNS), on="claim_id", how="left")
                .join(debtors_checked(self.debtors).lazy(), on="debtor_id", how="left")
                .join(plans.lazy().select(list(PLAN_STATUS_SCHEMA)), on="claim_id", how="left")
                .with_columns(
                    flags=pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                    national_id_ok=pl.when(pl.col("debtor_kind") == DebtorKind.CONSUMER.value)
                    .then(pl.col("pesel_ok"))
                    .otherwise(pl.col("nip_ok"))
                    .fill_null(False),
                    plan_status=pl.col("plan_status").fill_null(NO_PLAN),
                )
                .drop("pesel_ok", "nip_ok")
                .collect()
            )
        return self._joined["frame"]

    def joined_only(self) -> Inputs:
        """These inputs with the joined frame made and the state, claims and debtors it was made of
        let go (empty frames of their schemas): a large book then holds its claims once."""
        joined = self.joined()
        lean = replace(self, state=self.state.clear(), claims=self.claims.clear(), debtors=self.debtors.clear())
        lean._joined["frame"] = joined
        return lean


def debtors_checked(debtors: pl.DataFrame) -> pl.DataFrame:
    """``debtors`` (DEBTOR_SCHEMA but the national id) with ``pesel_ok`` and ``nip_ok``: whether
    the national id is a valid PESEL, a valid NIP — ingest.identifiers' ``pesel_problem`` and
    ``nip_problem`` (stdnum's rules) being null, tests/allocation/test_identifiers.py holds them
    equal. Each check runs only on the ids of its length (11 digits, 10 digits; any other is
    neither), on their digits as one integer (no text slicing)."""
    nid = debtors["national_id"]
    length = nid.str.len_chars()

    def valid(size: int, check) -> pl.Series:
        rows = (length == size).fill_null(False).arg_true()
        found = pl.Series(np.zeros(debtors.height, dtype=bool))
        if rows.len():
            ids = nid.gather(rows)
            number = pl.when(ids.str.contains("^[0-9]+$")).then(ids.cast(pl.Int64, strict=False))
            digits = [number // 10 ** (size - 1 - i) % 10 for i in range(size)]
            checked = pl.select(check(digits).fill_null(False)).to_series()
            found = found.scatter(rows, checked)
        return found

    return debtors.select(
        "debtor_id",
        "postal_code",
        "flags",
        pesel_ok=valid(11, _pesel_valid),
        nip_ok=valid(10, _nip_valid),
    )


def _pesel_valid(d: list[pl.Expr]) -> pl.Expr:
    """An 11-digit PESEL's check digit and birth date (month + 20/40/60/80: 2000s/2100s/2200s/1800s)."""
    check = (10 - pl.sum_horizontal(d[i] * w for i, w in enumerate(PESEL_WEIGHTS)) % 10) % 10
    coded = d[2] * 10 + d[3]
    century = pl.when(coded < 20).then(1900).when(coded < 40).then(2000).when(coded < 60).then(2100)
    year = century.when(coded < 80).then(2200).otherwise(1800) + d[0] * 10 + d[1]
    month, day = coded % 20, d[4] * 10 + d[5]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    return (check == d[10]) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def _nip_valid(d: list[pl.Expr]) -> pl.Expr:
    """A 10-digit NIP's check digit (the weighted sum mod 11; 10 is no digit: never valid)."""
    return pl.sum_horizontal(d[i] * w for i, w in enumerate(NIP_WEIGHTS)) % 11 == d[9]


def claim_frame(inputs: Inputs, day: date | None = None) -> pl.DataFrame:
    """One row per claim of the state as of ``day`` (default: the state's own day)."""
    return claim_frame_lazy(inputs, day).collect()


def claim_frame_lazy(inputs: Inputs, day: date | None = None) -> pl.LazyFrame:
    """``claim_frame`` not yet computed: a caller that selects a few columns computes only those."""
    day = day or inputs.as_of
    shift = (inputs.as_of - day).days
    kept = inputs.paid_facts(day)
    if kept is not None:  # the same columns, from the counts the run kept
        frame = inputs.joined().lazy().join(kept, on="claim_id", how="left")
        if shift:
            frame = frame.with_columns(total_due=pl.col("total_due") + pl.col("paid_since").fill_null(0)).drop(
                "paid_since"
            )
        return _dated(frame, day, shift)
    payments = inputs.payments.lazy()
    before = (
        payments.filter(pl.col("event_date") <= day)
        .group_by("claim_id")
        .agg(payments=pl.len().cast(pl.Int32), last_paid=pl.col("event_date").max())
    )
    frame = inputs.joined().lazy().join(before, on="claim_id", how="left")
    if shift:
        since = payments.filter(pl.col("event_date") > day).group_by("claim_id").agg(paid_since=pl.col("amount").sum())
        frame = (
            frame.join(since, on="claim_id", how="left")
            .with_columns(total_due=pl.col("total_due") + pl.col("paid_since").fill_null(0))
            .drop("paid_since")
        )
    return _dated(frame, day, shift)


def _dated(frame: pl.LazyFrame, day: date, shift: int) -> pl.LazyFrame:
    return frame.with_columns(
        balance=pl.col("total_due"),
        principal=pl.col("principal_due"),
        days_past_due=pl.col("days_past_due") - shift,
        payments=pl.col("payments").fill_null(0),
        title=pl.col("title_date").is_not_null() & (pl.col("title_date") <= day),
    ).drop("total_due", "principal_due")
