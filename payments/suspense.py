"""The suspense queue: credits nobody's yet, kept until a person decides (never lost).

A line in suspense (``statement_lines.status = open``) may name a candidate claim (the payer's name
and the amount fit one open claim): it is still posted only when a person says so. ``assign`` posts
the credit to a claim (one ``payment`` event) or to a debtor (split over the debtor's open claims
by the rule), ``refund`` records that the money goes back to the payer; both are audited with who
decided and their note. A return of the credit in a later statement closes it too (``returned``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa

from engine.domain import EventKind, LineStatus, MatchedBy, SplitRule
from engine.errors import InputError, NotFound
from engine.store.bulk import read_frame, write_frame
from engine.store.models import StatementLine
from engine.store.records import AuditAction, actor, audit, write_events
from payments import repository
from payments.split import split

SOURCE = "direct"

SUSPENSE_SCHEMA = {
    "line_id": pl.Int64(),
    "bank_account": pl.String(),
    "bank_ref": pl.String(),
    "booking_date": pl.Date(),
    "amount": pl.Int64(),
    "title": pl.String(),
    "counterparty_name": pl.String(),
    "counterparty_account": pl.String(),
    "virtual_account": pl.String(),
    "status": pl.String(),
    "reason": pl.String(),
    "candidate_claim_id": pl.Int64(),
    "debtor_id": pl.Int64(),
    "import_id": pl.Int64(),
    "resolved_by": pl.String(),
    "note": pl.String(),
}
#: what `cession suspense list --status` takes: a line's status in suspense, or every one of them
SUSPENSE_STATUSES = ("open", "assigned", "refunded", "returned", "all")


def lines(conn: sa.Connection, *, status: str = "open", bank_account: str | None = None) -> pl.DataFrame:
    """The credits that went to suspense (``status``: open, assigned, refunded, returned or all),
    oldest first."""
    if status not in SUSPENSE_STATUSES:
        raise InputError(f"--status {status!r}: one of {', '.join(SUSPENSE_STATUSES)}")
    where = ["direction = 'credit'", "(matched_by IS NULL OR matched_by = 'person')"]
    params: dict = {}
    if status != "all":
        where.append("status = :status")
        params["status"] = status
    else:
        where.append("status IN ('open', 'assigned', 'refunded', 'returned')")
    if bank_account is not None:
        where.append("bank_account = :account")
        params["account"] = bank_account
    listed = ", ".join(SUSPENSE_SCHEMA)
    query = f"SELECT {listed} FROM statement_lines WHERE {' AND '.join(where)} ORDER BY booking_date, line_id"
    return read_frame(conn, query, SUSPENSE_SCHEMA, params)


def _open_line(conn: sa.Connection, line_id: int) -> dict:
    table = StatementLine.__table__
    row = conn.execute(sa.select(table).where(table.c.line_id == line_id)).mappings().first()
    if row is None:
        raise NotFound(f"statement line {line_id}: no such line")
    if row["direction"] != "credit" or row["matched_by"] not in (None, MatchedBy.PERSON.value):
        raise InputError(
            f"statement line {line_id}: not in suspense (it was posted when imported: {row['matched_by']})"
        )
    if row["status"] != LineStatus.OPEN.value:
        raise InputError(
            f"statement line {line_id}: no longer open in suspense ({row['status']} by {row['resolved_by']})"
        )
    return dict(row)


def assign(
    engine: sa.Engine,
    line_id: int,
    *,
    claim_id: int | None = None,
    debtor_id: int | None = None,
    rule: SplitRule = SplitRule.OLDEST_DUE_FIRST,
    note: str | None = None,
    who: str | None = None,
) -> pl.DataFrame:
    """Post the suspense line ``line_id`` to ``claim_id`` (all of it) or to ``debtor_id`` (split
    over the debtor's open claims by ``rule``); the events written (event_id, claim_id, amount)."""
    if (claim_id is None) == (debtor_id is None):
        raise InputError("give --claim ID or --debtor ID (one of them)")
    who = who or actor()
    with engine.begin() as conn:
        repository.lock_imports(conn)
        line = _open_line(conn, line_id)
        if claim_id is not None:
            found = repository.claims_by_id(conn, pl.DataFrame({"position": [1], "claim_id": [claim_id]}))
            if found.height == 0:
                raise NotFound(f"--claim {claim_id}: no such claim in the store")
            debtor = int(found["debtor_id"][0])
            parts = pl.DataFrame(
                {"claim_id": [claim_id], "amount": [line["amount"]]}, schema={"claim_id": pl.Int64, "amount": pl.Int64}
            )
        else:
            balances = repository.open_balances(conn, pl.Series([debtor_id], dtype=pl.Int64))
            open_claims = balances.filter(pl.col("balance") > 0)
            if balances.height == 0:
                raise NotFound(f"--debtor {debtor_id}: no claim of this debtor in the store")
            if open_claims.height == 0:
                raise InputError(f"--debtor {debtor_id}: no open claim; give --claim ID to post to one of its claims")
            payment = pl.DataFrame(
                {
                    "position": [1],
                    "group": [debtor_id],
                    "amount": [line["amount"]],
                    "booking_date": [line["booking_date"]],
                },
                schema={"position": pl.Int64, "group": pl.Int64, "amount": pl.Int64, "booking_date": pl.Date},
            )
            claims = open_claims.select(pl.col("debtor_id").alias("group"), "claim_id", "due_date", "balance")
            parts = split(payment, claims, rule).select("claim_id", "amount")
            debtor = debtor_id
        key = f"bank:{line['bank_account']}:{line['bank_ref']}"
        parts = parts.with_columns(
            event_id=repository.next_ids(conn, "events", "event_id", parts.height),
            idempotency_key=pl.lit(key)
            if parts.height == 1
            else pl.lit(key + "#") + pl.col("claim_id").cast(pl.String),
        )
        written = write_events(
            conn,
            parts.select(
                "event_id",
                "claim_id",
                event_date=pl.lit(line["booking_date"], pl.Date),
                kind=pl.lit(EventKind.PAYMENT.value),
                amount="amount",
                reverses=pl.lit(None, pl.Int64),
                source=pl.lit(SOURCE),
                idempotency_key="idempotency_key",
            ),
        )
        if written.inserted != parts.height:
            raise InputError(f"statement line {line_id}: its payment is stored already ({key})")
        write_frame(
            conn,
            "statement_line_events",
            parts.select(pl.lit(line_id, pl.Int64).alias("line_id"), "event_id", "claim_id", "amount"),
        )
        table = StatementLine.__table__
        conn.execute(
            sa.update(table)
            .where(table.c.line_id == line_id)
            .values(
                status=LineStatus.ASSIGNED.value,
                matched_by=MatchedBy.PERSON.value,
                debtor_id=debtor,
                split_rule=rule.value if claim_id is None else None,
                resolved_at=datetime.now(UTC),
                resolved_by=who,
                note=note,
            )
        )
        audit(
            conn,
            AuditAction.SUSPENSE_ASSIGN,
            f"statement_line:{line_id}",
            {
                "claim_id": claim_id,
                "debtor_id": debtor_id,
                "rule": rule.value if claim_id is None else None,
                "candidate_claim_id": line["candidate_claim_id"],
                "events": parts.select("event_id", "claim_id", "amount").to_dicts(),
                "note": note,
            },
            who,
        )
    return parts.select("event_id", "claim_id", "amount")


def refund(engine: sa.Engine, line_id: int, *, note: str | None = None, who: str | None = None) -> dict:
    """Record that the suspense line ``line_id`` is sent back to its payer (no event: it was
    nobody's); the line as it now stands."""
    who = who or actor()
    with engine.begin() as conn:
        repository.lock_imports(conn)
        line = _open_line(conn, line_id)
        table = StatementLine.__table__
        conn.execute(
            sa.update(table)
            .where(table.c.line_id == line_id)
            .values(status=LineStatus.REFUNDED.value, resolved_at=datetime.now(UTC), resolved_by=who, note=note)
        )
        audit(
            conn,
            AuditAction.SUSPENSE_REFUND,
            f"statement_line:{line_id}",
            {"amount": line["amount"], "to_account": line["counterparty_account"], "note": note},
            who,
        )
    return line | {"status": LineStatus.REFUNDED.value, "resolved_by": who, "note": note}
