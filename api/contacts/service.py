"""Contacts with debtors (contacts/): plan a day, send what is due, take delivery results back,
keep objections, show a claim's or a debtor's history, and the letters' templates and copies.
Keyword-only functions over an opened store; the command line (api/cli/contacts.py) and the HTTP
API call these."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from engine.errors import InputError, NotFound


@dataclass(frozen=True)
class Planned:
    day: date
    plan: pl.DataFrame  # contacts.plan.PLAN_SCHEMA (computed) or the stored contacts of the day
    stored: bool  # the day's plan is the stored one (it was sent from)
    rules_sha256: str
    stale_rules: bool

    def summary(self) -> dict:
        from contacts.plan import summary

        return {
            "as_of": self.day.isoformat(),
            "stored": self.stored,
            "rules_sha256": self.rules_sha256,
            "stale_rules": self.stale_rules,
        } | summary(self.plan)


def _rules(path: Path | None):
    from contacts import rules

    return rules.load(
        path or (Path(os.environ["CESSION_CONTACT_RULES"]) if os.environ.get("CESSION_CONTACT_RULES") else None)
    )


def _accounts(store: sa.Engine) -> pl.DataFrame:
    from contacts.store import read_virtual_accounts

    return read_virtual_accounts(store)


def _write(path: Path, data: bytes) -> None:
    """``data`` to ``path``, whole or not at all (a temporary file beside it, then one rename)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def plan(*, store: sa.Engine, as_of: date, rules_path: Path | None = None) -> Planned:
    """What would go out on ``as_of`` and what is held back, and why. A day already sent from is
    shown as stored (its plan is made once)."""
    from contacts import plan as planner
    from contacts import store as contact_store

    rules = _rules(rules_path)
    if contact_store.planned_days(store, as_of):
        return Planned(as_of, contact_store.stored_plan(store, as_of), True, rules.sha256, rules.stale_on(as_of))
    book = contact_store.read_book(store, as_of, _accounts(store))
    return Planned(as_of, planner.plan(book, rules, as_of), False, rules.sha256, rules.stale_on(as_of))


@dataclass(frozen=True)
class Outlets:
    """Where a dispatch sends: the print house's folder, an SMTP server, the SMS provider's folder,
    the call lists' folder. A channel without an outlet keeps its contacts queued."""

    letters: Path | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str | None = None
    smtp_starttls: bool = False
    sms: Path | None = None
    calls: Path | None = None

    def drivers(self) -> dict:
        from contacts import channels
        from contacts.vocabulary import Channel

        found = {}
        if self.letters is not None:
            found[Channel.LETTER] = channels.PrintHouse(self.letters)
        if self.smtp_host is not None:
            if not self.mail_from:
                raise InputError("--mail-from: the sender's address is needed to send e-mail")
            found[Channel.EMAIL] = channels.Smtp(
                self.smtp_host,
                self.smtp_port,
                self.mail_from,
                starttls=self.smtp_starttls,
                user=os.environ.get("CESSION_SMTP_USER"),
                password=os.environ.get("CESSION_SMTP_PASSWORD"),
            )
        if self.sms is not None:
            found[Channel.SMS] = channels.Sms(channels.SmsFiles(self.sms))
        if self.calls is not None:
            found[Channel.PHONE] = channels.CallList(self.calls)
        return found


def send(
    *,
    store: sa.Engine,
    as_of: date,
    outlets: Outlets,
    at: datetime | None = None,
    rules_path: Path | None = None,
    purchaser_path: Path | None = None,
    template_folder: Path | None = None,
    allow_stale_rates: bool = False,
    workers: int | None = None,
) -> dict:
    """Store the day's plan (once: a day planned before keeps its plan), then send the queued
    contacts whose window holds ``at`` (default: now)."""
    from contacts import dispatch, letters, templates
    from contacts import plan as planner
    from contacts import store as contact_store

    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise InputError("--at: give the moment with its offset, e.g. 2026-12-07T10:00:00+01:00")
    drivers = outlets.drivers()
    if not drivers:
        raise InputError("nothing to send through: give --letters DIR, --smtp-host, --sms-out DIR or --calls-out DIR")
    who = letters.purchaser(purchaser_path)
    rules = _rules(rules_path)
    templates.check_steps(rules, template_folder)
    accounts = _accounts(store)
    stored = 0
    if not contact_store.planned_days(store, as_of):
        book = contact_store.read_book(store, as_of, accounts)
        stored = contact_store.write_plan(store, as_of, planner.plan(book, rules, as_of), rules.sha256)
    done = dispatch.dispatch(
        store,
        as_of,
        at,
        drivers,
        purchaser=who,
        accounts=accounts,
        template_folder=template_folder,
        allow_stale_rates=allow_stale_rates,
        workers=workers,
    )
    return {"planned": stored} | done.summary()


def results(*, store: sa.Engine, path: Path, rejects: Path | None = None) -> dict:
    """Delivery results of ``path`` stored as contact events; rejected rows to ``rejects`` (CSV)."""
    from contacts import results as delivery

    recorded = delivery.record(store, delivery.read(path), str(path))
    if rejects is not None:
        from ledger.files import write

        write(recorded.rejects, rejects, sheet="rejects", money=())
    return recorded.summary() | {"rejects": recorded.rejects.head(20).to_dicts()}


