"""The system of record as SQLAlchemy 2 models: docs/data-contract.md's tables plus runs, agencies, placements
and the audit log.

Column names and enum spellings are docs/data-contract.md's. Money is BIGINT grosz, dates are DATE, rates are
INTEGER basis points. Events are append-only (a trigger refuses UPDATE and DELETE, see the first
migration): a correction is a ``reversal`` event. ``claim_state`` keeps the rows of the runs that
are current for their portfolio (``portfolios.current_run_id``); a run writes its rows beside the
current ones and switches the pointer in one transaction, so a failed run never shows.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from engine.domain import (
    CLAIM_LIMITATION_KINDS,
    AgencyChange,
    DebtorKind,
    EventKind,
    InterestBasis,
    JobKind,
    JobStatus,
    KeyRole,
    LineStatus,
    MatchedBy,
    PlacementQueue,
    PlanStatus,
    PromiseStatus,
    RunStatus,
    SettlementStatus,
)


def key(length: int) -> sa.types.TypeEngine:
    """An opaque identifier: compared byte by byte (collation "C" on PostgreSQL), with no locale
    rules, which also makes its unique index far cheaper to maintain."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


#: BIGINT ids that the database numbers itself; SQLite numbers only an INTEGER PRIMARY KEY.
SerialId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)


def utcnow_day() -> date:
    """Today in UTC: the day an event is recorded."""
    return utcnow().date()


class UtcDateTime(sa.types.TypeDecorator):
    """A moment in time, written and read back in UTC with its zone: SQLite keeps no zone and gives
    back naive datetimes, which this makes aware again (what PostgreSQL's timestamptz gives)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            from datetime import UTC

            return value.replace(tzinfo=UTC)
        return value


def _one_of(column: str, values) -> sa.CheckConstraint:
    """The CHECK that keeps a column to its registry's values (engine/domain.py); a migration writes
    the values of its day out (the registry's docstring says how to add one)."""
    spelled = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({spelled})", name=f"{column}_known")


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Portfolio(Base):
    """A purchase: the claims bought from one seller in one deal."""

    __tablename__ = "portfolios"

    portfolio_id: Mapped[str] = mapped_column(key(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    seller: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: the run whose claim_state rows are this portfolio's current state (none before the first run)
    current_run_id: Mapped[int | None] = mapped_column(sa.BigInteger)


class Debtor(Base):
    __tablename__ = "debtors"
    __table_args__ = (_one_of("debtor_kind", DebtorKind),)

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    debtor_kind: Mapped[str] = mapped_column(sa.String(16))
    national_id: Mapped[str | None] = mapped_column(key(16), index=True)  # PESEL or NIP: digits
    name: Mapped[str] = mapped_column(sa.String(300))
    street: Mapped[str | None] = mapped_column(sa.String(300))
    postal_code: Mapped[str | None] = mapped_column(sa.String(6))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    flags: Mapped[list[str]] = mapped_column(Json, default=list)


class VirtualAccount(Base):
    """A debtor's own account number at the fund's bank (engine/store/virtual_accounts.py): given
    once, kept for good."""

    __tablename__ = "virtual_accounts"

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    nrb: Mapped[str] = mapped_column(sa.String(26), unique=True)  # 26 digits, no spaces, no "PL"
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        sa.UniqueConstraint("portfolio_id", "seller_ref"),
        sa.Index("ix_claims_seller_ref", "seller_ref"),  # a statement's title names a claim by it alone
        _one_of("debtor_kind", DebtorKind),
        _one_of("interest_basis", InterestBasis),
        _one_of("limitation_kind", CLAIM_LIMITATION_KINDS),
        sa.CheckConstraint("principal >= 0 AND interest_at_cutoff >= 0 AND costs_at_cutoff >= 0", name="balances"),
    )

    claim_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    #: no FOREIGN KEY to portfolios: a per-row trigger would cost more than the rest of a bulk
    #: load; `records.load` creates the portfolios of the claims it stores in the same transaction
    portfolio_id: Mapped[str] = mapped_column(key(64))
    seller_ref: Mapped[str] = mapped_column(key(100))
    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    debtor_kind: Mapped[str] = mapped_column(sa.String(16))
    principal: Mapped[int] = mapped_column(sa.BigInteger)
    interest_at_cutoff: Mapped[int] = mapped_column(sa.BigInteger)
    costs_at_cutoff: Mapped[int] = mapped_column(sa.BigInteger)
    due_date: Mapped[date] = mapped_column(sa.Date)
    cutoff_date: Mapped[date] = mapped_column(sa.Date)
    interest_basis: Mapped[str] = mapped_column(sa.String(32))
    contractual_rate_bp: Mapped[int | None] = mapped_column(sa.Integer)
    limitation_kind: Mapped[str] = mapped_column(sa.String(16))
    limitation_years: Mapped[int | None] = mapped_column(sa.SmallInteger)
    title_date: Mapped[date | None] = mapped_column(sa.Date)
    purchase_date: Mapped[date] = mapped_column(sa.Date)
    purchase_price: Mapped[int] = mapped_column(sa.BigInteger)


class Event(Base):
    """The append-only ledger. ``idempotency_key`` is unique: a retried post is recognised.
    ``claim_id`` and ``reverses`` are checked by `records` before rows are written (set-based, not
    a per-row foreign key trigger)."""

    __tablename__ = "events"
    __table_args__ = (
        sa.Index("ix_events_claim_day", "claim_id", "event_date"),
        # reversals by the event they take back (partial: payments cost it nothing)
        sa.Index(
            "ix_events_reverses",
            "reverses",
            postgresql_where=sa.text("reverses IS NOT NULL"),
            sqlite_where=sa.text("reverses IS NOT NULL"),
        ),
        # the daily plan update finds the payments dated, or recorded, since the last one (0015)
        sa.Index("ix_events_event_date", "event_date"),
        sa.Index("ix_events_recorded_on", "recorded_on"),
        _one_of("kind", EventKind),
    )

    event_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    event_date: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(24))
    amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    reverses: Mapped[int | None] = mapped_column(sa.BigInteger)
    source: Mapped[str | None] = mapped_column(sa.String(64))
    idempotency_key: Mapped[str] = mapped_column(key(200), unique=True)
    #: the day the event was recorded in the store (the journal posts it then, ledger/); null for
    #: events stored before migration 0014: taken as recorded on their own event_date
    recorded_on: Mapped[date | None] = mapped_column(sa.Date, default=utcnow_day)


class EngineRun(Base):
    """One `cession run`: what it computed, from what, with which rules, and how it ended."""

    __tablename__ = "engine_runs"
    __table_args__ = (_one_of("status", RunStatus),)

    run_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    portfolio_id: Mapped[str | None] = mapped_column(key(64))  # none: every portfolio
    as_of: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default=RunStatus.RUNNING.value)  # RunStatus
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    seconds: Mapped[float | None] = mapped_column(sa.Float)
    claims: Mapped[int | None] = mapped_column(sa.BigInteger)
    events: Mapped[int | None] = mapped_column(sa.BigInteger)
    time_barred: Mapped[int | None] = mapped_column(sa.BigInteger)
    totals: Mapped[dict | None] = mapped_column(Json)  # grosz per claim_state money column
    rules: Mapped[dict | None] = mapped_column(Json)  # rule-table versions (sha256, last valid day)
    provenance: Mapped[dict | None] = mapped_column(Json)  # engine.metadata.provenance of the result
    state_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    error: Mapped[str | None] = mapped_column(sa.Text)
    host: Mapped[str | None] = mapped_column(sa.String(200))
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    #: the horizon of the run's ``claim_payments`` (migration 0019); null: the run kept none
    payments_horizon_days: Mapped[int | None] = mapped_column(sa.Integer)


