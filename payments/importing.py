"""A bank statement into the store, in one transaction: every line ends up posted (``payment``
events, or the ``reversal`` events of a return), in suspense, or refused with its reason, and
posted + suspense + refused = lines read is checked before the commit. A killed import leaves
nothing; the same statement imported again posts nothing new (each line is stored once per account
and bank reference, and each event's idempotency key is the bank's reference) and refuses what it
refused then, for the reason given then (a refused line is looked up by its reference in
``statement_refusals``, not judged again).

Idempotency keys (docs/payments.md): ``bank:<account>:<bank_ref>`` for a line that paid one claim,
``bank:<account>:<bank_ref>#<claim_id>`` for each part of a line split over several claims, and
``bank:<account>:<return's bank_ref>#<event_id>`` for the reversal of each event a return takes back.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import sqlalchemy as sa

from engine.domain import EventKind, LineStatus, MatchedBy, SplitRule
from engine.errors import InputError
from engine.store.bulk import is_postgres, write_frame
from engine.store.records import AuditAction, actor, audit, write_events
from payments import repository
from payments.matching import match_credits, title_tokens
from payments.statements.lines import CREDIT, DEBIT, Statement

log = logging.getLogger(__name__)
col = pl.col

#: the events' ``source`` of money paid straight to the fund (docs/data-contract.md)
SOURCE = "direct"
CURRENCY = "PLN"
#: an event's idempotency key is at most 200 characters: the bank's reference at most this
MAX_REF = 140
#: statuses of a stored line that count it as posted (else it is in suspense)
POSTED_STATUSES = (LineStatus.POSTED.value, LineStatus.ASSIGNED.value)

OUTCOME_SCHEMA = {
    "position": pl.Int64(),
    "bank_ref": pl.String(),
    "booking_date": pl.Date(),
    "amount": pl.Int64(),
    "direction": pl.String(),
    "outcome": pl.String(),  # posted | suspense | refused
    "already": pl.Boolean(),  # stored by an earlier import: nothing new
    "line_id": pl.Int64(),
    "status": pl.String(),
    "matched_by": pl.String(),
    "debtor_id": pl.Int64(),
    "candidate_claim_id": pl.Int64(),
    "reason": pl.String(),
}
PARTS_SCHEMA = {
    "position": pl.Int64(),
    "line_id": pl.Int64(),
    "event_id": pl.Int64(),
    "claim_id": pl.Int64(),
    "kind": pl.String(),
    "amount": pl.Int64(),
}


@dataclass(frozen=True)
class ImportReport:
    """What an import did: counts, and every line's outcome (``outcomes``) and events (``parts``)."""

    statement: Statement
    import_id: int
    split_rule: SplitRule
    outcomes: pl.DataFrame
    parts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PARTS_SCHEMA))

    def count(self, outcome: str) -> int:
        return self.outcomes.filter(col("outcome") == outcome).height

    def amount(self, outcome: str) -> int:
        """The lines' money (grosz): credits in, debits (returns, fees) out, as a negative."""
        lines = self.outcomes.filter(col("outcome") == outcome)
        signed = pl.when(col("direction") == DEBIT).then(-col("amount")).otherwise(col("amount"))
        return int(lines.select(signed.fill_null(0).sum()).item())

    @property
    def lines_read(self) -> int:
        return self.statement.lines.height

    @property
    def already(self) -> int:
        return int(self.outcomes.get_column("already").sum())

    def by_match(self) -> dict[str, int]:
        posted = self.outcomes.filter((col("outcome") == "posted") & ~col("already"))
        return {k: n for k, n in posted.group_by("matched_by").len().sort("matched_by").iter_rows() if k is not None}

    def summary(self) -> dict:
        s = self.statement
        return {
            "import_id": self.import_id,
            "file": str(s.file),
            "format": s.format,
            "bank_account": s.bank_account,
            "statement_ref": s.statement_ref,
            "sha256": s.sha256,
            "split_rule": self.split_rule.value,
            "lines_read": self.lines_read,
            "posted": self.count("posted"),
            "suspense": self.count("suspense"),
            "refused": self.count("refused"),
            "already_imported": self.already,
            "events": self.parts.height,
            "candidates": self.outcomes.filter(col("candidate_claim_id").is_not_null()).height,
            "posted_amount": _pln(self.amount("posted")),
            "suspense_amount": _pln(self.amount("suspense")),
            "refused_amount": _pln(self.amount("refused")),
            "by_match": self.by_match(),
        }


