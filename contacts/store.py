"""Contacts in the store (migration 0013; the models are engine/store/models.py's): what a day's plan
reads, the plan written once per day, the letters' template versions, the history of a claim or a
debtor, objections, delivery results and doubtful addresses.

A day's plan is written in one transaction (``write_plan``); a dispatch marks what it sent in one
transaction after its files are in place (``mark_sent``); delivery results are stored once each
(``record_results``). An error or a kill leaves the store as it was.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import sqlalchemy as sa

from contacts.plan import (
    CLAIM_HISTORY_SCHEMA,
    CLAIM_SCHEMA,
    DEBTOR_HISTORY_SCHEMA,
    PLACEMENT_SCHEMA,
    PLAN_SCHEMA,
    Book,
)
from contacts.templates import TemplateVersion
from contacts.vocabulary import COUNTED, Channel, ContactStatus, Template
from engine.store.bulk import read_frame, read_snapshot, write_frame
from engine.store.models import Contact, ContactEvent, ContactObjection, ContactTemplate, DoubtfulAddress

#: the counted statuses, as SQL
_COUNTED = "(" + ", ".join(f"'{s.value}'" for s in COUNTED) + ")"
#: a postal address as a letter prints it (and as doubtful_addresses keeps it)
ADDRESS = pl.concat_str(["street", "postal_code", "city"], separator="\n")

DEBTOR_READ = {
    "debtor_id": pl.Int64,
    "flags": pl.String,
    "street": pl.String,
    "postal_code": pl.String,
    "city": pl.String,
    "email": pl.String,
    "phone": pl.String,
}


def _current_state_join(alias: str = "s") -> str:
    return (
        f"LEFT JOIN (SELECT x.claim_id, x.total_due, x.time_barred FROM claim_state x JOIN portfolios p "
        f"ON p.portfolio_id = x.portfolio_id AND p.current_run_id = x.run_id) {alias} ON {alias}.claim_id = c.claim_id"
    )


def read_book(engine: sa.Engine, day: date, virtual_accounts: pl.DataFrame | None = None) -> Book:
    """What the plan of ``day`` reads, as of one moment: the claims with their current state, the
    debtors (flags, the channels they can be reached on, objections, doubtful addresses, virtual
    accounts), the open placements and the stored contacts that count (before ``day``)."""
    week, month = day - timedelta(days=6), day - timedelta(days=29)
    queries = {
        "claims": (
            "SELECT c.claim_id, c.debtor_id, c.debtor_kind, s.total_due, s.time_barred FROM claims c "
            + _current_state_join(),
            CLAIM_SCHEMA,
            None,
        ),
        "debtors": (
            "SELECT debtor_id, CAST(flags AS TEXT) AS flags, street, postal_code, city, email, phone FROM debtors",
            DEBTOR_READ,
            None,
        ),
        "placements": (
            "SELECT claim_id, queue, placed_on FROM placements WHERE recalled_on IS NULL AND placed_on <= :day",
            PLACEMENT_SCHEMA,
            {"day": day},
        ),
        "claim_history": (
            "SELECT claim_id, "
            f"MIN(CASE WHEN template = '{Template.NOTICE}' THEN day END) AS notice_on, "
            f"MAX(CASE WHEN template = '{Template.REMINDER}' THEN day END) AS reminded_on, "
            f"MAX(CASE WHEN template = '{Template.DEMAND}' THEN day END) AS demanded_on "
            f"FROM contacts WHERE status IN {_COUNTED} AND day < :day GROUP BY claim_id",
            CLAIM_HISTORY_SCHEMA,
            {"day": day},
        ),
        "debtor_history": (
            "SELECT debtor_id, SUM(CASE WHEN day >= :week THEN 1 ELSE 0 END) AS week, "
            "SUM(CASE WHEN day >= :month THEN 1 ELSE 0 END) AS month, MAX(day) AS last_on "
            f"FROM contacts WHERE status IN {_COUNTED} AND day < :day GROUP BY debtor_id",
            DEBTOR_HISTORY_SCHEMA,
            {"day": day, "week": week, "month": month},
        ),
        "objections": (
            "SELECT debtor_id, channel FROM contact_objections WHERE since <= :day",
            {"debtor_id": pl.Int64, "channel": pl.String},
            {"day": day},
        ),
        "doubtful": (
            "SELECT debtor_id, address FROM doubtful_addresses",
            {"debtor_id": pl.Int64, "address": pl.String},
            None,
        ),
    }
    frames = read_snapshot(engine, queries)
    if virtual_accounts is None:
        virtual_accounts = read_virtual_accounts(engine)
    return book_of(frames, virtual_accounts)


def book_of(frames: dict[str, pl.DataFrame], virtual_accounts: pl.DataFrame) -> Book:
    """The planner's ``Book`` from the frames as the store gives them."""
    objected = frames["objections"].group_by("debtor_id").agg(objected=pl.col("channel").sort())
    doubtful = frames["doubtful"].with_columns(address_doubtful=pl.lit(True))
    debtors = (
        frames["debtors"]
        .with_columns(
            flags=pl.col("flags").str.json_decode(pl.List(pl.String)).fill_null(pl.lit([], dtype=pl.List(pl.String))),
            address=ADDRESS,
        )
        .join(objected, on="debtor_id", how="left")
        .join(doubtful, on=["debtor_id", "address"], how="left")
        .join(virtual_accounts.select("debtor_id", virtual_account=pl.lit(True)), on="debtor_id", how="left")
        .select(
            "debtor_id",
            "flags",
            has_letter=pl.col("street").is_not_null()
            & pl.col("postal_code").is_not_null()
            & pl.col("city").is_not_null(),
            has_email=pl.col("email").is_not_null(),
            has_sms=pl.col("phone").is_not_null(),
            has_phone=pl.col("phone").is_not_null(),
            objected=pl.col("objected").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            address_doubtful=pl.col("address_doubtful").fill_null(False),
            virtual_account=pl.col("virtual_account").fill_null(False),
        )
    )
    return Book(
        claims=frames["claims"],
        debtors=debtors,
        placements=frames["placements"],
        claim_history=frames["claim_history"],
        debtor_history=frames["debtor_history"],
    )