class ClaimState(Base):
    """claim_state (docs/data-contract.md) of the current runs; rows of a run in progress wait beside them.

    On PostgreSQL each run's rows are a partition of their own (LIST on run_id), written without
    indexes and attached when the run succeeds; a superseded run's partition is dropped whole."""

    __tablename__ = "claim_state"
    __table_args__ = {"postgresql_partition_by": "LIST (run_id)"}

    run_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    portfolio_id: Mapped[str] = mapped_column(key(64))
    as_of: Mapped[date] = mapped_column(sa.Date)
    principal_due: Mapped[int] = mapped_column(sa.BigInteger)
    interest_due: Mapped[int] = mapped_column(sa.BigInteger)
    costs_due: Mapped[int] = mapped_column(sa.BigInteger)
    total_due: Mapped[int] = mapped_column(sa.BigInteger)
    interest_accrued: Mapped[int] = mapped_column(sa.BigInteger)
    #: null in runs stored before migration 0004 (limitation rule set 2018-07 did not compute it)
    interest_time_barred: Mapped[int | None] = mapped_column(sa.BigInteger)
    paid_costs: Mapped[int] = mapped_column(sa.BigInteger)
    paid_interest: Mapped[int] = mapped_column(sa.BigInteger)
    paid_principal: Mapped[int] = mapped_column(sa.BigInteger)
    overpaid: Mapped[int] = mapped_column(sa.BigInteger)
    last_payment_date: Mapped[date | None] = mapped_column(sa.Date)
    limitation_date: Mapped[date | None] = mapped_column(sa.Date)
    time_barred: Mapped[bool] = mapped_column(sa.Boolean)
    days_past_due: Mapped[int] = mapped_column(sa.Integer)


class ClaimPayments(Base):
    """Each claim's payments (not reversed, on or before the run's day) as its engine run saw them,
    kept for allocation (migration 0019; engine/store/runs.py ``write_payments``): one row per claim
    that paid anything. ``before`` is ``engine_runs.payments_horizon_days`` before the run's day.
    Rows of a run no portfolio points at are dropped after the switch, as claim_state's: on
    PostgreSQL each run's rows are a partition of their own (LIST on run_id, migration 0020),
    written in the run's storing transaction and attached when the run succeeds."""

    __tablename__ = "claim_payments"
    __table_args__ = {"postgresql_partition_by": "LIST (run_id)"}

    run_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    payments: Mapped[int] = mapped_column(sa.Integer)  # how many, up to the run's day
    last_paid: Mapped[date] = mapped_column(sa.Date)  # the latest
    payments_before: Mapped[int] = mapped_column(sa.Integer)  # how many up to ``before``
    last_paid_before: Mapped[date | None] = mapped_column(sa.Date)  # the latest up to ``before``
    paid_since: Mapped[int] = mapped_column(sa.BigInteger)  # grosz paid after ``before``