def _pln(grosz: int) -> str:
    sign = "-" if grosz < 0 else ""
    return f"{sign}{abs(grosz) // 100}.{abs(grosz) % 100:02d}"


def import_statement(
    engine: sa.Engine, statement: Statement, *, rule: SplitRule = SplitRule.OLDEST_DUE_FIRST, who: str | None = None
) -> ImportReport:
    """Import ``statement`` (see the module); one transaction."""
    who = who or actor()
    account = statement.bank_account
    lines = statement.lines
    step = _Steps()
    with engine.begin() as conn:
        repository.lock_imports(conn)
        import_id = _start(conn, statement, rule, who)
        stored, refused_before = repository.seen_before(conn, account, lines.get_column("bank_ref"))
        step("lines stored or refused before looked up")
        f = lines.join(stored, on="bank_ref", how="left").join(refused_before, on="bank_ref", how="left")
        f = f.with_columns(
            first=col("position").min().over("bank_ref"),
        )
        reason = (
            pl.when(col("problem").is_not_null())
            .then(col("problem"))
            .when(col("position") != col("first"))
            .then(pl.lit("the same bank reference as line ") + col("first").cast(pl.String) + pl.lit(" of the file"))
            .when(col("line_id").is_not_null())
            .then(None)
            .when(col("refused_before").is_not_null())
            .then(col("refused_before"))  # judged once: refused again as then, whatever came in since
            .when(col("bank_ref").str.len_chars() > MAX_REF)
            .then(pl.lit(f"a bank reference longer than {MAX_REF} characters"))
            .when(col("currency").is_not_null() & (col("currency") != CURRENCY))
            .then(pl.lit("a line in ") + col("currency") + pl.lit(f": Cession posts {CURRENCY}"))
            .when(col("booking_date").is_null())
            .then(pl.lit("no booking date"))
            .when((col("direction") == DEBIT) & ~col("is_return").fill_null(False))
            .then(pl.lit("a debit that is not a return of a credit (a fee, a transfer out): not a debtor's payment"))
        )
        f = f.with_columns(refusal=reason)
        already = f.filter(col("refusal").is_null() & col("line_id").is_not_null())
        new = f.filter(col("refusal").is_null() & col("line_id").is_null()).drop(
            "line_id", "status", "matched_by", "debtor_id", "candidate_claim_id"
        )
        outcomes = [
            f.filter(col("refusal").is_not_null()).select(
                *_base(),
                outcome=pl.lit("refused"),
                already=col("refused_before").is_not_null() | col("line_id").is_not_null(),
                reason="refusal",
            ),
            already.select(
                *_base(),
                "line_id",
                "status",
                "matched_by",
                "debtor_id",
                "candidate_claim_id",
                # posted when it was: matched then (a person's assignment came later, out of suspense)
                outcome=pl.when(col("matched_by").is_not_null() & (col("matched_by") != MatchedBy.PERSON.value))
                .then(pl.lit("posted"))
                .otherwise(pl.lit("suspense")),
                already=pl.lit(True),
                reason=pl.lit("imported before: nothing new"),
            ),
        ]
        credits = new.filter(col("direction") == CREDIT)
        credit_outcomes, credit_parts = _credits(conn, import_id, account, credits, rule, step)
        return_outcomes, return_parts = _returns(
            conn,
            import_id,
            account,
            new.filter(col("is_return") & (col("direction") == DEBIT)),
            f.select("bank_ref", "position", "direction"),
        )
        step("returns matched and written")
        outcomes += [credit_outcomes, return_outcomes]
        outcome = pl.concat(
            [o.select(pl.col(c).cast(t) for c, t in OUTCOME_SCHEMA.items() if c in o.columns) for o in outcomes],
            how="diagonal",
        )
        outcome = outcome.select(
            (col(c) if c in outcome.columns else pl.lit(None)).cast(t).alias(c) for c, t in OUTCOME_SCHEMA.items()
        ).sort("position")
        parts = pl.concat([credit_parts, return_parts]).sort("position", "event_id")
        report = ImportReport(statement, import_id, rule, outcome, parts)
        _check_every_line(report)
        _finish(conn, report, who)
        step("refusals and the import's counts written")
    step("committed")
    log.info(
        "imported %s: %d lines, %d posted, %d suspense, %d refused, %d already",
        statement.file,
        report.lines_read,
        report.count("posted"),
        report.count("suspense"),
        report.count("refused"),
        report.already,
    )
    return report


