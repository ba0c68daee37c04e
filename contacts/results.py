"""Delivery results coming back from the channels (the print house's returned letters, the SMTP
server's bounces, the SMS provider's delivery reports), as contact events.

A results file (CSV or Parquet) has ``contact_id``, ``result`` (delivered, bounced, returned),
``day`` (YYYY-MM-DD) and optionally ``detail``. Every row ends up stored, already stored (the same
result of the same contact: a file read twice stores it once) or rejected with its reason; the
rows are stored in one transaction. A returned letter marks the address it went to as doubtful:
no letter goes there again until the debtor's address changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from contacts.vocabulary import Channel, ContactStatus, Delivery
from engine.errors import InputError
from engine.store.models import Contact, ContactEvent, DoubtfulAddress

REJECT_SCHEMA = {"row": pl.Int64, "contact_id": pl.String, "reason": pl.String}
#: the results a channel can report
RESULTS_OF = {
    Channel.LETTER: (Delivery.DELIVERED, Delivery.RETURNED),
    Channel.EMAIL: (Delivery.DELIVERED, Delivery.BOUNCED),
    Channel.SMS: (Delivery.DELIVERED, Delivery.BOUNCED),
    Channel.PHONE: (),
}
#: the statuses a contact has once it went out (a result can only follow one of these)
WENT_OUT = (ContactStatus.SENT, ContactStatus.DELIVERED, ContactStatus.BOUNCED, ContactStatus.RETURNED)


@dataclass(frozen=True)
class Recorded:
    rows: int
    stored: int
    already_stored: int
    doubtful_addresses: int
    rejects: pl.DataFrame

    def summary(self) -> dict:
        return {
            "rows": self.rows,
            "stored": self.stored,
            "already_stored": self.already_stored,
            "rejected": self.rejects.height,
            "doubtful_addresses": self.doubtful_addresses,
        }


def read(path: Path) -> pl.DataFrame:
    """The file's rows as text (every column a string), numbered from 2 (the header is row 1)."""
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path).cast(pl.String)
        else:
            frame = pl.read_csv(path, infer_schema=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (pl.exceptions.PolarsError, OSError) as e:
        raise InputError(f"{path}: not a results file (CSV or Parquet): {e}") from None
    missing = [c for c in ("contact_id", "result", "day") if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: the column(s) {', '.join(missing)} are missing (contact_id, result, day[, detail])")
    if "detail" not in frame.columns:
        frame = frame.with_columns(detail=pl.lit(None, dtype=pl.String))
    return frame.select("contact_id", "result", "day", "detail").with_row_index("row", offset=2)


def record(engine: sa.Engine, rows: pl.DataFrame, source: str) -> Recorded:
    """Store the delivery results of ``rows`` (as ``read`` gives them) in one transaction."""
    from engine.store.records import AuditAction, audit

    contacts, events, doubtful = Contact.__table__, ContactEvent.__table__, DoubtfulAddress.__table__
    rejects: list[dict] = []
    stored = already = marked = 0
    with engine.begin() as conn:
        for r in rows.iter_rows(named=True):
            row, text_id = int(r["row"]), r["contact_id"]

            def reject(reason: str, row=row, text_id=text_id) -> None:
                rejects.append({"row": row, "contact_id": text_id, "reason": reason})

            try:
                contact_id = int(str(text_id).strip())
            except ValueError:
                reject("contact_id: not a whole number")
                continue
            try:
                result = Delivery(str(r["result"]).strip().lower())
            except ValueError:
                reject(f"result: {r['result']!r} is not one of {Delivery.spelled()}")
                continue
            try:
                day = datetime.strptime(str(r["day"]).strip(), "%Y-%m-%d").date()
            except ValueError:
                reject(f"day: {r['day']!r} is not a day (YYYY-MM-DD)")
                continue
            found = (
                conn.execute(
                    sa.select(
                        contacts.c.status, contacts.c.channel, contacts.c.day, contacts.c.debtor_id, contacts.c.address
                    ).where(contacts.c.contact_id == contact_id)
                )
                .mappings()
                .first()
            )
            if found is None:
                reject(f"contact {contact_id}: not stored")
                continue
            if found["status"] not in {s.value for s in WENT_OUT}:
                reject(f"contact {contact_id}: is {found['status']}, it never went out")
                continue
            if result not in RESULTS_OF[Channel(found["channel"])]:
                reject(f"contact {contact_id}: a {found['channel']} cannot be {result.value}")
                continue
            if day < found["day"]:
                reject(f"day: {day} is before the contact's day {found['day']}")
                continue
            exists = conn.execute(
                sa.select(events.c.event_id).where(
                    (events.c.contact_id == contact_id) & (events.c.result == result.value)
                )
            ).first()
            if exists is not None:
                already += 1
                continue
            conn.execute(
                sa.insert(events).values(
                    contact_id=contact_id,
                    result=result.value,
                    day=day,
                    detail=None if r["detail"] is None else str(r["detail"])[:500],
                    source=source[:500],
                    at=datetime.now(UTC),
                )
            )
            conn.execute(
                sa.update(contacts).where(contacts.c.contact_id == contact_id).values(status=result.status.value)
            )
            stored += 1
            if result == Delivery.RETURNED and found["address"]:
                key = (doubtful.c.debtor_id == found["debtor_id"]) & (doubtful.c.address == found["address"])
                if conn.execute(sa.select(doubtful.c.debtor_id).where(key)).first() is None:
                    conn.execute(
                        sa.insert(doubtful).values(
                            debtor_id=found["debtor_id"], address=found["address"], since=day, contact_id=contact_id
                        )
                    )
                    marked += 1
        audit(
            conn,
            AuditAction.CONTACT_RESULTS,
            source[:200],
            {"rows": rows.height, "stored": stored, "already_stored": already, "rejected": len(rejects)},
        )
    return Recorded(rows.height, stored, already, marked, pl.DataFrame(rejects, schema=REJECT_SCHEMA))