class ColumnCopy(Base):
    """A column of a large table's rows kept as a zstd-compressed Arrow IPC stream, for the readers
    that take whole columns (engine/store/copies.py, migration 0022): ``source`` the table, at
    ``version`` (claim_state: the run's id; claims and debtors: ``table_versions.version``)."""

    __tablename__ = "column_copies"

    source: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    column_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    rows: Mapped[int] = mapped_column(sa.BigInteger)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)


class TableVersion(Base):
    """How many statements have written ``table_name`` (claims, debtors): a trigger on the table
    moves it on (migration 0022), so a copy of the table stamped with it is known to be current."""

    __tablename__ = "table_versions"

    table_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Agency(Base):
    """A collection agency that cases are placed with (allocation/; `cession agencies`): what it
    takes (regions by postal-code prefix, debtor kinds, a band of balances), how much at once (open
    cases, open balance), for how long (``term_days``) and at what commission."""

    __tablename__ = "agencies"

    agency_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    capacity: Mapped[int | None] = mapped_column(sa.Integer)  # open placements at most; none: no limit
    commission_bp: Mapped[int | None] = mapped_column(sa.Integer)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: open balance (grosz, total_due of its open placements) at most; none: no limit
    capacity_balance: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: postal-code prefixes it works ("0", "00-9", ...); empty: everywhere
    regions: Mapped[list[str]] = mapped_column(Json, default=list)
    #: DebtorKind values it takes; empty: both
    debtor_kinds: Mapped[list[str]] = mapped_column(Json, default=list)
    balance_min: Mapped[int | None] = mapped_column(sa.BigInteger)  # grosz, total_due >= this
    balance_max: Mapped[int | None] = mapped_column(sa.BigInteger)  # grosz, total_due < this
    #: [[days_past_due_from, bp], ...] ascending: the commission by days past due at placement
    commission_tiers: Mapped[list | None] = mapped_column(Json)
    term_days: Mapped[int | None] = mapped_column(sa.Integer)  # a case goes back after this; none: no term
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Strategy(Base):
    """A strategy file as loaded (allocation/strategy.py), kept whole: ``version`` counts the
    distinct contents loaded, ``strategy_hash`` (sha256 of the text) names it in placements."""

    __tablename__ = "strategies"

    strategy_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    loaded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class AllocationRun(Base):
    """One `cession allocate` that wrote its decisions (a dry run writes none): as of which day,
    with which strategy, and the counts and balances per action, agency and queue."""

    __tablename__ = "allocation_runs"

    allocation_run_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    as_of: Mapped[date] = mapped_column(sa.Date)
    strategy_hash: Mapped[str] = mapped_column(sa.ForeignKey("strategies.strategy_hash"))
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    seconds: Mapped[float | None] = mapped_column(sa.Float)
    claims: Mapped[int] = mapped_column(sa.BigInteger)
    placed: Mapped[int] = mapped_column(sa.BigInteger)
    recalled: Mapped[int] = mapped_column(sa.BigInteger)
    summary: Mapped[dict | None] = mapped_column(Json)


class Placement(Base):
    """A claim handed to an agency or a queue, from ``placed_on`` until ``recalled_on`` (the whole
    history is kept). At most one placement of a claim is open: a partial unique index, and the
    allocation recalls before it places. ``agency_id`` is null for the purchaser's own queues."""

    __tablename__ = "placements"
    __table_args__ = (
        sa.Index("ix_placements_claim", "claim_id", "placed_on"),
        sa.Index("ix_placements_agency_open", "agency_id", "recalled_on"),
        sa.Index(
            "uq_placements_open_claim",
            "claim_id",
            unique=True,
            postgresql_where=sa.text("recalled_on IS NULL"),
            sqlite_where=sa.text("recalled_on IS NULL"),
        ),
        _one_of("queue", PlacementQueue),
    )

    placement_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    #: no FOREIGN KEY to claims: a per-row trigger would cost more than the rest of a bulk write of
    #: a day's placements; the allocation places only claims it read from the store
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    agency_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.agency_id"))
    queue: Mapped[str] = mapped_column(sa.String(16), default=PlacementQueue.AGENCY.value)  # PlacementQueue
    placed_on: Mapped[date] = mapped_column(sa.Date)
    recalled_on: Mapped[date | None] = mapped_column(sa.Date)
    recall_reason: Mapped[str | None] = mapped_column(sa.String(200))  # RecallReason (+ ":detail")
    strategy_hash: Mapped[str | None] = mapped_column(sa.String(64))
    strategy_version: Mapped[int | None] = mapped_column(sa.Integer)
    rule: Mapped[str | None] = mapped_column(sa.String(100))
    allocation_run_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: order in its queue (1 first): limitation-window claims first, by limitation date
    priority: Mapped[int | None] = mapped_column(sa.BigInteger)
    balance: Mapped[int | None] = mapped_column(sa.BigInteger)  # total_due at placement, grosz
    days_past_due: Mapped[int | None] = mapped_column(sa.Integer)  # at placement (commission tiers)