def read_virtual_accounts(engine: sa.Engine) -> pl.DataFrame:
    """Every debtor's virtual account (debtor_id, nrb)."""
    with engine.connect() as conn:
        return read_frame(
            conn, "SELECT debtor_id, nrb FROM virtual_accounts", {"debtor_id": pl.Int64, "nrb": pl.String}
        )


# --- the day's plan ------------------------------------------------------------------------------


#: a stored contact of a day: its id and day, and the plan's columns it was planned with
STORED_SCHEMA = {"contact_id": pl.Int64, "day": pl.Date} | {
    c: PLAN_SCHEMA[c] for c in ("claim_id", "debtor_id", "step", "template", "channel", "status", "rule", "detail")
}


def planned_days(engine: sa.Engine, day: date) -> bool:
    """Whether the plan of ``day`` is stored."""
    table = Contact.__table__
    with engine.connect() as conn:
        return conn.execute(sa.select(table.c.contact_id).where(table.c.day == day).limit(1)).first() is not None


def write_plan(engine: sa.Engine, day: date, planned: pl.DataFrame, rules_sha256: str) -> int:
    """Store the plan of ``day`` (queued and held contacts) in one transaction; a day already
    stored is left as it is (0)."""
    from engine.store.records import AuditAction, audit

    table = Contact.__table__
    now = datetime.now(UTC)
    with engine.begin() as conn:
        if conn.execute(sa.select(table.c.contact_id).where(table.c.day == day).limit(1)).first() is not None:
            return 0
        rows = planned.select(
            pl.lit(day).alias("day"),
            "claim_id",
            "debtor_id",
            "step",
            "template",
            "channel",
            "status",
            "rule",
            pl.col("detail").str.slice(0, 500),
            "window_start",
            "window_end",
            pl.lit(rules_sha256).alias("rules_sha256"),
            pl.lit(now).dt.replace_time_zone(None).dt.replace_time_zone("UTC").alias("created_at"),
        )
        if rows.height:
            write_frame(conn, "contacts", rows)
        audit(
            conn,
            AuditAction.CONTACTS_PLANNED,
            day.isoformat(),
            {
                "queued": int((planned["status"] == ContactStatus.QUEUED.value).sum()),
                "held": int((planned["status"] == ContactStatus.HELD.value).sum()),
                "rules": rules_sha256,
            },
        )
    return rows.height


