"""Sending a day's queued contacts whose window is open: one entry point (``dispatch``).

The queued contacts of the day whose channel's window holds the moment ``at`` are written (the
letter's data from the store and the engine as of the day, its template's current version), handed
to their channel's driver, then marked sent (with the data, template version, document's sha256,
pages and address) or failed, in one transaction. A contact whose window closed before ``at`` is
marked expired, never sent late; one whose window has not opened waits. A contact is never sent
outside its window, whatever asked for it.

If the process dies after a driver took a batch and before the store records it, the contacts stay
queued and the next dispatch sends them again (at least once; a print batch's folder is named by its
moment, so it is never overwritten)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from contacts import letters, render, templates
from contacts import store as contact_store
from contacts.channels import Message, Outbound
from contacts.vocabulary import Channel, Template


@dataclass
class Dispatched:
    day: date
    at: datetime
    sent: dict[str, int] = field(default_factory=dict)  # per channel
    failed: list[dict] = field(default_factory=list)  # contact_id, channel, detail
    expired: int = 0
    waiting: dict[str, int] = field(default_factory=dict)  # queued for a channel without a driver
    batches: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "at": self.at.isoformat(),
            "sent": self.sent,
            "failed": len(self.failed),
            "failures": self.failed[:20],
            "expired": self.expired,
            "waiting_for_a_driver": self.waiting,
            "batches": self.batches,
        }


def recipient(row: dict, channel: Channel) -> str | None:
    if channel == Channel.LETTER:
        parts = [row["street"], row["postal_code"], row["city"]]
        return None if any(p is None for p in parts) else "\n".join(parts)
    return row["email"] if channel == Channel.EMAIL else row["phone"]


#: contacts handed to a channel at once (a print batch's folder, a gateway's file): bounds the memory
BATCH = 5_000
#: fewer letters than this are rendered in this process (starting workers costs more)
PARALLEL_FROM = 200


def _prepared(rows, channel: Channel, versions: dict, purchaser, day: date, done: Dispatched) -> list[tuple]:
    """(row, address, version, data) of each contact of ``rows`` that can be written; the others
    are failed with why."""
    found = []
    for row in rows:
        problem = None
        address = recipient(row, channel)
        if address is None:
            problem = f"no {channel.value} address any more"
        elif row["nrb"] is None:
            problem = "no virtual account"
        elif row["total_due"] is None:
            problem = "the engine gave no state for the claim"
        if problem:
            done.failed.append({"contact_id": row["contact_id"], "channel": channel.value, "detail": problem})
            continue
        version = versions[(row["template"], channel.value)]
        safe = bool(row["time_barred"]) and row["debtor_kind"] == "consumer"
        found.append(
            (row, address, version, letters.data_of(row, purchaser, day, version.title(row["template"], safe)))
        )
    return found


def _render_one(version: templates.TemplateVersion, data: dict, day: date) -> render.Rendered:
    return render.pdf(version, data, day)


def _rendered(items: list[tuple], day: date, workers: int) -> list[render.Rendered]:
    """The letters of ``items`` as PDFs, in their order: in ``workers`` processes for many."""
    if workers <= 1 or len(items) < PARALLEL_FROM:
        return [render.pdf(version, data, day) for _, _, version, data in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned (not forked) workers: this process may hold threads (polars, numba) a fork would copy mid-work
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        versions = [version for _, _, version, _ in items]
        datas = [data for _, _, _, data in items]
        return list(
            pool.map(_render_one, versions, datas, [day] * len(items), chunksize=max(1, len(items) // (8 * workers)))
        )


def _messages(prepared: list[tuple], channel: Channel, day: date, workers: int) -> tuple[list[Message], dict]:
    """The messages of ``prepared`` and, per contact, what the store records of it once sent."""
    messages, data_of = [], {}
    made = _rendered(prepared, day, workers) if channel == Channel.LETTER else [None] * len(prepared)
    for (row, address, version, data), letter in zip(prepared, made, strict=True):
        amounts = {k: data["amounts"][k] for k in ("principal", "interest", "costs", "total")}
        if letter is not None:
            message = Message(
                row["contact_id"],
                row["claim_id"],
                row["debtor_id"],
                row["template"],
                address,
                data["title"],
                pdf=letter.pdf,
                pages=letter.pages,
                amounts=amounts | {"name": row["name"]},
            )
            digest, pages = letter.sha256, letter.pages
        else:
            text = version.render(data).strip()
            message = Message(
                row["contact_id"], row["claim_id"], row["debtor_id"], row["template"], address, data["title"], text
            )
            digest, pages = hashlib.sha256(text.encode()).hexdigest(), None
        messages.append(message)
        data_of[row["contact_id"]] = {
            "contact_id": row["contact_id"],
            "template_hash": version.sha256,
            "data": data,
            "document_sha256": digest,
            "pages": pages,
            "address": address,
        }
    return messages, data_of


def dispatch(
    engine: sa.Engine,
    day: date,
    at: datetime,
    drivers: dict[Channel, Outbound],
    *,
    purchaser: letters.Purchaser,
    accounts: pl.DataFrame,
    template_folder: Path | None = None,
    allow_stale_rates: bool = False,
    workers: int | None = None,
    batch_size: int = BATCH,
) -> Dispatched:
    """Send the queued contacts of ``day`` whose window holds ``at`` through ``drivers``: a batch
    per channel and ``batch_size`` contacts, letters rendered by ``workers`` processes (default:
    the machine's cores)."""
    workers = workers or os.cpu_count() or 1
    from engine.store.records import AuditAction, audit

    done = Dispatched(day, at)
    due, done.expired = contact_store.due(engine, day, at)
    if due.height == 0:
        return done
    without = due.filter(~pl.col("channel").is_in([c.value for c in drivers]))
    done.waiting = {r["channel"]: r["len"] for r in without.group_by("channel").len().sort("channel").to_dicts()}
    due = due.filter(pl.col("channel").is_in([c.value for c in drivers]))
    if due.height == 0:
        return done
    versions: dict[tuple[str, str], templates.TemplateVersion] = {}
    for template, channel in due.select("template", "channel").unique().iter_rows():
        versions[(template, channel)] = templates.current(Template(template), Channel(channel), template_folder)
    with engine.begin() as conn:
        for version in versions.values():
            contact_store.stored_template(conn, version)
    with engine.connect() as conn:
        rows = letters.facts(conn, due, day, accounts, allow_stale_rates=allow_stale_rates)
    sent_rows: list[dict] = []
    for channel in sorted({Channel(c) for c in rows["channel"].unique()}, key=list(Channel).index):
        mine = rows.filter(pl.col("channel") == channel.value).sort("contact_id")
        for first in range(0, mine.height, batch_size):
            chunk = mine.slice(first, batch_size).iter_rows(named=True)
            prepared = _prepared(chunk, channel, versions, purchaser, day, done)
            if not prepared:
                continue
            messages, data_of = _messages(prepared, channel, day, workers)
            batch = f"{day.isoformat()}-{channel.value}-{at.strftime('%H%M%S')}-{messages[0].contact_id}"
            handed = drivers[channel].send(messages, batch)
            done.batches.append(batch)
            for h in handed:
                if h.ok:
                    sent_rows.append(data_of[h.contact_id] | {"batch": batch})
                    done.sent[channel.value] = done.sent.get(channel.value, 0) + 1
                else:
                    done.failed.append({"contact_id": h.contact_id, "channel": channel.value, "detail": h.detail})
    contact_store.mark_sent(engine, sent_rows, done.failed, at)
    with engine.begin() as conn:
        audit(conn, AuditAction.CONTACTS_SENT, day.isoformat(), done.summary() | {"failures": len(done.failed)})
    return done