class AuditEntry(Base):
    """Who did what to the store, when: loads, posts, runs, placements."""

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(100))
    action: Mapped[str] = mapped_column(sa.String(50))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    details: Mapped[dict | None] = mapped_column(Json)


class AgencyChangeRow(Base):
    """The agencies' change feed (an outbox): every placement with an agency, recall and return, in
    the order it happened, written in the same transaction as the change itself, so the feed (and
    the webhooks that read it) never tells of a change that did not commit, nor misses one."""

    __tablename__ = "agency_changes"
    __table_args__ = (
        sa.Index("ix_agency_changes_agency_id_change_id", "agency_id", "change_id"),
        _one_of("change", AgencyChange),
    )

    change_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    #: no FOREIGN KEY (migration 0023): each row is written from its placement, whose agency_id has
    #: the key; a second per-row check of the same agency cost ~0.7 s of a 10M allocation
    agency_id: Mapped[str] = mapped_column(sa.String(64))
    change: Mapped[str] = mapped_column(sa.String(16))  # AgencyChange
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    placement_id: Mapped[int] = mapped_column(sa.BigInteger)
    day: Mapped[date] = mapped_column(sa.Date)
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Webhook(Base):
    """An agency's URL that its change feed is delivered to, in order, at least once, signed with
    ``secret`` (HMAC-SHA256). ``delivered_through`` is the last change delivered; a failed delivery
    is tried again at ``next_attempt_at``, later each time."""

    __tablename__ = "webhooks"

    webhook_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    agency_id: Mapped[str] = mapped_column(sa.ForeignKey("agencies.agency_id"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    secret: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_through: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)  # in a row, since the last success
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookDelivery(Base):
    """One attempt to deliver changes to a webhook: which, when, and how it ended."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.Index("ix_webhook_deliveries_webhook_id_delivery_id", "webhook_id", "delivery_id"),)

    delivery_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.webhook_id"))
    first_change_id: Mapped[int] = mapped_column(sa.BigInteger)
    last_change_id: Mapped[int] = mapped_column(sa.BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempt: Mapped[int] = mapped_column(sa.Integer)
    delivered: Mapped[bool] = mapped_column(sa.Boolean)
    status_code: Mapped[int | None] = mapped_column(sa.SmallInteger)
    error: Mapped[str | None] = mapped_column(sa.String(500))


class Job(Base):
    """Work started over the HTTP API (an upload's ingest, an engine run, an allocation), done in the
    background by the server that took it (``worker``: host:pid), followed by its id."""

    __tablename__ = "jobs"
    __table_args__ = (_one_of("kind", JobKind), _one_of("status", JobStatus))

    job_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # JobKind
    status: Mapped[str] = mapped_column(sa.String(16))  # JobStatus
    params: Mapped[dict] = mapped_column(Json)
    progress: Mapped[dict | None] = mapped_column(Json)
    result: Mapped[dict | None] = mapped_column(Json)
    error: Mapped[str | None] = mapped_column(sa.String(2000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    worker: Mapped[str | None] = mapped_column(sa.String(200))


class ApiKey(Base):
    """A key of the HTTP API: only its SHA-256 is kept (the key itself is shown once, when made).
    An ``agency`` key belongs to one agency; the other roles to none. A revoked key stays, for the
    audit log's sake, and is refused."""

    __tablename__ = "api_keys"
    __table_args__ = (
        _one_of("role", KeyRole),
        sa.CheckConstraint("(role = 'agency') = (agency_id IS NOT NULL)", name="agency_keys_only"),
    )

    key_id: Mapped[str] = mapped_column(key(32), primary_key=True)
    key_sha256: Mapped[str] = mapped_column(sa.String(64))
    role: Mapped[str] = mapped_column(sa.String(16))  # KeyRole
    agency_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.agency_id"))
    label: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ApiRequest(Base):
    """A write of the HTTP API sent with an ``Idempotency-Key``: the body's SHA-256 and the response
    given, so a retry with the same key and body gets that response again and stores nothing new,
    and the same key with another body is refused. Keys are per caller (an API key)."""

    __tablename__ = "api_requests"

    key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.key_id"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(key(200), primary_key=True)
    operation: Mapped[str] = mapped_column(sa.String(100))
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    response: Mapped[dict] = mapped_column(Json)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IngestFile(Base):
    """One seller file taken into a portfolio by `cession ingest`: its content hash (the same file
    again is recognised), the portfolio version it made, and what became of its rows."""

    __tablename__ = "ingest_files"
    __table_args__ = (sa.UniqueConstraint("portfolio_id", "content_sha256"),)

    ingest_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    content_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    #: the portfolio the claims went into: ``base_portfolio`` itself, or ``<base>@v<version>``
    portfolio_id: Mapped[str] = mapped_column(key(64))
    base_portfolio: Mapped[str] = mapped_column(key(64))
    version: Mapped[int] = mapped_column(sa.Integer)
    file_name: Mapped[str] = mapped_column(sa.String(500))
    profile: Mapped[str | None] = mapped_column(sa.String(200))
    ingested_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(100))
    rows_read: Mapped[int] = mapped_column(sa.BigInteger)
    accepted: Mapped[int] = mapped_column(sa.BigInteger)
    rejected: Mapped[int] = mapped_column(sa.BigInteger)
    principal: Mapped[int] = mapped_column(sa.BigInteger)  # grosz, of the accepted claims
    purchase_price: Mapped[int] = mapped_column(sa.BigInteger)  # grosz, of the accepted claims
    control_count: Mapped[int | None] = mapped_column(sa.BigInteger)
    control_principal: Mapped[int | None] = mapped_column(sa.BigInteger)
    control_ok: Mapped[bool | None] = mapped_column(sa.Boolean)
    details: Mapped[dict | None] = mapped_column(Json)  # rejects by rule, debtors, candidates, report paths
    #: what the rows say, not how the file spells them: the seller and, of each row that passes
    #: the row rules, seller_ref, national id, principal and due date, in any order (`ingest.duplicates`);
    #: NULL for ingests before migration 0005
    content_fingerprint: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    #: where the report files went (STEM.rejects.csv, ...): an absolute stem; NULL: none asked
    reports_stem: Mapped[str | None] = mapped_column(sa.String(1000))
    #: committed with the report files still under their staged names (renamed just after the
    #: commit): the next `cession ingest` or `cession ingest report` puts them in place
    reports_pending: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class _IngestReportLine:
    """One line of one of an ingest's reports, kept in the store so that a lost report file can
    be written again (`cession ingest report`): ``line`` is its place in the report."""

    @declared_attr
    def ingest_id(cls) -> Mapped[int]:
        return mapped_column(
            sa.BigInteger,
            sa.ForeignKey("ingest_files.ingest_id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
            sort_order=-2,
        )

    line: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False, sort_order=-1)


class IngestReject(_IngestReportLine, Base):
    """A rule a row of the file broke (STEM.rejects.csv): the row (1 = the header), its seller_ref,
    the column, the rule and the value as the file had it."""

    __tablename__ = "ingest_rejects"

    row: Mapped[int] = mapped_column(sa.BigInteger)
    seller_ref: Mapped[str | None] = mapped_column(sa.Text)
    column: Mapped[str] = mapped_column(sa.String(100))
    rule: Mapped[str] = mapped_column(sa.Text)
    value: Mapped[str | None] = mapped_column(sa.Text)


class IngestCandidate(_IngestReportLine, Base):
    """A probable duplicate debtor (STEM.candidates.csv): reported, never merged."""

    __tablename__ = "ingest_candidates"

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger)
    row: Mapped[int] = mapped_column(sa.BigInteger)
    name: Mapped[str | None] = mapped_column(sa.Text)
    other_debtor_id: Mapped[int] = mapped_column(sa.BigInteger)
    other_in: Mapped[str] = mapped_column(sa.String(20))
    match: Mapped[str] = mapped_column(sa.String(100))


