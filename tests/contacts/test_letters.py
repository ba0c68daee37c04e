"""Letters rendered from their data: the same bytes twice, the debtor's name and the amounts on the
PDF (read back with pypdf and, as page images, with pdftoppm), Polish formats, values that cannot
change the letter, and the time-barred consumer claim's wording that never mentions a court."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from contacts import letters, polish, render, templates
from contacts.vocabulary import Channel, Template
from engine.domain import InterestBasis
from tests.contacts.letters_data import SHOWN_ACCOUNT, data

DAY = date(2026, 12, 7)
#: words that speak of a court, a suit or enforcement (in any inflection): never in a letter about a
#: time-barred consumer claim (art. 117 § 2¹ KC: it may be asked for, never threatened with court)
#: (the texts are written without diacritics too: "sadow"; "uzasadniony" is not a court)
COURT = re.compile(r"sąd|\bsad(u|em|zie)?\b|sadow|przedsad|pozew|pozw|komornik|egzekuc|nakaz|\bepu\b", re.IGNORECASE)


def text_of(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader

    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(p.extract_text().replace("\u00a0", " ").split()) for p in pages)


def letter(template: Template, **options) -> render.Rendered:
    version = templates.current(template, Channel.LETTER)
    d = data(template.value, **options)
    d["title"] = version.title(template.value, d["limitation_safe"])
    return render.pdf(version, d, DAY)


@pytest.mark.parametrize("template", list(Template))
def test_the_same_letter_rendered_twice_is_the_same_bytes(template):
    first, second = letter(template), letter(template)
    assert first.pdf == second.pdf
    assert first.pdf.startswith(b"%PDF-")


@pytest.mark.parametrize("template", list(Template))
def test_a_pdf_read_back_has_the_debtors_name_address_amounts_and_account(template):
    text = text_of(letter(template).pdf)
    for expected in (
        "Jan Kowalski",
        "ul. Długa 5/7 m. 3",
        "00-950 Łódź",
        "1 328,46 zł",  # the total
        SHOWN_ACCOUNT,
        "7 grudnia 2026 r.",
    ):
        assert expected in text, expected
    assert "1 234,56 zł" in text and "78,90 zł" in text and "15,00 zł" in text


def test_the_demand_names_the_interest_basis_its_rate_and_the_day_it_runs_to():
    text = text_of(letter(Template.DEMAND).pdf)
    assert "Odsetki ustawowe za opóźnienie (art. 481 § 1 i 2 Kodeksu cywilnego)" in text
    assert "9,25% w skali roku" in text
    assert "naliczone do dnia 7 grudnia 2026 r. włącznie" in text
    assert "Przedsądowe wezwanie do zapłaty" in text
    assert "drogę postępowania sądowego" in text  # a claim that is not time-barred may be sued


#: every (template, channel) the shipped templates can write
WRITTEN = [(t, c) for t in Template for c in Channel if (templates.TEMPLATES / templates.file_of(t, c)).exists()]


def test_the_shipped_rules_only_ask_for_templates_that_exist():
    from contacts import rules

    asked = {(s.template, c) for s in rules.load().rules.steps for c in s.channels}
    assert asked <= set(WRITTEN)
    templates.check_steps(rules.load())


@pytest.mark.parametrize(("template", "channel"), WRITTEN)
def test_a_time_barred_consumer_claims_contact_never_mentions_a_court(template, channel):
    version = templates.current(template, channel)
    d = data(template.value, safe=True, interest_time_barred=500)
    d["title"] = version.title(template.value, True)
    text = text_of(render.pdf(version, d, DAY).pdf) if version.typst else version.render(d)
    assert not COURT.search(text), COURT.search(text)
    assert "przedawn" in text.lower()  # the debtor is told the claim is time-barred
    if version.typst:
        assert "Przedsądowe" not in text


def test_the_same_claim_not_time_barred_is_threatened_with_court_so_the_check_above_can_fail():
    assert COURT.search(text_of(letter(Template.DEMAND).pdf))


def test_values_print_as_they_are_and_cannot_change_the_letter():
    name = 'Kowalski *Syn* #set page(width: 1cm) [x] $y$ _z_ @ref <l> "q" \\ /'
    text = text_of(letter(Template.NOTICE, name=name).pdf)
    assert " ".join(name.split()) in text


def test_polish_formats():
    assert polish.amount(123_456_789) == "1\u00a0234\u00a0567,89\u00a0zł"
    assert polish.amount(5) == "0,05\u00a0zł"
    assert polish.long_date("2026-03-01") == "1\u00a0marca 2026\u00a0r."
    assert polish.short_date(date(2026, 3, 1)) == "01.03.2026"
    assert polish.percent(925) == "9,25%"


def test_every_interest_basis_has_its_words_in_the_letters():
    assert set(letters.basis_words()) == {b.value for b in InterestBasis}


def test_a_template_version_is_the_hash_of_every_file_it_reads(tmp_path):
    shipped = templates.current(Template.DEMAND, Channel.LETTER)
    assert {name for name, _ in shipped.files} == {
        "demand.typ.j2",
        "letter.typ.j2",
        "_amounts.typ.j2",
        "_payment.typ.j2",
        "subjects.yaml",
    }
    for name, text in shipped.files:
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert templates.current(Template.DEMAND, Channel.LETTER, tmp_path).sha256 == shipped.sha256
    (tmp_path / "_payment.typ.j2").write_text("changed", encoding="utf-8")
    assert templates.current(Template.DEMAND, Channel.LETTER, tmp_path).sha256 != shipped.sha256
    assert templates.current(Template.NOTICE, Channel.LETTER).sha256 != shipped.sha256


def test_a_missing_value_is_an_error_naming_the_template():
    d = data()
    del d["account"]
    with pytest.raises(templates.TemplateError, match="demand.typ.j2.*account"):
        render.pdf(templates.current(Template.DEMAND, Channel.LETTER), d, DAY)


def test_every_title_is_in_the_titles_file():
    titles = yaml.safe_load((templates.TEMPLATES / templates.TITLES).read_text(encoding="utf-8"))
    assert set(titles) == {t.value for t in Template}
    assert not COURT.search(titles["demand"]["limitation_safe"])


# --- the pages as images (pdftoppm) --------------------------------------------------------------

PPI = 100


def _poppler() -> None:
    missing = [tool for tool in ("pdftoppm", "pdftotext") if shutil.which(tool) is None]
    if missing:  # .ci/run installs poppler-utils: a missing tool is a failure, not a skip
        pytest.fail(f"{', '.join(missing)} not found: install Debian's poppler-utils (.ci/run does)")


def _boxes(pdf: Path) -> list[tuple[str, float, float, float, float]]:
    """Every word of page 1 with its box in points (pdftotext -bbox)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    found = re.findall(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html.stdout)
    return [(w, float(a), float(b), float(c), float(d)) for a, b, c, d, w in found]