def history(*, store: sa.Engine, claim_id: int | None = None, debtor_id: int | None = None) -> dict:
    """The contacts of a claim or a debtor (newest first, with delivery results), and the debtor's
    objections and doubtful addresses."""
    from contacts import store as contact_store
    from engine.store import claims as repository

    if (claim_id is None) == (debtor_id is None):
        raise InputError("give one of --claim ID and --debtor ID")
    with store.connect() as conn:
        if claim_id is not None:
            claim = repository.claim_row(conn, claim_id)
            if claim is None:
                raise NotFound(f"claim {claim_id}: not found")
            debtor_id = claim["debtor_id"]
        elif repository.debtor_row(conn, debtor_id) is None:
            raise NotFound(f"debtor {debtor_id}: not found")
        return {
            "claim_id": claim_id,
            "debtor_id": debtor_id,
            "contacts": contact_store.history(conn, claim_id=claim_id, debtor_id=None if claim_id else debtor_id),
            "objections": contact_store.objections(conn, debtor_id),
            "doubtful_addresses": contact_store.doubtful(conn, debtor_id),
        }


def object_to(
    *, store: sa.Engine, debtor_id: int, channel: str, since: date, note: str | None = None, withdraw: bool = False
) -> bool:
    """Store (or withdraw) a debtor's objection to a channel; whether anything changed."""
    from contacts import store as contact_store
    from contacts.vocabulary import Channel
    from engine.store import claims as repository

    try:
        chosen = Channel(channel)
    except ValueError:
        raise InputError(f"--channel: {channel!r} is not one of {Channel.spelled()}") from None
    with store.connect() as conn:
        if repository.debtor_row(conn, debtor_id) is None:
            raise NotFound(f"debtor {debtor_id}: not found")
    if withdraw:
        return contact_store.withdraw_objection(store, debtor_id, chosen)
    return contact_store.object_to(store, debtor_id, chosen, since, note)


def templates(*, store: sa.Engine, template_folder: Path | None = None) -> dict:
    """The templates as the files hold them now (sha256), and every version the store keeps."""
    from contacts import store as contact_store
    from contacts import templates as t
    from contacts.vocabulary import Channel, Template

    current = []
    for template in Template:
        for channel in Channel:
            try:
                version = t.current(template, channel, template_folder)
            except t.TemplateError:
                continue
            current.append(
                {"template": template.value, "channel": channel.value, "name": version.name, "sha256": version.sha256}
            )
    return {"current": current, "stored": contact_store.template_versions(store)}


def reproduce(*, store: sa.Engine, letter_id: int, out: Path) -> dict:
    """A sent letter rendered again from its stored data and template version; refused unless the
    bytes are the ones sent (the stored sha256)."""
    from contacts import render
    from contacts import store as contact_store

    with store.connect() as conn:
        row = contact_store.contact_row(conn, letter_id)
        if row is None or row["template_hash"] is None:
            raise NotFound(f"letter {letter_id}: no letter was sent under this id")
        version = contact_store.template_of(conn, row["template_hash"])
    if version is None or not version.typst:
        raise NotFound(f"letter {letter_id}: contact {letter_id} is a {row['channel']}, not a letter")
    made = render.pdf(version, row["data"], row["day"])
    if made.sha256 != row["document_sha256"]:
        raise InputError(
            f"letter {letter_id}: rendered again it is {made.sha256[:12]}, sent as {row['document_sha256'][:12]}: "
            "not reproduced (a different Typst version?); nothing written"
        )
    _write(out, made.pdf)
    return {"letter_id": letter_id, "out": str(out), "sha256": made.sha256, "pages": made.pages}


def preview(
    *,
    store: sa.Engine,
    claim_id: int,
    template: str,
    as_of: date,
    out: Path,
    purchaser_path: Path | None = None,
    template_folder: Path | None = None,
    allow_stale_rates: bool = False,
) -> dict:
    """A letter about ``claim_id`` as it would be sent on ``as_of`` (nothing stored, not sent)."""
    from contacts import letters, render
    from contacts import templates as t
    from contacts.vocabulary import Channel, Template

    try:
        chosen = Template(template)
    except ValueError:
        raise InputError(f"--template: {template!r} is not one of {Template.spelled()}") from None
    with store.connect() as conn:
        from engine.store import claims as repository

        claim = repository.claim_row(conn, claim_id)
        if claim is None:
            raise NotFound(f"claim {claim_id}: not found")
        contact = pl.DataFrame(
            {"contact_id": [0], "claim_id": [claim_id], "debtor_id": [claim["debtor_id"]], "template": [chosen.value]}
        )
        row = letters.facts(conn, contact, as_of, _accounts(store), allow_stale_rates=allow_stale_rates).row(
            0, named=True
        )
    if row["nrb"] is None:
        raise InputError(f"claim {claim_id}: its debtor {claim['debtor_id']} has no virtual account")
    version = t.current(chosen, Channel.LETTER, template_folder)
    safe = bool(row["time_barred"]) and row["debtor_kind"] == "consumer"
    data = letters.data_of(row, letters.purchaser(purchaser_path), as_of, version.title(chosen.value, safe))
    made = render.pdf(version, data, as_of)
    _write(out, made.pdf)
    return {"claim_id": claim_id, "out": str(out), "pages": made.pages, "sha256": made.sha256, "data": data}