class _Steps:
    """Logs how long each step of an import took (`cession -v`)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.2f s", what, now - self.last)
        self.last = now


def _base() -> list[pl.Expr]:
    return [col("position"), col("bank_ref"), col("booking_date"), col("amount"), col("direction")]


def _start(conn: sa.Connection, statement: Statement, rule: SplitRule, who: str) -> int:
    from engine.store.models import StatementImport

    table = StatementImport.__table__
    return conn.execute(
        sa.insert(table)
        .values(
            bank_account=statement.bank_account,
            file_name=str(statement.file)[-500:],
            content_sha256=statement.sha256,
            format=statement.format,
            statement_ref=statement.statement_ref,
            imported_at=datetime.now(UTC),
            actor=who,
            split_rule=rule.value,
            lines_read=statement.lines.height,
            posted=0,
            suspense=0,
            refused=0,
            already=0,
            events=0,
        )
        .returning(table.c.import_id)
    ).scalar_one()


def _line_rows(lines: pl.DataFrame, import_id: int, account: str) -> pl.DataFrame:
    """New lines as statement_lines rows (line_id, status and the match columns already on them)."""
    from engine.store.models import StatementLine

    columns = [c.name for c in StatementLine.__table__.columns]
    frame = lines.with_columns(import_id=pl.lit(import_id, pl.Int64), bank_account=pl.lit(account))
    return frame.select(c for c in columns if c in frame.columns)


def _events(conn: sa.Connection, parts: pl.DataFrame) -> pl.DataFrame:
    """Write ``parts`` (line_id, claim_id, event_date, kind, amount, reverses, idempotency_key) as
    events with new ids, and the statement_line_events that record them: parts with event_id."""
    if parts.height == 0:
        return parts.with_columns(event_id=pl.lit(None, pl.Int64))
    parts = parts.with_columns(event_id=repository.next_ids(conn, "events", "event_id", parts.height))
    # in claim order: each claim's index entries go in together (not one at random per row)
    written = write_events(
        conn,
        parts.sort("claim_id", "event_id").select(
            "event_id",
            "claim_id",
            "event_date",
            "kind",
            "amount",
            "reverses",
            source=pl.lit(SOURCE),
            idempotency_key="key",
        ),
    )
    if written.inserted != parts.height:
        shown = "; ".join(f"{r['key']}: {r['reason']}" for r in written.rejects.head(3).iter_rows(named=True))
        raise InputError(
            f"{parts.height - written.inserted} of the statement's {parts.height} events could not be stored "
            f"({shown or 'their idempotency keys are stored already'}); nothing was imported"
        )
    write_frame(
        conn,
        "statement_line_events",
        parts.select("line_id", "event_id", "claim_id", amount=pl.coalesce("amount", "taken_back")),
    )
    return parts


def _credits(
    conn: sa.Connection, import_id: int, account: str, credits: pl.DataFrame, rule: SplitRule, step: _Steps
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if credits.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA), pl.DataFrame(schema=PARTS_SCHEMA)
    matched = match_credits(conn, credits, rule, step)
    step("credits split")
    lines = credits.join(matched.lines, on="position").with_columns(
        line_id=repository.next_ids(conn, "statement_lines", "line_id", credits.height)
    )
    write_frame(conn, "statement_lines", _line_rows(lines, import_id, account))
    step("credit lines written")
    parts = matched.parts.join(lines.select("position", "line_id", "bank_ref", "booking_date"), on="position")
    parts = parts.with_columns(n=pl.len().over("position"))
    key = pl.lit(f"bank:{account}:") + col("bank_ref")
    parts = _events(
        conn,
        parts.select(
            "position",
            "line_id",
            "claim_id",
            "amount",
            event_date="booking_date",
            kind=pl.lit(EventKind.PAYMENT.value),
            reverses=pl.lit(None, pl.Int64),
            key=pl.when(col("n") == 1).then(key).otherwise(key + "#" + col("claim_id").cast(pl.String)),
            taken_back=pl.lit(None, pl.Int64),
        ),
    )
    step("payment events written")
    outcomes = lines.select(
        *_base(),
        "line_id",
        "status",
        "matched_by",
        "debtor_id",
        "candidate_claim_id",
        "reason",
        outcome=pl.when(col("status") == LineStatus.POSTED.value).then(pl.lit("posted")).otherwise(pl.lit("suspense")),
        already=pl.lit(False),
    )
    return outcomes, parts.select(*PARTS_SCHEMA)


def _returns(
    conn: sa.Connection, import_id: int, account: str, returns: pl.DataFrame, file_lines: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each return matched to the credit it gives back: by the reference the bank names
    (``return_of``), then the end-to-end id, then a stored reference written in the title, and for
    a bank that gives no references, the latest credit of the same amount from the same payer
    account booked on the return's day or before (not returned yet). A posted credit's events are
    reversed; a credit in suspense leaves it (``returned``; the return is ``settled``); anything
    else is refused with the reason. A return whose ``return_of`` names a line that is no credit
    (a debit: another return, a fee), or a credit of this file that is refused, is refused: it is
    never matched by payer instead. ``file_lines``: (bank_ref, position, direction) of the file."""
    if returns.height == 0:
        return pl.DataFrame(schema=OUTCOME_SCHEMA), pl.DataFrame(schema=PARTS_SCHEMA)
    named = returns.drop_nulls("return_of").select("position", ref="return_of")
    by_ref_any = repository.lines_by_refs(conn, account, named)
    by_ref = by_ref_any.filter(col("direction") == CREDIT).with_columns(rank=pl.lit(1))
    no_credit = _names_no_credit(named, by_ref_any, file_lines)
    by_e2e = repository.lines_by_end_to_end(
        conn, account, returns.drop_nulls("end_to_end_id").select("position", ref="end_to_end_id")
    ).with_columns(rank=pl.lit(2))
    by_title = repository.lines_by_refs(conn, account, title_tokens(returns).rename({"token": "ref"})).with_columns(
        rank=pl.lit(3)
    )
    # no reference found (a CSV export): the latest credit of the same amount from the same payer
    # account (looked up only for the returns the references did not find: those rank first)
    referenced = pl.concat([by_ref, by_e2e, by_title], how="diagonal_relaxed")
    referenced = pl.concat(
        [referenced.filter(col("direction") == CREDIT).get_column("position"), no_credit.get_column("position")]
    )
    by_payer = repository.credits_by_payer(
        conn,
        account,
        returns.drop_nulls("counterparty_account")
        .filter(~col("position").is_in(referenced.implode()))
        .select("position", "counterparty_account", "amount", "booking_date"),
    )
    by_payer = by_payer.sort("booking_date", "line_id").group_by("position").last().drop("booking_date")
    found = pl.concat([by_ref, by_e2e, by_title, by_payer.with_columns(rank=pl.lit(4))], how="diagonal_relaxed")
    found = found.filter(col("direction") == CREDIT)
    found = found.filter(col("rank") == col("rank").min().over("position"))
    found = found.unique(["position", "line_id"]).with_columns(several=pl.len().over("position") > 1)
    f = returns.join(
        found.select(
            "position",
            "several",
            reverses_line_id="line_id",
            original_ref="bank_ref",
            original_amount=col("amount"),
            original_status="status",
        ),
        on="position",
        how="left",
    ).join(no_credit, on="position", how="left")
    f = f.with_columns(earlier=col("position").min().over("reverses_line_id"))
    refusal = (
        pl.when(col("no_credit").is_not_null())
        .then(col("no_credit"))
        .when(col("reverses_line_id").is_null())
        .then(pl.lit("a return of a credit not found in any imported statement of this account"))
        .when(col("several"))
        .then(pl.lit("a return that names several credits"))
        .when(col("earlier") != col("position"))
        .then(pl.lit("a second return of the credit ") + col("original_ref") + pl.lit(" in this file"))
        .when(col("original_amount") != col("amount"))
        .then(
            pl.lit("a return of ")
            + col("amount").cast(pl.String)
            + pl.lit(" gr of a credit of ")
            + col("original_amount").cast(pl.String)
            + pl.lit(" gr (")
            + col("original_ref")
            + pl.lit("): a partial return is not posted; a person decides")
        )
        .when(col("original_status") == LineStatus.REFUNDED.value)
        .then(pl.lit("the credit ") + col("original_ref") + pl.lit(" was refunded by a person already"))
        .when(col("original_status").is_in([LineStatus.RETURNED.value, LineStatus.SETTLED.value]))
        .then(pl.lit("the credit ") + col("original_ref") + pl.lit(" was returned already"))
    )
    f = f.with_columns(refusal=refusal)
    # a return naming several credits joined one row per credit: refused once
    refused = (
        f.filter(col("refusal").is_not_null())
        .unique("position", keep="first")
        .select(*_base(), outcome=pl.lit("refused"), already=pl.lit(False), reason="refusal")
    )
    ok = f.filter(col("refusal").is_null() & col("no_credit").is_null())
    ok = ok.with_columns(
        posted=col("original_status").is_in(POSTED_STATUSES),
        line_id=repository.next_ids(conn, "statement_lines", "line_id", ok.height),
    ).with_columns(
        status=pl.when(col("posted")).then(pl.lit(LineStatus.POSTED.value)).otherwise(pl.lit(LineStatus.SETTLED.value)),
        matched_by=pl.when(col("posted")).then(pl.lit(MatchedBy.RETURN.value)),
        reason=pl.when(~col("posted")).then(
            pl.lit("returns the credit ") + col("original_ref") + pl.lit(" that was in suspense")
        ),
    )
    write_frame(conn, "statement_lines", _line_rows(ok, import_id, account))
    _set_status(conn, ok.get_column("reverses_line_id"), LineStatus.RETURNED)
    taken = repository.events_of_lines(conn, ok.filter(col("posted")).get_column("reverses_line_id"))
    parts = taken.rename({"line_id": "reverses_line_id", "event_id": "reverses", "amount": "taken_back"}).join(
        ok.select("position", "line_id", "bank_ref", "booking_date", "reverses_line_id"), on="reverses_line_id"
    )
    parts = _events(
        conn,
        parts.select(
            "position",
            "line_id",
            "claim_id",
            amount=pl.lit(None, pl.Int64),
            event_date="booking_date",
            kind=pl.lit(EventKind.REVERSAL.value),
            reverses="reverses",
            key=pl.lit(f"bank:{account}:") + col("bank_ref") + "#" + col("reverses").cast(pl.String),
            taken_back="taken_back",
        ),
    )
    outcomes = ok.select(
        *_base(),
        "line_id",
        "status",
        "matched_by",
        "reason",
        outcome=pl.when(col("posted")).then(pl.lit("posted")).otherwise(pl.lit("suspense")),
        already=pl.lit(False),
    )
    parts = parts.with_columns(amount=col("taken_back")) if parts.height else parts
    return pl.concat([outcomes, refused], how="diagonal"), parts.select(*PARTS_SCHEMA)


