"""The claim frame allocation decides on: one row per claim, from the stored ``claim_state``
joined with claims, debtors and the payments among the events, as of a day.

The state is the engine's as of its run's day (``as_of``). The same frame as of an earlier day
(the scores' reference days, ``allocation.scores``) is rebuilt from it: the balance then is
today's plus what was paid since (interest accrued in between is not taken off: a slight
overstatement, the same for every segment), days past due are fewer by the days in between, the
payments are those made by then, and the limitation date is today's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from engine.domain import DebtorKind
from ingest.identifiers import nip_problem, pesel_problem

STATE_COLUMNS = ("claim_id", "total_due", "principal_due", "days_past_due", "limitation_date", "time_barred")
CLAIM_COLUMNS = ("claim_id", "portfolio_id", "debtor_id", "debtor_kind", "due_date", "title_date")
DEBTOR_SCHEMA = {"debtor_id": pl.Int64, "national_id": pl.String, "postal_code": pl.String, "flags": pl.List(pl.String)}
PAYMENT_SCHEMA = {"claim_id": pl.Int64, "event_date": pl.Date, "amount": pl.Int64, "source": pl.String}
#: each claim's payment plan status (payments/plans): its active plan's, else its latest plan's
PLAN_STATUS_SCHEMA = {"claim_id": pl.Int64, "plan_status": pl.String}
#: a claim that never had a payment plan
NO_PLAN = "none"


@dataclass(frozen=True)
class Inputs:
    """What allocation reads: the state as of ``as_of`` and what it is joined with."""

    as_of: date
    state: pl.DataFrame  # STATE_COLUMNS
    claims: pl.DataFrame  # CLAIM_COLUMNS
    debtors: pl.DataFrame  # DEBTOR_SCHEMA
    payments: pl.DataFrame  # PAYMENT_SCHEMA: payments not reversed
    plans: pl.DataFrame | None = None  # PLAN_STATUS_SCHEMA (None: no claim has a plan)
    _joined: dict = field(default_factory=dict, repr=False, compare=False)

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


def debtors_checked(debtors: pl.DataFrame) -> pl.DataFrame:
    """``debtors`` (DEBTOR_SCHEMA but the national id) with ``pesel_ok`` and ``nip_ok``: whether
    the national id is a valid PESEL, a valid NIP. Each check runs only on the ids of its length
    (11 digits, 10 digits; any other is neither), so each id is checked once at most, not twice
    per claim (``national_id_ok`` evaluates both branches on every row)."""
    nid = debtors["national_id"]
    length = nid.str.len_chars()

    def valid(size: int, problem) -> pl.Series:
        rows = (length == size).fill_null(False).arg_true()
        found = pl.Series(np.zeros(debtors.height, dtype=bool))
        if rows.len():
            checked = pl.select(problem(pl.lit(nid.gather(rows))).is_null()).to_series()
            found = found.scatter(rows, checked)
        return found

    return debtors.select(
        "debtor_id",
        "postal_code",
        "flags",
        pesel_ok=valid(11, pesel_problem),
        nip_ok=valid(10, nip_problem),
    )


def national_id_ok() -> pl.Expr:
    """Whether a debtor's national id is a valid PESEL (consumer) or NIP (business)."""
    nid = pl.col("national_id")
    pesel = pl.col("debtor_kind") == DebtorKind.CONSUMER.value
    return (
        nid.is_not_null() & pl.when(pesel).then(pesel_problem(nid).is_null()).otherwise(nip_problem(nid).is_null())
    ).fill_null(False)


def claim_frame(inputs: Inputs, day: date | None = None) -> pl.DataFrame:
    """One row per claim of the state as of ``day`` (default: the state's own day)."""
    return claim_frame_lazy(inputs, day).collect()


def claim_frame_lazy(inputs: Inputs, day: date | None = None) -> pl.LazyFrame:
    """``claim_frame`` not yet computed: a caller that selects a few columns computes only those."""
    day = day or inputs.as_of
    shift = (inputs.as_of - day).days
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
    return frame.with_columns(
        balance=pl.col("total_due"),
        principal=pl.col("principal_due"),
        days_past_due=pl.col("days_past_due") - shift,
        payments=pl.col("payments").fill_null(0),
        title=pl.col("title_date").is_not_null() & (pl.col("title_date") <= day),
    ).drop("total_due", "principal_due")