def stored_plan(engine: sa.Engine, day: date) -> pl.DataFrame:
    """The stored contacts of ``day`` (STORED_SCHEMA plus the windows)."""
    table = Contact.__table__
    columns = [*STORED_SCHEMA, "window_start", "window_end", "sent_at"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(table.c[c] for c in columns)).where(table.c.day == day)).all()
    schema = STORED_SCHEMA | {c: pl.Datetime("us", "UTC") for c in ("window_start", "window_end", "sent_at")}
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row").sort("contact_id")


def due(engine: sa.Engine, day: date, at: datetime) -> tuple[pl.DataFrame, int]:
    """The queued contacts of ``day`` whose window is open at ``at`` (STORED_SCHEMA), after marking
    ``expired`` those whose window closed before it; and how many expired. The windows are compared
    here, as moments in UTC (SQLite keeps moments as text: no comparison in SQL)."""
    table = Contact.__table__
    moment = at.astimezone(UTC)
    columns = [*STORED_SCHEMA, "window_start", "window_end"]
    queued = (table.c.day == day) & (table.c.status == ContactStatus.QUEUED.value)
    schema = STORED_SCHEMA | {"window_start": pl.Datetime("us", "UTC"), "window_end": pl.Datetime("us", "UTC")}
    with engine.begin() as conn:
        rows = conn.execute(sa.select(*(table.c[c] for c in columns)).where(queued)).all()
        frame = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
        closed = frame.filter(pl.col("window_end") < moment)["contact_id"].to_list()
        for first in range(0, len(closed), 5_000):
            conn.execute(
                sa.update(table)
                .where(queued & table.c.contact_id.in_(closed[first : first + 5_000]))
                .values(status=ContactStatus.EXPIRED.value)
            )
    open_ = frame.filter((pl.col("window_start") <= moment) & (pl.col("window_end") >= moment))
    return open_.select(list(STORED_SCHEMA)).sort("contact_id"), len(closed)


def mark_sent(engine: sa.Engine, sent: list[dict], failed: list[dict], at: datetime) -> None:
    """Record what a dispatch did, in one transaction: each sent contact with its template version,
    data, document's sha256, pages and address; each failed one with why."""
    table = Contact.__table__
    queued = table.c.status == ContactStatus.QUEUED.value
    with engine.begin() as conn:
        for row in sent:
            conn.execute(
                sa.update(table)
                .where((table.c.contact_id == row["contact_id"]) & queued)
                .values(
                    status=ContactStatus.SENT.value,
                    template_hash=row["template_hash"],
                    data=row["data"],
                    document_sha256=row["document_sha256"],
                    pages=row["pages"],
                    address=row["address"],
                    batch=row["batch"],
                    sent_at=at,
                )
            )
        for row in failed:
            conn.execute(
                sa.update(table)
                .where((table.c.contact_id == row["contact_id"]) & queued)
                .values(status=ContactStatus.FAILED.value, detail=str(row["detail"])[:500], sent_at=at)
            )


# --- template versions ---------------------------------------------------------------------------


def stored_template(conn: sa.Connection, version: TemplateVersion) -> int:
    """The version number of ``version`` (its name's count), stored now when new."""
    table = ContactTemplate.__table__
    found = conn.execute(sa.select(table.c.version).where(table.c.template_hash == version.sha256)).scalar()
    if found is not None:
        return found
    latest = conn.execute(sa.select(sa.func.max(table.c.version)).where(table.c.name == version.name)).scalar() or 0
    conn.execute(
        sa.insert(table).values(
            template_hash=version.sha256,
            name=version.name,
            version=latest + 1,
            files=dict(version.files),
            loaded_at=datetime.now(UTC),
        )
    )
    return latest + 1