def _names_no_credit(named: pl.DataFrame, stored: pl.DataFrame, file_lines: pl.DataFrame) -> pl.DataFrame:
    """(position, no_credit): the returns whose ``return_of`` (``named``: position, ref) names no
    stored credit but a stored debit (``stored``: what the references found) or a line of this
    file (a debit, or a credit refused here), with the reason they are refused."""
    found = stored.group_by("position").agg(
        credit=(col("direction") == CREDIT).any(), debit=(col("direction") == DEBIT).any()
    )
    in_file = file_lines.sort("position").unique("bank_ref", keep="first")
    f = (
        named.join(found, on="position", how="left")
        .join(in_file.select(ref="bank_ref", line="position", line_direction="direction"), on="ref", how="left")
        .filter(~col("credit").fill_null(False) & (col("debit").fill_null(False) | col("line").is_not_null()))
    )
    debit = col("debit").fill_null(False) | (col("line_direction") == DEBIT)
    return f.select(
        "position",
        no_credit=pl.when(debit)
        .then(
            pl.lit("a return of ")
            + col("ref")
            + pl.lit(", which is not a credit (a debit: a return, a fee): nothing to give back; a person decides")
        )
        .otherwise(
            pl.lit("a return of ")
            + col("ref")
            + pl.lit(", a credit this import refuses (line ")
            + col("line").cast(pl.String)
            + pl.lit(" of the file): nothing was posted to give back")
        ),
    )


