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

from engine.domain import PAYMENTS_HORIZON_DAYS, DebtorKind, PlanStatus
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
#: PAID_SCHEMA's columns of the earlier day, in the joined frame only (not in a claim frame)
KEPT_ONLY = ("payments_before", "last_paid_before", "paid_since")
#: each claim's payment plan status (payments/plans): its active plan's, else its latest plan's
PLAN_STATUS_SCHEMA = {"claim_id": pl.Int64, "plan_status": pl.String}
#: a claim that never had a payment plan
NO_PLAN = "none"
#: a claim's plan status in the claim frame: an Enum (a small integer a claim, not a string)
PLAN_STATUS = pl.Enum([NO_PLAN, *(s.value for s in PlanStatus)])


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

    def paid_columns(self, day: date) -> dict[str, pl.Expr] | None:
        """The claim frame's payments, last_paid and (an earlier day) total_due as of ``day``, as
        expressions over the joined frame's PAID_SCHEMA columns; None when every payment is at
        hand (``paid`` None)."""
        if self.paid is None:
            return None
        shift = (self.as_of - day).days
        if shift == 0:
            return {"payments": pl.col("payments"), "last_paid": pl.col("last_paid")}
        if shift == PAYMENTS_HORIZON_DAYS:
            return {
                "payments": pl.col("payments_before"),
                "last_paid": pl.col("last_paid_before"),
                "total_due": pl.col("total_due") + pl.col("paid_since").fill_null(0),
            }
        raise ValueError(
            f"the payments read are kept for {self.as_of} and {PAYMENTS_HORIZON_DAYS} days before, not for {day}"
        )

    def paid_since(self, day: date) -> pl.Series | None:
        """What each claim of the joined frame paid after ``day`` up to ``as_of`` (0: nothing), from
        the kept counts; None when every payment is at hand or ``day`` is not the one they keep."""
        if self.paid is None or (self.as_of - day).days != PAYMENTS_HORIZON_DAYS:
            return None
        return self.joined()["paid_since"].fill_null(0)

    def joined(self) -> pl.DataFrame:
        """The state joined with its claims and debtors (the part of the claim frame that is the
        same for every day), with ``national_id_ok`` and ``plan_status``, and (``paid`` given) each
        claim's PAID_SCHEMA columns; made once.

        The state is by claim_id; every other frame's columns are gathered into its rows by
        ``rows_of`` (at 10M claims a hash join costs ~5 s of CPU, a gather a tenth of it)."""
        if "frame" not in self._joined:
            state = self.state.select(STATE_COLUMNS)
            ids = state["claim_id"]
            claims = self.claims.select(CLAIM_COLUMNS)
            if claims["claim_id"].equals(ids):  # the claims in the state's rows already (the whole book's, by id)
                claims = claims.drop("claim_id")
            else:
                claims = claims.drop("claim_id").select(pl.all().gather(rows_of(ids, claims["claim_id"])))
            debtors = debtors_checked(self.debtors)
            debtors = debtors.drop("debtor_id").select(
                pl.all().gather(rows_of(claims["debtor_id"], debtors["debtor_id"]))
            )
            plans = self.plans if self.plans is not None else pl.DataFrame(schema=PLAN_STATUS_SCHEMA)
            plan_status = plans["plan_status"].cast(PLAN_STATUS).gather(rows_of(ids, plans["claim_id"]))
            frame = (
                pl.concat([state, claims, debtors], how="horizontal")
                .with_columns(
                    flags=pl.col("flags").fill_null(pl.lit([], dtype=pl.List(pl.String))),
                    national_id_ok=pl.when(pl.col("debtor_kind") == DebtorKind.CONSUMER.value)
                    .then(pl.col("pesel_ok"))
                    .otherwise(pl.col("nip_ok"))
                    .fill_null(False),
                    plan_status=plan_status.fill_null(pl.lit(NO_PLAN, dtype=PLAN_STATUS)),
                )
                .drop("pesel_ok", "nip_ok")
            )
            if self.paid is not None:
                paid = self.paid.drop("claim_id").select(pl.all().gather(rows_of(ids, self.paid["claim_id"])))
                frame = frame.hstack(paid.get_columns())
            self._joined["frame"] = frame
        return self._joined["frame"]

    def with_paid(self, paid: pl.DataFrame) -> Inputs:
        """These inputs (made without ``paid``) with each paying claim's kept facts: the joined
        frame, made already or now, with PAID_SCHEMA's columns gathered into its rows."""
        if self.paid is not None:
            raise ValueError("with_paid: these inputs have their payments' facts already")
        joined = self.joined()
        rows = rows_of(joined["claim_id"], paid["claim_id"])
        found = replace(self, paid=paid, _joined={})
        found._joined["frame"] = joined.hstack(paid.drop("claim_id").select(pl.all().gather(rows)).get_columns())
        return found

    def joined_only(self) -> Inputs:
        """These inputs with the joined frame made and the state, claims and debtors it was made of
        let go (empty frames of their schemas): a large book then holds its claims once."""
        joined = self.joined()
        lean = replace(self, state=self.state.clear(), claims=self.claims.clear(), debtors=self.debtors.clear())
        lean._joined["frame"] = joined
        return lean