class IngestNameConflict(_IngestReportLine, Base):
    """A row whose name is not the name its debtor (same PESEL/NIP) keeps (STEM.name_conflicts.csv)."""

    __tablename__ = "ingest_name_conflicts"

    national_id: Mapped[str | None] = mapped_column(sa.String(16))
    debtor_id: Mapped[int] = mapped_column(sa.BigInteger)
    row: Mapped[int] = mapped_column(sa.BigInteger)
    seller_ref: Mapped[str | None] = mapped_column(sa.Text)
    name: Mapped[str | None] = mapped_column(sa.Text)
    kept_name: Mapped[str | None] = mapped_column(sa.Text)
    kept_row: Mapped[int | None] = mapped_column(sa.BigInteger)
    kept_in: Mapped[str] = mapped_column(sa.String(20))


class IngestOverlap(_IngestReportLine, Base):
    """A row stored although the same seller's claim (its seller_ref) is already held by another
    portfolio (STEM.overlaps.csv; only with --allow-duplicates): ``differs`` names which of
    national_id, principal, due_date are not the stored claim's (empty: the same claim)."""

    __tablename__ = "ingest_overlaps"

    row: Mapped[int] = mapped_column(sa.BigInteger)
    seller_ref: Mapped[str] = mapped_column(sa.Text)
    portfolio_id: Mapped[str] = mapped_column(key(64))
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    differs: Mapped[str | None] = mapped_column(sa.String(100))


class DebtorKey(Base):
    """What probable-duplicate debtors are found by (never merged on it): the debtor's name
    normalised (case, diacritics, punctuation, word order), birth date (given or from the PESEL)
    and postal code."""

    __tablename__ = "debtor_keys"

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    name_key: Mapped[str] = mapped_column(key(300), index=True)
    birth_date: Mapped[date | None] = mapped_column(sa.Date)
    postal_code: Mapped[str | None] = mapped_column(sa.String(6))