def _set_status(conn: sa.Connection, line_ids: pl.Series, status: LineStatus) -> None:
    if line_ids.len() == 0:
        return
    from engine.store.models import StatementLine

    table = StatementLine.__table__
    ids = line_ids.unique().sort()
    # PostgreSQL: one statement over an array of every id; SQLite: at most 999 parameters a statement
    step = ids.len() if is_postgres(conn) else 900
    for i in range(0, ids.len(), step):
        chunk = ids.slice(i, step).to_list()
        where = table.c.line_id == sa.any_(sa.literal(chunk, sa.ARRAY(sa.BigInteger))) if is_postgres(conn) else None
        conn.execute(
            sa.update(table)
            .where(where if where is not None else table.c.line_id.in_(chunk))
            .values(status=status.value, resolved_at=datetime.now(UTC), resolved_by="bank")
        )


def _check_every_line(report: ImportReport) -> None:
    """posted + suspense + refused = lines read, each line once: before anything is committed."""
    counted = report.count("posted") + report.count("suspense") + report.count("refused")
    positions = report.outcomes.get_column("position")
    if counted != report.lines_read or positions.n_unique() != report.lines_read:
        raise RuntimeError(
            f"posted {report.count('posted')} + suspense {report.count('suspense')} + refused "
            f"{report.count('refused')} != {report.lines_read} lines read: a bug; nothing was imported"
        )


def _finish(conn: sa.Connection, report: ImportReport, who: str) -> None:
    from engine.store.models import StatementImport

    refused = report.outcomes.filter(col("outcome") == "refused")
    if refused.height:
        rows = refused.join(report.statement.lines.select("position", "title"), on="position").select(
            import_id=pl.lit(report.import_id, pl.Int64),
            position="position",
            bank_ref="bank_ref",
            booking_date="booking_date",
            amount="amount",
            direction="direction",
            title="title",
            reason=col("reason").str.slice(0, 300),
        )
        write_frame(conn, "statement_refusals", rows)
    summary = report.summary()
    table = StatementImport.__table__
    conn.execute(
        sa.update(table)
        .where(table.c.import_id == report.import_id)
        .values(
            posted=summary["posted"],
            suspense=summary["suspense"],
            refused=summary["refused"],
            already=summary["already_imported"],
            events=summary["events"],
            details={
                k: summary[k] for k in ("posted_amount", "suspense_amount", "refused_amount", "by_match", "candidates")
            },
        )
    )
    audit(conn, AuditAction.STATEMENT_IMPORT, report.statement.bank_account, summary, who)
