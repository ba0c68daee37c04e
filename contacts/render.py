"""Letters as PDF: the template's Typst source compiled by Typst (the ``typst`` package bundles the
compiler and its fonts). Only Typst's embedded fonts are used, never the machine's, and the PDF's
creation date is the letter's day: the same data and template give the same bytes on any machine."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache

from contacts.templates import TemplateError, TemplateVersion


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int

    @property
    def sha256(self) -> str:
        import hashlib

        return hashlib.sha256(self.pdf).hexdigest()


_lock = threading.Lock()


@cache
def _compiler():
    import typst

    return typst.Compiler(ignore_system_fonts=True)


def pdf(version: TemplateVersion, data: dict, day: date) -> Rendered:
    """The letter of ``data`` as a PDF, dated ``day`` (its creation date)."""
    import typst

    if not version.typst:
        raise TemplateError(f"template {version.name} is not a letter's (Typst) template")
    source = version.render(data).encode()
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    try:
        with _lock:  # one compiler per process; its world is not shared across threads
            document = _compiler().compile(source, format="pdf", timestamp=moment)
    except typst.TypstError as e:
        raise TemplateError(f"template {version.name} ({version.sha256[:12]}): Typst: {e.message}") from None
    return Rendered(document, page_count(document))


def page_count(document: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(document)).pages)
