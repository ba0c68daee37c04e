"""Letter and message templates (Jinja2), versioned by content: a template is the set of files it
reads (itself, the layout it extends, the parts it includes, the titles), and its sha256 is over
their names and texts. The store keeps each version's files (``contact_templates``), so a letter
sent years ago renders again from its stored data, byte for byte.

A letter's template (``<template>.typ.j2``) writes Typst source: every value it prints is escaped
for Typst's markup (``typst_markup``), so a debtor named ``Kowalski *Syn* #1`` prints as is and
cannot change the letter. E-mails (``<template>.email.j2``) and texts (``<template>.sms.j2``) are
plain text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from contacts import polish
from contacts.vocabulary import Channel, Template
from engine.errors import InputError

TEMPLATES = Path(__file__).with_name("templates")
TITLES = "subjects.yaml"
#: what a Typst backslash escape makes literal in markup
_TYPST_SPECIAL = re.compile(r"([\\#$*_`<>@\[\]~/=\-+\"'{}])")


class TemplateError(InputError):
    """A template that cannot be read or rendered (a missing file, a syntax error, a missing value)."""


class TypstCode(str):
    """Text already in Typst's syntax (a string literal): printed as is, not escaped."""


def typst_markup(value: object) -> str:
    """A value as literal text in Typst markup: special characters escaped, lines joined."""
    if isinstance(value, TypstCode):
        return value
    text = " ".join(str("" if value is None else value).split())
    return _TYPST_SPECIAL.sub(r"\\\1", text)


def typst_string(value: object) -> TypstCode:
    """A value as a Typst string literal, for code (``#set document(title: ...)``)."""
    text = " ".join(str("" if value is None else value).split())
    return TypstCode('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')


def file_of(template: Template, channel: Channel) -> str:
    """The file a template is written in for a channel: letters in Typst, e-mails and texts as text
    (a phone call's script is the text message's)."""
    suffix = {Channel.LETTER: "typ", Channel.EMAIL: "email", Channel.SMS: "sms", Channel.PHONE: "sms"}[channel]
    return f"{template.value}.{suffix}.j2"


@dataclass(frozen=True)
class TemplateVersion:
    """One version of a template: the file it starts from and every file it reads, with the sha256
    of their names and texts."""

    name: str
    files: tuple[tuple[str, str], ...]  # (file name, text), sorted by name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.files, ensure_ascii=False).encode()).hexdigest()

    @property
    def typst(self) -> bool:
        return self.name.endswith(".typ.j2")

    def titles(self) -> dict:
        return yaml.safe_load(dict(self.files)[TITLES])

    def render(self, data: dict) -> str:
        """The template's text for ``data`` (Typst source for a letter, text for a message)."""
        import jinja2

        try:
            return _environment(self.files, self.typst).get_template(self.name).render(**data)
        except jinja2.UndefinedError as e:
            raise TemplateError(f"template {self.name} ({self.sha256[:12]}): {e.message}") from None
        except jinja2.TemplateError as e:
            raise TemplateError(f"template {self.name} ({self.sha256[:12]}): {e}") from None

    def title(self, template: str, limitation_safe: bool) -> str:
        titles = self.titles()[template]
        return titles.get("limitation_safe", titles["title"]) if limitation_safe else titles["title"]


def _referenced(name: str, read, seen: set[str]) -> None:
    import jinja2
    from jinja2 import meta

    if name in seen:
        return
    seen.add(name)
    try:
        parsed = jinja2.Environment().parse(read(name))
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(f"template {name}:{e.lineno}: {e.message}") from None
    for child in meta.find_referenced_templates(parsed):
        if child is None:
            raise TemplateError(f"template {name}: names a template by a variable; only literal names are versioned")
        _referenced(child, read, seen)


def current(template: Template, channel: Channel, folder: Path | None = None) -> TemplateVersion:
    """The template's version as the files of ``folder`` (default: the shipped ones) hold it now."""
    folder = folder or TEMPLATES
    name = file_of(template, channel)

    def read(file: str) -> str:
        try:
            return (folder / file).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateError(
                f"{folder / file}: no such template (the {channel.value} of {template.value})"
            ) from None

    used: set[str] = set()
    _referenced(name, read, used)
    used.add(TITLES)
    return TemplateVersion(name, tuple(sorted((f, read(f)) for f in used)))


def check_steps(rules, folder: Path | None = None) -> None:
    """Refuse rules whose steps name a channel the templates do not write (``TemplateError`` naming
    the step, the channel and the missing file)."""
    for step in rules.rules.steps:
        for channel in step.channels:
            if not ((folder or TEMPLATES) / file_of(step.template, channel)).exists():
                raise TemplateError(
                    f"{rules.path}: step {step.name} sends {step.template.value} by {channel.value}, but "
                    f"{(folder or TEMPLATES) / file_of(step.template, channel)} does not exist"
                )


def stored(name: str, files: dict[str, str]) -> TemplateVersion:
    """A version as the store keeps it."""
    return TemplateVersion(name, tuple(sorted(files.items())))


@cache
def _environment(files: tuple[tuple[str, str], ...], typst: bool):
    import jinja2

    from engine.store import virtual_accounts

    env = jinja2.Environment(
        loader=jinja2.DictLoader(dict(files)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=typst_markup if typst else (lambda v: "" if v is None else v),
    )
    env.filters.update(
        zl=polish.amount,
        long_date=polish.long_date,
        short_date=polish.short_date,
        percent=polish.percent,
        nrb=virtual_accounts.display,
        typst_string=typst_string,
    )
    return env
