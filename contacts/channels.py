"""Outbound channels behind one interface (``Outbound``): a print house's files, SMTP for e-mail,
an SMS provider (``SmsProvider``; the file driver writes what a provider's bulk upload takes), and a
call list for phone contacts. Each takes a batch of messages and says, per message, whether it was
handed over; what happens after (delivered, bounced, a letter returned) comes back later as
delivery results (`cession contacts results FILE`).

The files a driver writes appear whole or not at all: written in a temporary folder beside the
target, then renamed into place (``os.replace``)."""

from __future__ import annotations

import os
import shutil
import smtplib
import tempfile
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

import polars as pl

from contacts.vocabulary import Channel


@dataclass(frozen=True)
class Message:
    """One contact to hand to a channel."""

    contact_id: int
    claim_id: int
    debtor_id: int
    template: str
    recipient: str  # a postal address (three lines), an e-mail address, a phone number
    subject: str
    text: str = ""  # the body of an e-mail or a text message
    pdf: bytes | None = None  # a letter
    pages: int | None = None
    amounts: dict = field(default_factory=dict)  # grosz: principal, interest, costs, total


@dataclass(frozen=True)
class Handed:
    """A message's fate at the channel: handed over (``ok``) or refused, with why."""

    contact_id: int
    ok: bool
    detail: str = ""


class Outbound(Protocol):
    channel: Channel

    def send(self, messages: list[Message], batch: str) -> list[Handed]:
        """Hand ``messages`` over as one batch named ``batch``."""
        ...


def _staged(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))


def _into_place(staged: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(staged, ignore_errors=True)
        raise FileExistsError(f"{target}: already there; a batch is never written over")
    os.replace(staged, target)


MANIFEST_SCHEMA = {
    "letter_id": pl.Int64,
    "file": pl.String,
    "claim_id": pl.Int64,
    "debtor_id": pl.Int64,
    "name": pl.String,
    "street": pl.String,
    "postal_code": pl.String,
    "city": pl.String,
    "template": pl.String,
    "principal": pl.String,
    "interest": pl.String,
    "costs": pl.String,
    "total": pl.String,
    "pages": pl.Int32,
    "sha256": pl.String,
}


class PrintHouse:
    """Letters for a print house: a folder per batch, ``letters/<letter id>.pdf`` and a manifest
    (``manifest.csv`` and ``manifest.parquet``: letter id, file, claim, debtor, name and address,
    template, amounts in PLN as "1234.56", page count, the PDF's sha256)."""

    channel = Channel.LETTER

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, messages: list[Message], batch: str) -> list[Handed]:
        import hashlib

        from engine.money import pln

        if not messages:
            return []
        target = self.folder / batch
        staged = _staged(target)
        try:
            (staged / "letters").mkdir()
            rows = []
            for m in messages:
                name = f"letters/{m.contact_id}.pdf"
                (staged / name).write_bytes(m.pdf or b"")
                lines = m.recipient.split("\n")
                rows.append(
                    {
                        "letter_id": m.contact_id,
                        "file": name,
                        "claim_id": m.claim_id,
                        "debtor_id": m.debtor_id,
                        "name": m.amounts.get("name"),
                        "street": lines[0] if lines else None,
                        "postal_code": lines[1] if len(lines) > 1 else None,
                        "city": lines[2] if len(lines) > 2 else None,
                        "template": m.template,
                        **{k: pln(m.amounts[k]) for k in ("principal", "interest", "costs", "total")},
                        "pages": m.pages,
                        "sha256": hashlib.sha256(m.pdf or b"").hexdigest(),
                    }
                )
            manifest = pl.DataFrame(rows, schema=MANIFEST_SCHEMA)
            manifest.write_csv(staged / "manifest.csv")
            manifest.write_parquet(staged / "manifest.parquet")
            _into_place(staged, target)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return [Handed(m.contact_id, True, str(target)) for m in messages]


class Smtp:
    """E-mail through an SMTP server (stdlib ``smtplib``); STARTTLS and a login when given."""

    channel = Channel.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.user, self.password, self.timeout = starttls, user, password, timeout

    def send(self, messages: list[Message], batch: str) -> list[Handed]:
        if not messages:
            return []
        handed = []
        try:
            server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except OSError as e:
            return [Handed(m.contact_id, False, f"SMTP {self.host}:{self.port}: {e}") for m in messages]
        with server:
            if self.starttls:
                server.starttls()
            if self.user:
                server.login(self.user, self.password or "")
            for m in messages:
                mail = EmailMessage()
                mail["From"] = self.sender
                mail["To"] = m.recipient
                mail["Subject"] = m.subject
                mail["Date"] = formatdate(localtime=False)
                mail["Message-ID"] = make_msgid(idstring=f"contact-{m.contact_id}")
                mail["X-Cession-Contact"] = str(m.contact_id)
                mail["X-Cession-Batch"] = batch
                mail.set_content(m.text)
                if m.pdf is not None:
                    mail.add_attachment(m.pdf, maintype="application", subtype="pdf", filename=f"{m.contact_id}.pdf")
                try:
                    server.send_message(mail)
                    handed.append(Handed(m.contact_id, True, mail["Message-ID"]))
                except smtplib.SMTPException as e:
                    handed.append(Handed(m.contact_id, False, f"SMTP: {e}"))
        return handed


class SmsProvider(Protocol):
    """An SMS gateway: takes (contact id, phone, text) triples, says which it accepted."""

    def submit(self, texts: list[tuple[int, str, str]], batch: str) -> list[Handed]: ...


class SmsFiles:
    """The file driver of ``SmsProvider``: one CSV per batch (contact_id, phone, text), as a
    gateway's bulk upload takes it, written whole."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def submit(self, texts: list[tuple[int, str, str]], batch: str) -> list[Handed]:
        target = self.folder / batch
        staged = _staged(target)
        try:
            frame = pl.DataFrame(
                texts, schema={"contact_id": pl.Int64, "phone": pl.String, "text": pl.String}, orient="row"
            )
            frame.write_csv(staged / "sms.csv")
            _into_place(staged, target)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return [Handed(contact_id, True, str(target / "sms.csv")) for contact_id, _, _ in texts]


class Sms:
    """Text messages through an ``SmsProvider``."""

    channel = Channel.SMS

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider

    def send(self, messages: list[Message], batch: str) -> list[Handed]:
        if not messages:
            return []
        return self.provider.submit([(m.contact_id, m.recipient, m.text) for m in messages], batch)


class CallList:
    """Phone contacts for the purchaser's own staff: a call list per batch (contact id, phone, the
    script), written whole; Cession dials nothing."""

    channel = Channel.PHONE

    def __init__(self, folder: Path) -> None:
        self.files = SmsFiles(folder)

    def send(self, messages: list[Message], batch: str) -> list[Handed]:
        if not messages:
            return []
        return self.files.submit([(m.contact_id, m.recipient, m.text) for m in messages], f"{batch}-calls")