#: contacts.vocabulary.Channel's values
CONTACT_CHANNELS = ("letter", "email", "sms", "phone")


class ContactTemplate(Base):
    """A version of a letter's or message's template (contacts/templates.py): the files it reads,
    kept whole, by the sha256 of their names and texts; ``version`` counts the versions of ``name``."""

    __tablename__ = "contact_templates"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    template_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))  # the file it starts from: demand.typ.j2
    version: Mapped[int] = mapped_column(sa.Integer)
    files: Mapped[dict] = mapped_column(Json)  # file name -> text
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Contact(Base):
    """A contact with a debtor about a claim on a day (contacts/): queued in its channel's window,
    then sent, delivered, bounced or returned; or held by a rule of the contact rules (``rule``),
    never silently dropped. A letter keeps its data, template version and PDF's sha256: it renders
    again byte for byte (`cession letters reproduce`). A day's plan is stored once per claim and step."""

    __tablename__ = "contacts"
    __table_args__ = (
        sa.UniqueConstraint("day", "claim_id", "step"),
        # contacts.vocabulary's values (engine does not import contacts; tests/test_registries.py holds them equal)
        _one_of("template", ("notice", "reminder", "demand")),
        _one_of("channel", CONTACT_CHANNELS),
        _one_of("status", ("held", "queued", "sent", "failed", "expired", "delivered", "bounced", "returned")),
        sa.CheckConstraint("(status = 'held') = (rule IS NOT NULL)", name="held_has_rule"),
        sa.Index("ix_contacts_claim_id_day", "claim_id", "day"),
        sa.Index("ix_contacts_debtor_id_day", "debtor_id", "day"),
        sa.Index("ix_contacts_day_status", "day", "status"),
    )

    contact_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    debtor_id: Mapped[int] = mapped_column(sa.BigInteger)
    step: Mapped[str] = mapped_column(sa.String(40))
    template: Mapped[str] = mapped_column(sa.String(16))  # contacts.vocabulary.Template
    channel: Mapped[str | None] = mapped_column(
        sa.String(8)
    )  # contacts.vocabulary.Channel; none: held before one was chosen
    status: Mapped[str] = mapped_column(sa.String(16))  # contacts.vocabulary.ContactStatus
    rule: Mapped[str | None] = mapped_column(sa.String(24))  # contacts.vocabulary.HoldRule of a held contact
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    window_start: Mapped[datetime | None] = mapped_column(UtcDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rules_sha256: Mapped[str] = mapped_column(sa.String(64))
    template_hash: Mapped[str | None] = mapped_column(sa.String(64))
    data: Mapped[dict | None] = mapped_column(Json)  # what the template was rendered with
    document_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pages: Mapped[int | None] = mapped_column(sa.Integer)
    address: Mapped[str | None] = mapped_column(sa.String(500))  # where it went: postal address, e-mail, phone
    batch: Mapped[str | None] = mapped_column(sa.String(200))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactEvent(Base):
    """A delivery result a channel reported (`cession contacts results FILE`): delivered, bounced,
    returned. The same result of the same contact is stored once."""

    __tablename__ = "contact_events"
    __table_args__ = (
        sa.UniqueConstraint("contact_id", "result"),
        _one_of("result", ("delivered", "bounced", "returned")),
    )

    event_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.contact_id"), index=True)
    result: Mapped[str] = mapped_column(sa.String(16))  # contacts.vocabulary.Delivery
    day: Mapped[date] = mapped_column(sa.Date)
    detail: Mapped[str | None] = mapped_column(sa.String(500))
    source: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactObjection(Base):
    """A debtor's objection to a channel (no texts, no calls, ...): the rules never use it again."""

    __tablename__ = "contact_objections"
    __table_args__ = (_one_of("channel", CONTACT_CHANNELS),)

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    since: Mapped[date] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DoubtfulAddress(Base):
    """A debtor's postal address a letter came back from (as the letter printed it: street, postal
    code and city on three lines): no letter goes there again; a new address is not doubtful."""

    __tablename__ = "doubtful_addresses"

    debtor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    since: Mapped[date] = mapped_column(sa.Date)
    contact_id: Mapped[int | None] = mapped_column(sa.BigInteger)


class StatementImport(Base):
    """One `cession statements import` of a bank statement file: what it was, and what became of
    its lines (posted + suspense + refused = lines read, checked before the commit). A statement
    imported again gets a row of its own; its lines already stored count as ``already``."""

    __tablename__ = "statement_imports"

    import_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    bank_account: Mapped[str] = mapped_column(key(26), index=True)
    file_name: Mapped[str] = mapped_column(sa.String(500))
    content_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    format: Mapped[str] = mapped_column(sa.String(64))  # mt940 | camt053 | csv:<profile>
    statement_ref: Mapped[str | None] = mapped_column(sa.String(200))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(100))
    split_rule: Mapped[str] = mapped_column(sa.String(32))
    lines_read: Mapped[int] = mapped_column(sa.BigInteger)
    posted: Mapped[int] = mapped_column(sa.BigInteger)
    suspense: Mapped[int] = mapped_column(sa.BigInteger)
    refused: Mapped[int] = mapped_column(sa.BigInteger)
    already: Mapped[int] = mapped_column(sa.BigInteger)  # of posted + suspense: stored by an earlier import
    events: Mapped[int] = mapped_column(sa.BigInteger)  # events this import wrote
    details: Mapped[dict | None] = mapped_column(Json)  # by match, amounts