def rows_of(keys: pl.Series, targets: pl.Series) -> pl.Series:
    """For each of ``keys``, the row of ``targets`` that holds it, null where none: what a left
    join on these integer keys gathers by. ``targets`` must be unique (ValueError otherwise).

    Ids the store hands out are dense: they are looked up in an array indexed by the id (a
    perfect hash, ~10x cheaper than a join's at 10M keys); sparse ones (a range over four times
    the rows) by a join."""
    n = targets.len()
    if n == 0 or keys.len() == 0:
        return pl.repeat(None, keys.len(), dtype=pl.Int64, eager=True).rename("row")
    low, high = targets.min(), targets.max()
    if targets.null_count() or high - low + 1 > 4 * max(n, keys.len()) + 1024:
        other = pl.DataFrame({"key": targets, "row": pl.int_range(n, dtype=pl.Int64, eager=True)})
        if other["key"].is_duplicated().any():
            raise ValueError(f"rows_of: {targets.name!r} holds a key twice")
        found = keys.rename("key").to_frame().join(other, on="key", how="left", maintain_order="left")
        return found["row"]
    table = np.full(high - low + 1, -1, dtype=np.int64)
    table[targets.to_numpy() - low] = np.arange(n, dtype=np.int64)
    if np.count_nonzero(table >= 0) != n:
        raise ValueError(f"rows_of: {targets.name!r} holds a key twice")
    wanted = keys.fill_null(low - 1).to_numpy()
    inside = (wanted >= low) & (wanted <= high)
    rows = np.full(wanted.shape[0], -1, dtype=np.int64)
    rows[inside] = table[wanted[inside] - low]
    found = pl.Series("row", rows)
    return found.to_frame().select(pl.when(found >= 0).then(found)).to_series().rename("row")


def spread(values: pl.Series, where: pl.Series) -> pl.Series:
    """``values``, one for each true row of ``where`` in order, put at those rows (null at the
    others): what was computed for a few rows, back over all of them."""
    at = where.rename("where").to_frame().select(pl.when("where").then(pl.col("where").cum_sum() - 1)).to_series()
    return values.gather(at)


def debtors_checked(debtors: pl.DataFrame) -> pl.DataFrame:
    """``debtors`` (DEBTOR_SCHEMA but the national id) with ``pesel_ok`` and ``nip_ok``: whether
    the national id is a valid PESEL, a valid NIP — ingest.identifiers' ``pesel_problem`` and
    ``nip_problem`` (stdnum's rules) being null, tests/allocation/test_identifiers.py holds them
    equal. Each check runs only on the ids of its length (11 bytes, 10 bytes; any other is
    neither), on their bytes as a matrix of digits (numpy, no text slicing)."""
    nid = debtors["national_id"]
    return debtors.select(
        "debtor_id",
        "postal_code",
        "flags",
        pesel_ok=_valid(nid, 11, _pesel_valid),
        nip_ok=_valid(nid, 10, _nip_valid),
    )


def _valid(ids: pl.Series, size: int, check) -> pl.Series:
    """Whether each of ``ids`` is ``size`` ASCII digits that pass ``check`` (digits -> bools)."""
    from polars.interchange.protocol import CompatLevel

    found = np.zeros(ids.len(), dtype=bool)
    rows = (ids.str.len_bytes() == size).fill_null(False).arg_true()
    if rows.len():
        chosen = ids.gather(rows).to_arrow(compat_level=CompatLevel.oldest())  # large_string: offsets, bytes
        offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int64)[chosen.offset : chosen.offset + len(chosen) + 1]
        text = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        digits = np.ascontiguousarray(text.reshape(-1, size).T).astype(np.int16) - ord("0")  # a row per position
        ok = ((digits >= 0) & (digits <= 9)).all(axis=0) & check(digits)
        found[rows.to_numpy()] = ok
    return pl.Series(found)


def _pesel_valid(d: np.ndarray) -> np.ndarray:
    """An 11-digit PESEL's check digit and birth date (month + 20/40/60/80: 2000s/2100s/2200s/1800s);
    ``d``: the digits, a row per position."""
    check = (10 - sum(d[i] * w for i, w in enumerate(PESEL_WEIGHTS)) % 10) % 10
    coded = d[2] * 10 + d[3]
    century = np.select([coded < 20, coded < 40, coded < 60, coded < 80], [1900, 2000, 2100, 2200], 1800)
    year = century + d[0] * 10 + d[1]
    month, day = coded % 20, d[4] * 10 + d[5]
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0, 0, 0, 0, 0, 0, 0], dtype=np.int16)[month]
    days = days + ((month == 2) & leap)
    return (check == d[10]) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days)


def _nip_valid(d: np.ndarray) -> np.ndarray:
    """A 10-digit NIP's check digit (the weighted sum mod 11; 10 is no digit: never valid)."""
    return sum(d[i] * w for i, w in enumerate(NIP_WEIGHTS)) % 11 == d[9]


def claim_frame(inputs: Inputs, day: date | None = None) -> pl.DataFrame:
    """One row per claim of the state as of ``day`` (default: the state's own day)."""
    return claim_frame_lazy(inputs, day).collect()


def claim_frame_lazy(inputs: Inputs, day: date | None = None) -> pl.LazyFrame:
    """``claim_frame`` not yet computed: a caller that selects a few columns computes only those."""
    day = day or inputs.as_of
    shift = (inputs.as_of - day).days
    kept = inputs.paid_columns(day)
    if kept is not None:  # the same columns, from the counts the run kept (in the joined frame)
        frame = inputs.joined().lazy().with_columns(**kept).drop(KEPT_ONLY)
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