@pytest.mark.parametrize("template", [Template.NOTICE, Template.DEMAND])
def test_the_rendered_pages_as_png_show_the_name_and_the_amounts_where_the_text_is(tmp_path, template):
    """The PNG check: the page rendered by pdftoppm is read with Pillow; the words the letter must
    carry (found with their boxes by pdftotext on the same PDF) are inked on the image, and the
    page around the text is white. (No OCR: tesseract with Polish data is a heavy dependency for a
    check the boxes already make exact.)"""
    from PIL import Image

    _poppler()
    pdf = tmp_path / f"{template.value}.pdf"
    pdf.write_bytes(letter(template).pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(PPI), str(pdf), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert pngs, "pdftoppm wrote no page"
    image = Image.open(pngs[0]).convert("L")
    scale = PPI / 72
    words = _boxes(pdf)
    text = " ".join(w for w, *_ in words)
    for expected in ("Kowalski", "1\u00a0328,46", "1090", "Łódź"):
        assert expected.replace("\u00a0", " ") in text.replace("\u00a0", " "), expected
    wanted = {"Kowalski", "Łódź", "1090", "zł"}
    checked = 0
    for word, x0, y0, x1, y1 in words:
        if word in wanted:
            crop = image.crop((int(x0 * scale), int(y0 * scale), int(x1 * scale) + 1, int(y1 * scale) + 1))
            assert min(crop.tobytes()) < 100, f"{word!r} is not inked on the page at its box"
            checked += 1
    assert checked >= len(wanted)
    margin = image.crop((0, 0, image.width, int(20 * scale)))  # the top 20 points: no text there
    assert min(margin.tobytes()) > 240
