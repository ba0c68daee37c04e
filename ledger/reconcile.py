"""The journal against what it comes from, per portfolio, to the grosz; a difference is reported
with the claims behind it, never hidden.

| check | the journal's | against |
|---|---|---|
| ``collections`` | cash of collections less reversed collections | the payments less reversals of the events for the period: every payment's amount times (counted at the end - counted at the start), from the events alone |
| ``interest`` | interest recognised | the change in ``interest_accrued`` between the engine's two states |
| ``costs`` | costs advanced less reversed | the cost events counted at the end less those at the start |
| ``balances`` | the movement of the three receivable accounts | the change in principal, interest and costs due between the two states (a claim bought in the period: from nothing) |
| ``balanced`` | debits | credits (every transaction is checked before it is written; here the total) |
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from ledger.chart import Chart, Role
from ledger.movements import Movements, counted

CHECKS = ("collections", "interest", "costs", "balances", "balanced")
#: claims listed per check and portfolio (the rest are counted)
CLAIMS_LISTED = 20


@dataclass
class Reconciliation:
    """Per check and portfolio: the journal's figure, the other side's, the difference and the
    claims behind it (``rows``); ``ok`` when every difference is 0."""

    rows: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def differences(self) -> list[dict]:
        """Rows with a difference in total or on any claim (claims may differ both ways and add to 0)."""
        return [r for r in self.rows if r["difference"] != 0 or r["claims_off"]]


def reconcile(movements: Movements, lines: pl.DataFrame, chart: Chart, events: pl.DataFrame) -> Reconciliation:
    """``lines`` (the period's journal) against ``events`` (``movements.timeline`` of the book) and
    the engine's states in ``movements``."""
    m = movements
    b = m.period.last
    claims = m.claims.select("claim_id", "portfolio_id", "purchased")
    on_book = events.join(m.claims.select("claim_id"), on="claim_id", how="semi")

    def moved(kind: str) -> pl.DataFrame:
        """Per claim: amount counted at the end less at the start, of ``kind`` events."""
        x = on_book.filter(pl.col("kind") == kind).with_columns(
            v=pl.col("amount") * (counted(b).cast(pl.Int64) - counted(m.period.before).cast(pl.Int64))
        )
        return x.group_by("claim_id").agg(other=pl.col("v").sum())

    cash = chart.number(Role.CASH)
    receivable = {chart.number(r) for r in (Role.RECEIVABLE_PRINCIPAL, Role.RECEIVABLE_INTEREST, Role.RECEIVABLE_COSTS)}
    income = chart.number(Role.INTEREST_INCOME)
    signed = pl.col("debit") - pl.col("credit")

    def journal(where: pl.Expr, sign: int = 1) -> pl.DataFrame:
        return lines.filter(where).group_by("claim_id").agg(mine=sign * signed.sum())

    collection_tx = (pl.col("kind") == "collection") | (
        (pl.col("kind") == "reversal") & pl.col("memo").str.starts_with("reversal of payment")
    )
    cost_tx = (pl.col("kind") == "cost") | (
        (pl.col("kind") == "reversal") & pl.col("memo").str.starts_with("reversal of cost")
    )
    states = m.states.with_columns(
        [pl.col(f"{c}_open").fill_null(0) for c in ("accrued", "principal_due", "interest_due", "costs_due")]
    )
    # a claim bought in the period starts from nothing; one bought later is not on the book
    start = pl.when(pl.col("claim_id").is_in(claims.filter(pl.col("purchased")).get_column("claim_id").implode()))
    balance_move = states.select(
        "claim_id",
        other=(pl.col("principal_due") + pl.col("interest_due") + pl.col("costs_due"))
        - start.then(0).otherwise(
            pl.col("principal_due_open") + pl.col("interest_due_open") + pl.col("costs_due_open")
        ),
    )
    accrual = states.select("claim_id", other=pl.col("accrued") - start.then(0).otherwise(pl.col("accrued_open")))
    checks = {
        "collections": (journal((pl.col("account") == cash) & collection_tx), moved("payment")),
        "interest": (journal((pl.col("account") == income) & (pl.col("kind") == "interest"), -1), accrual),
        "costs": (journal((pl.col("account") == cash) & cost_tx, -1), moved("cost")),
        "balances": (journal(pl.col("account").is_in(list(receivable)) & (pl.col("kind") != "purchase")), balance_move),
    }
    # purchases bring the cut-off balances; the balances' check compares movements after them
    bought = m.claims.filter(pl.col("purchased")).select(
        "claim_id", nominal=pl.col("principal") + pl.col("interest_at_cutoff") + pl.col("costs_at_cutoff")
    )
    rows = []
    for check, (mine, other) in checks.items():
        if check == "balances":
            other = other.join(bought, on="claim_id", how="left").select(
                "claim_id", other=pl.col("other") - pl.col("nominal").fill_null(0)
            )
        both = (
            claims.select("claim_id", "portfolio_id")
            .join(mine, on="claim_id", how="left")
            .join(other, on="claim_id", how="left")
            .with_columns(pl.col("mine", "other").fill_null(0))
            .with_columns(difference=pl.col("mine") - pl.col("other"))
        )
        per = both.group_by("portfolio_id").agg(
            journal=pl.col("mine").sum(),
            other=pl.col("other").sum(),
            difference=pl.col("difference").sum(),
            claims=pl.col("claim_id").filter(pl.col("difference") != 0).sort().head(CLAIMS_LISTED),
            claims_off=(pl.col("difference") != 0).sum(),
        )
        for r in per.sort("portfolio_id").iter_rows(named=True):
            if r["journal"] == 0 and r["other"] == 0 and r["claims_off"] == 0:
                continue
            rows.append(
                {
                    "check": check,
                    "portfolio_id": r["portfolio_id"],
                    "journal": r["journal"],
                    "other": r["other"],
                    "difference": r["difference"],
                    "claims": list(r["claims"]),
                    "claims_off": r["claims_off"],
                }
            )
    # the total of each portfolio, and the claims of any transaction that does not balance
    off = (
        lines.group_by("portfolio_id", "claim_id", "tx_id")
        .agg(o=signed.sum())
        .filter(pl.col("o") != 0)
        .group_by("portfolio_id")
        .agg(claims=pl.col("claim_id").unique().sort().head(CLAIMS_LISTED), claims_off=pl.col("claim_id").n_unique())
    )
    per = (
        lines.group_by("portfolio_id")
        .agg(journal=pl.col("debit").sum(), other=pl.col("credit").sum())
        .join(off, on="portfolio_id", how="left")
    )
    for r in per.sort("portfolio_id").iter_rows(named=True):
        rows.append(
            {
                "check": "balanced",
                "portfolio_id": r["portfolio_id"],
                "journal": r["journal"],
                "other": r["other"],
                "difference": r["journal"] - r["other"],
                "claims": list(r["claims"] or []),
                "claims_off": r["claims_off"] or 0,
            }
        )
    return Reconciliation(rows)