class StatementLine(Base):
    """A line of a bank statement, stored once per (account, bank reference): posted (its events in
    ``statement_line_events``) or in suspense (``status`` open until a person or a return closes it)."""

    __tablename__ = "statement_lines"
    __table_args__ = (
        sa.UniqueConstraint("bank_account", "bank_ref"),
        sa.Index("ix_statement_lines_status", "status"),
        sa.Index("ix_statement_lines_end_to_end_id", "end_to_end_id"),
        _one_of("status", LineStatus),
        _one_of("matched_by", MatchedBy),
    )

    line_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.BigInteger)  # the import that stored it
    position: Mapped[int] = mapped_column(sa.BigInteger)  # in that import's file, 1-based
    bank_account: Mapped[str] = mapped_column(key(26))
    bank_ref: Mapped[str] = mapped_column(key(200))
    end_to_end_id: Mapped[str | None] = mapped_column(key(200))
    booking_date: Mapped[date] = mapped_column(sa.Date)
    value_date: Mapped[date | None] = mapped_column(sa.Date)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # grosz, > 0
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    direction: Mapped[str] = mapped_column(sa.String(8))  # credit | debit
    is_return: Mapped[bool] = mapped_column(sa.Boolean)
    return_of: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.Text)
    counterparty_name: Mapped[str | None] = mapped_column(sa.String(300))
    counterparty_account: Mapped[str | None] = mapped_column(sa.String(40))
    virtual_account: Mapped[str | None] = mapped_column(sa.String(26))
    status: Mapped[str] = mapped_column(sa.String(16))  # LineStatus
    matched_by: Mapped[str | None] = mapped_column(sa.String(24))  # MatchedBy; none in suspense
    debtor_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    split_rule: Mapped[str | None] = mapped_column(sa.String(32))  # SplitRule, when split over a debtor's claims
    #: in suspense: why; a candidate (name and amount fit) is named, never posted without a person
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    candidate_claim_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    reverses_line_id: Mapped[int | None] = mapped_column(sa.BigInteger)  # a return: the line it returns
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class StatementLineEvent(Base):
    """The events a statement line became, with the claim and amount of each: the split recorded."""

    __tablename__ = "statement_line_events"
    __table_args__ = (sa.Index("ix_statement_line_events_event_id", "event_id"),)

    line_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # grosz; a reversal: the amount it takes back


class StatementRefusal(Base):
    """A statement line an import refused, with the reason (a debit that is no return, a line that
    cannot be read, a return of a credit nobody imported). A later import of a line with the same
    account and bank reference refuses it again with the reason the first refusal gave (it is not
    judged again: a re-import changes nothing), found by ``bank_ref``."""

    __tablename__ = "statement_refusals"
    __table_args__ = (sa.Index("ix_statement_refusals_bank_ref", "bank_ref"),)

    import_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    bank_ref: Mapped[str | None] = mapped_column(sa.String(200))
    booking_date: Mapped[date | None] = mapped_column(sa.Date)
    amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    direction: Mapped[str | None] = mapped_column(sa.String(8))
    title: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.String(300))


def _one_open_per_claim(table: str, open_status: str) -> sa.Index:
    """At most one row of ``table`` in ``open_status`` per claim: a partial unique index."""
    where = sa.text(f"status = '{open_status}'")
    return sa.Index(f"uq_{table}_open_claim", "claim_id", unique=True, postgresql_where=where, sqlite_where=where)