def template_of(conn: sa.Connection, template_hash: str) -> TemplateVersion | None:
    from contacts.templates import stored

    table = ContactTemplate.__table__
    row = conn.execute(sa.select(table.c.name, table.c.files).where(table.c.template_hash == template_hash)).first()
    return None if row is None else stored(row.name, row.files)


def template_versions(engine: sa.Engine) -> list[dict]:
    table = ContactTemplate.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.name, table.c.version, table.c.template_hash, table.c.loaded_at).order_by(
                table.c.name, table.c.version
            )
        ).mappings()
        return [dict(r) for r in rows]


def contact_row(conn: sa.Connection, contact_id: int) -> dict | None:
    table = Contact.__table__
    row = conn.execute(sa.select(table).where(table.c.contact_id == contact_id)).mappings().first()
    return None if row is None else dict(row)


# --- history -------------------------------------------------------------------------------------


def history(conn: sa.Connection, *, claim_id: int | None = None, debtor_id: int | None = None) -> list[dict]:
    """The contacts of a claim or a debtor, newest first, each with its delivery results."""
    table, events = Contact.__table__, ContactEvent.__table__
    columns = [c for c in table.c if c.name not in ("data", "rules_sha256")]
    query = sa.select(*columns)
    if claim_id is not None:
        query = query.where(table.c.claim_id == claim_id)
    if debtor_id is not None:
        query = query.where(table.c.debtor_id == debtor_id)
    rows = [dict(r) for r in conn.execute(query.order_by(table.c.day.desc(), table.c.contact_id.desc())).mappings()]
    if rows:
        ids = [r["contact_id"] for r in rows]
        results: dict[int, list[dict]] = {}
        for e in conn.execute(
            sa.select(events.c.contact_id, events.c.result, events.c.day, events.c.detail)
            .where(events.c.contact_id.in_(ids))
            .order_by(events.c.event_id)
        ).mappings():
            results.setdefault(e["contact_id"], []).append({k: e[k] for k in ("result", "day", "detail")})
        for r in rows:
            r["results"] = results.get(r["contact_id"], [])
    return rows


# --- objections ----------------------------------------------------------------------------------


def object_to(engine: sa.Engine, debtor_id: int, channel: Channel, since: date, note: str | None) -> bool:
    """Store a debtor's objection to a channel; True: it is new."""
    from engine.store.records import AuditAction, audit

    table = ContactObjection.__table__
    with engine.begin() as conn:
        key = (table.c.debtor_id == debtor_id) & (table.c.channel == channel.value)
        if conn.execute(sa.select(table.c.debtor_id).where(key)).first() is not None:
            return False
        conn.execute(
            sa.insert(table).values(
                debtor_id=debtor_id, channel=channel.value, since=since, note=note, at=datetime.now(UTC)
            )
        )
        audit(conn, AuditAction.CONTACT_OBJECTION, str(debtor_id), {"channel": channel.value, "since": str(since)})
    return True


def withdraw_objection(engine: sa.Engine, debtor_id: int, channel: Channel) -> bool:
    from engine.store.records import AuditAction, audit

    table = ContactObjection.__table__
    with engine.begin() as conn:
        done = conn.execute(
            sa.delete(table).where((table.c.debtor_id == debtor_id) & (table.c.channel == channel.value))
        ).rowcount
        if done:
            audit(conn, AuditAction.CONTACT_OBJECTION, str(debtor_id), {"channel": channel.value, "withdrawn": True})
    return bool(done)


def objections(conn: sa.Connection, debtor_id: int) -> list[dict]:
    table = ContactObjection.__table__
    query = sa.select(table.c.channel, table.c.since, table.c.note).where(table.c.debtor_id == debtor_id)
    return [dict(r) for r in conn.execute(query.order_by(table.c.channel)).mappings()]


def doubtful(conn: sa.Connection, debtor_id: int) -> list[dict]:
    table = DoubtfulAddress.__table__
    query = sa.select(table.c.address, table.c.since, table.c.contact_id).where(table.c.debtor_id == debtor_id)
    return [dict(r) for r in conn.execute(query).mappings()]