class PaymentPlan(Base):
    """An instalment agreement (ugoda ratalna) on a claim (payments/plans; docs/plans.md): its
    terms, and what the daily update (`cession plans update`, part of `cession run`) last found.
    At most one plan of a claim is active. Signing it posted an ``acknowledgment`` event
    (``acknowledgment_event_id``); a kept plan with ``write_off_rest`` posted a ``write_off``."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        sa.Index("ix_payment_plans_claim_id", "claim_id"),
        _one_open_per_claim("payment_plans", PlanStatus.ACTIVE.value),
        _one_of("status", PlanStatus),
        sa.CheckConstraint(
            "total > 0 AND down_payment >= 0 AND down_payment < total AND instalments > 0 "
            "AND grace_days >= 0 AND break_after_days >= grace_days",
            name="terms",
        ),
    )

    plan_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    signed_on: Mapped[date] = mapped_column(sa.Date)
    total: Mapped[int] = mapped_column(sa.BigInteger)  # grosz: the down payment and every instalment
    down_payment: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # grosz, instalment 0 (0: none)
    instalments: Mapped[int] = mapped_column(sa.Integer)  # how many, the down payment not counted
    #: the rest of the claim written off once every instalment is paid on time (conditional write-off)
    write_off_rest: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    grace_days: Mapped[int] = mapped_column(sa.Integer)  # paid this many days after its day: on time
    break_after_days: Mapped[int] = mapped_column(sa.Integer)  # unpaid this many days after its day: broken
    status: Mapped[str] = mapped_column(sa.String(16), default=PlanStatus.ACTIVE.value)  # PlanStatus
    #: the day the status began: kept, the day the last instalment was paid; broken, the day after
    #: break_after_days ran out; cancelled, the day given; active, the day signed
    status_on: Mapped[date] = mapped_column(sa.Date)
    paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # grosz counted towards the plan
    instalments_paid: Mapped[int] = mapped_column(sa.Integer, default=0)  # the down payment included
    next_due_on: Mapped[date | None] = mapped_column(sa.Date)  # the day of the first instalment not paid
    on_time: Mapped[bool] = mapped_column(sa.Boolean, default=True)  # every instalment paid so far was on time
    updated_as_of: Mapped[date | None] = mapped_column(sa.Date)  # the day of the last daily update
    acknowledgment_event_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    write_off_event_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    agency_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.agency_id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    #: the plan made next on the claim: this one is then final as it stood (never decided anew)
    replaced_by: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(100))


class PlanUpdate(Base):
    """One daily update of plans, settlements and promises (payments/plans/store.py): the next one
    recomputes only what changed since (claims with payments or reversals dated after ``as_of``,
    or recorded on or after the day before ``read_on``, or numbered after ``last_event_id``; rows
    made since; rows that turn by the day alone) and takes the rest as this one left them."""

    __tablename__ = "plan_updates"

    update_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    portfolio_id: Mapped[str | None] = mapped_column(sa.String(64))  # none: every portfolio
    as_of: Mapped[date] = mapped_column(sa.Date)
    read_on: Mapped[date] = mapped_column(sa.Date)  # the day (UTC) it read the store
    last_event_id: Mapped[int] = mapped_column(sa.BigInteger)  # the largest event id it saw
    full_recompute: Mapped[bool] = mapped_column(sa.Boolean)  # every open row recomputed
    recomputed_claims: Mapped[int] = mapped_column(sa.BigInteger)  # claims whose rows it recomputed
    done_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PlanInstalment(Base):
    """One instalment of a plan: number 0 is the down payment, 1.. the instalments, in the order
    payments cover them; days ascending."""

    __tablename__ = "plan_instalments"
    __table_args__ = (sa.CheckConstraint("amount > 0 AND number >= 0", name="amount_positive"),)

    plan_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("payment_plans.plan_id"), primary_key=True, autoincrement=False
    )
    number: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    due_on: Mapped[date] = mapped_column(sa.Date)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # grosz


class Settlement(Base):
    """An offer to close a claim for ``amount`` if paid by ``pay_by`` (payments/settlements.py):
    paid in full by then, the rest is written off (a ``write_off`` event); otherwise it lapses. At
    most one offer of a claim is open."""

    __tablename__ = "settlements"
    __table_args__ = (
        sa.Index("ix_settlements_claim_id", "claim_id"),
        _one_open_per_claim("settlements", SettlementStatus.OPEN.value),
        _one_of("status", SettlementStatus),
        sa.CheckConstraint("amount > 0 AND pay_by >= offered_on", name="terms"),
    )

    settlement_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    offered_on: Mapped[date] = mapped_column(sa.Date)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # grosz
    pay_by: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default=SettlementStatus.OPEN.value)
    status_on: Mapped[date] = mapped_column(sa.Date)
    paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # grosz paid since offered_on
    updated_as_of: Mapped[date | None] = mapped_column(sa.Date)
    write_off_event_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    agency_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.agency_id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    #: the offer made next on the claim: this one is then final as it stood (never decided anew)
    replaced_by: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(100))


class Promise(Base):
    """A debtor's promise to pay ``amount`` by ``pay_by``, taken by an agency's ``collector`` (or
    the purchaser's own, ``agency_id`` null): kept when the claim's payments from ``made_on`` reach
    the amount by that day, broken otherwise (payments/promises.py)."""

    __tablename__ = "promises"
    __table_args__ = (
        sa.Index("ix_promises_claim_id", "claim_id"),
        sa.Index("ix_promises_agency_id", "agency_id"),
        _one_of("status", PromiseStatus),
        sa.CheckConstraint("amount > 0 AND pay_by >= made_on", name="terms"),
    )

    promise_id: Mapped[int] = mapped_column(SerialId, primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.BigInteger)
    made_on: Mapped[date] = mapped_column(sa.Date)
    amount: Mapped[int] = mapped_column(sa.BigInteger)  # grosz
    pay_by: Mapped[date] = mapped_column(sa.Date)
    agency_id: Mapped[str | None] = mapped_column(sa.ForeignKey("agencies.agency_id"))
    collector: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(16), default=PromiseStatus.OPEN.value)
    status_on: Mapped[date] = mapped_column(sa.Date)
    paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # grosz paid since made_on
    updated_as_of: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(100))
