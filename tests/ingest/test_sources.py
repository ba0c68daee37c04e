"""Seller files as they come: encodings, BOMs, delimiters, quotes with separators and newlines in
them, blank lines, trailing separators, CRLF, XLSX cells and Parquet."""

from __future__ import annotations

import codecs
import csv
import datetime
import io

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import sources
from ingest.sources import (
    BROKEN,
    FIELDS,
    NO_LINE_END,
    OPEN_QUOTE,
    SourceError,
    detect_delimiter,
    kind_of,
    read_batches,
    scan,
)

POLISH = "Zażółć gęślą jaźń ŻÓŁW Świętokrzyska Źródło"


def read(path, **options) -> pl.DataFrame:
    return pl.concat(list(read_batches(scan(path), **options)))


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8"),
        ("cp1250", b"", "cp1250"),
        ("iso-8859-2", b"", "iso-8859-2"),
    ],
)
def test_the_encoding_is_detected_and_polish_letters_survive(tmp_path, encoding, bom, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(bom + f"nazwa;kwota\n{POLISH};1 234,56\nŚląsk;5\n".encode(encoding))
    scanned = scan(path)
    assert scanned.encoding == expected
    frame = read(path)
    assert frame.columns == ["row", "nazwa", "kwota", FIELDS, BROKEN]  # no BOM glued to the first header
    assert frame["nazwa"].to_list() == [POLISH, "Śląsk"]


def test_windows_1250_is_told_from_iso_8859_2_by_the_bytes_that_differ(tmp_path):
    # 'ś' is 0x9C in Windows-1250 and 0xB6 in ISO-8859-2; 'ą' 0xB9 and 0xB1
    (tmp_path / "w.csv").write_bytes("a\nś\n".encode("cp1250"))
    (tmp_path / "i.csv").write_bytes("a\nś\n".encode("iso-8859-2"))
    (tmp_path / "only_shared.csv").write_bytes("a\nółę\n".encode("cp1250"))  # bytes both code pages share
    assert scan(tmp_path / "w.csv").encoding == "cp1250"
    assert scan(tmp_path / "i.csv").encoding == "iso-8859-2"
    assert read(tmp_path / "only_shared.csv")["a"].to_list() == ["ółę"]


@pytest.mark.parametrize("separator", [";", ",", "\t", "|"])
def test_the_delimiter_is_detected(tmp_path, separator):
    path = tmp_path / "f.csv"
    path.write_text(separator.join(["a", "b", "c"]) + "\n" + separator.join(["1", '"x, y; z"', "3"]) + "\n")
    frame = read(path)
    assert frame.columns == ["row", "a", "b", "c", FIELDS, BROKEN] and frame["b"].to_list() == ["x, y; z"]


def test_separators_inside_quotes_do_not_count():
    assert detect_delimiter('"a;b;c;d",e,f') == ","
    assert detect_delimiter("single") == ";"


def test_quoted_newlines_blank_lines_trailing_separators_and_crlf(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(
        b'ref;name;amount;\r\nA1;"Kowalski; Jan\r\nul. Polna 1";10,00;\r\n\r\nA2;"He said ""no""";5;\r\n;;;\r\nA3;x;1\r\n'
    )
    frame = read(path)
    assert frame.filter(pl.col("ref").is_not_null())["name"].to_list() == [
        "Kowalski; Jan\r\nul. Polna 1",
        'He said "no"',
        "x",
    ]
    # rows as a spreadsheet numbers them: the header is row 1, a record with a newline inside is one row
    assert frame["row"].to_list() == [2, 3, 4, 5, 6]
    assert frame.filter(pl.col("ref") == "A3")["amount"].to_list() == ["1"]


def test_xlsx_cells_come_as_text(tmp_path):
    import xlsxwriter

    path = tmp_path / "f.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Wierzytelności")
    sheet.write_row(0, 0, ["ref", "amount", "pesel", "due"])
    sheet.write_row(1, 0, ["A1", 1234.56, 44051401359])
    sheet.write_datetime(1, 3, datetime.datetime(2024, 1, 10), book.add_format({"num_format": "dd.mm.yyyy"}))
    sheet.write_row(2, 0, ["A2", "1 234,56", "02070803628", "10.01.2024"])
    book.close()
    frame = read(path, sheet="Wierzytelności")
    assert frame.rows() == [
        (2, "A1", "1234.56", "44051401359", "2024-01-10 00:00:00"),
        (3, "A2", "1 234,56", "02070803628", "10.01.2024"),
    ]


def test_parquet_columns_of_any_type_come_as_text(tmp_path):
    path = tmp_path / "f.parquet"
    pl.DataFrame(
        {
            "ref": ["A1"],
            "principal": [pl.Series([1234.5]).cast(pl.Decimal(12, 2))[0]],
            "due_date": [datetime.date(2024, 1, 10)],
        }
    ).write_parquet(path)
    assert read(path).rows() == [(1, "A1", "1234.50", "2024-01-10")]


def test_an_unknown_file_type_is_refused(tmp_path):
    with pytest.raises(SourceError, match="unknown file type"):
        kind_of(tmp_path / "f.pdf")


FIELD = st.sampled_from(["a", "1", "", "ż", " x", '"x;y"', '"two\nlines"', '"two\r\nlines"', '"say ""hi"""'])
LINE = st.lists(FIELD, max_size=5).map(";".join)  # fields of a well-formed CSV; blank lines and ragged ones too


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(LINE, max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(1, 40),
    st.booleans(),
    st.sampled_from(["utf-8", "utf-8-sig", "cp1250", "iso-8859-2"]),
)
def test_a_csv_read_in_pieces_of_any_size_is_the_csv_read_whole(
    tmp_path, lines, newline, piece, last_newline, encoding
):
    """Pieces are cut at record ends and each is transcoded on its own: whatever the size and the
    encoding (a BOM only before the first piece), the rows are those of the UTF-8 file read whole."""
    text = newline.join(["h1;h2;h3", *lines]) + (newline if last_newline else "")
    (tmp_path / "utf8.csv").write_text(text, encoding="utf-8", newline="")
    path = tmp_path / "f.csv"
    path.write_text(text, encoding=encoding, newline="")
    whole = read(tmp_path / "utf8.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sources, "PIECE", piece)
        pieces = read(path, encoding=encoding.removesuffix("-sig"), batch_rows=3)
    assert pieces.equals(whole), (pieces, whole)


#: and quotes inside an unquoted value (characters there for Python's csv module; polars reads some
#: as characters, some as a quoted part, and refuses some files of them)
QUOTED_INSIDE = st.sampled_from(['a "b;c" d', 'Firma "X" Sp.', 'x""y'])
ANY_LINE = st.lists(st.one_of(FIELD, QUOTED_INSIDE), max_size=5).map(";".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.one_of(LINE, ANY_LINE), min_size=1, max_size=12),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from([";", ","]),
)
def test_each_row_carries_its_number_of_fields_as_a_csv_reader_counts_them(
    tmp_path, lines, newline, last_newline, separator
):
    """FIELDS is counted over the bytes (numpy, not a loop over rows): it is what Python's csv
    module finds in each record, quoted separators and newlines not counted (a blank line is one
    empty field), and the values are the ones it reads. Quotes inside an unquoted value with a
    separator between them (read by polars now one way, now the other) refuse the file, naming
    the row; never read shifted."""
    lines = [line.replace(";", separator) for line in lines]
    text = newline.join(["h1;h2;h3".replace(";", separator), *lines]) + (newline if last_newline else "")
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8", newline="")
    try:
        frame = read(path, delimiter=separator)
    except SourceError as e:
        assert 'a "b' + separator in text and "quotes inside an unquoted value" in str(e), e
        return
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))[1:]
    assert frame[FIELDS].to_list() == [max(len(r), 1) for r in records]
    assert frame.select(pl.col("h1", "h2", "h3").fill_null("")).rows() == [tuple((r + [""] * 3)[:3]) for r in records]
    # only the last row can be cut: no line end and fewer fields than the header
    cut = [None] * len(records)
    if not last_newline and text.rstrip("\r\n") == text and max(len(records[-1]), 1) < 3:
        cut[-1] = NO_LINE_END
    assert frame[BROKEN].to_list() == cut


def test_a_short_row_a_long_row_and_a_file_cut_in_its_last_row_are_counted_not_shifted(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b'ref;name;rate;city\nA1;x;17,04;Kielce\nA2;x;5\nA3;"Kowalski; Jan";1;2;3\nA4;x;17,0')
    frame = read(path)
    assert frame.select("row", "ref", "rate", FIELDS, BROKEN).rows() == [
        (2, "A1", "17,04", 4, None),
        (3, "A2", "5", 3, None),
        (4, "A3", "1", 5, None),
        (5, "A4", "17,0", 3, NO_LINE_END),
    ]
    path.write_bytes(
        b"ref;name;rate;city\nA1;x;17,04;Kielce\nA4;x;17,04;Kiel"
    )  # cut in the last field: it has them all
    assert read(path)[BROKEN].to_list() == [None, None]


def test_a_header_ending_in_a_separator_asks_no_row_to_end_in_one(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"ref;name;\nA1;x\nA2;x;\nA3")
    frame = read(path)
    assert frame.select(FIELDS, BROKEN).rows() == [(2, None), (3, None), (1, NO_LINE_END)]
    assert sources.header_fields(frame.columns) == (2, 3)


def test_a_quote_never_closed_in_the_last_row_is_that_row_and_anywhere_else_refuses_the_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b'ref;name;city\nA1;x;y\nA2;"Kowal')
    assert read(path).select("row", "ref", FIELDS, BROKEN).rows() == [(2, "A1", 3, None), (3, None, 2, OPEN_QUOTE)]
    path.write_bytes(b'ref;name;city\nA1;"x;y\nA2;z;w\nA3;z;w\n')
    with pytest.raises(SourceError, match=r"a quote opened in row 2 is never closed: the 3 lines from there"):
        read(path)
    path.write_bytes(b'"ref;name;city\nA1;x;y\n')
    with pytest.raises(SourceError, match="a quote in the header row is never closed"):
        read(path)
    path.write_bytes(b'ref;name;city\nA0;x;y\nA1;x"y;z\nA2;"w\n')  # pairs up by count, not as a CSV reader reads it
    with pytest.raises(
        SourceError, match=r"row 3: quotes inside an unquoted value with a separator or a line end between"
    ):
        read(path)
    path.write_bytes(b'ref;name;city\nA1;Firma "A;B" x;z\n')  # read by polars as four fields, or as three
    with pytest.raises(
        SourceError, match=r'row 2: .* Quote such a value whole, its quotes doubled: "Firma ""A;B"" x"$'
    ):
        read(path)
    path.write_bytes(b'ref;name;city\nA1;Firma "AB" x;z\n')  # no separator inside: three fields either way
    assert read(path).select("name", FIELDS).rows() == [('Firma "AB" x', 3)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_or_without_bom_are_read(tmp_path, encoding):
    path = tmp_path / "f.csv"
    path.write_bytes(f"nazwa;kwota\r\n{POLISH};1 234,56\r\nĄ;5\r\n".encode(encoding))
    scanned = scan(path)
    expected = encoding if encoding[-2:] in ("le", "be") else encoding + "-le"  # Python writes a BOM and little-endian
    assert scanned.encoding == expected
    frame = read(path)
    assert frame.columns[:3] == ["row", "nazwa", "kwota"]
    assert frame.select("nazwa", "kwota").rows() == [(POLISH, "1 234,56"), ("Ą", "5")]
    assert read(path, encoding="cp1250").equals(frame)  # the bytes decide: a profile's code page cannot garble it


def test_a_profile_encoding_the_bytes_contradict_is_named_never_read_garbled(tmp_path):
    utf8, cp1250 = tmp_path / "utf8.csv", tmp_path / "cp1250.csv"
    utf8.write_bytes("Dłużnik;Kwota\nŁukasz;5\n".encode())
    cp1250.write_bytes("Dłużnik;Kwota\nŁukasz;5\n".encode("cp1250"))
    with pytest.raises(
        SourceError,
        match=r"the file is UTF-8 but the profile says Windows-1250: its 'Dłużnik' would read "
        r"'DĹ‚uĹĽnik'; set `encoding: utf-8` in the profile",
    ):
        read(utf8, encoding="cp1250")
    with pytest.raises(
        SourceError,
        match=r"the file is not UTF-8 \(byte 0xB3 at line 1 is none\), but the profile says "
        r"UTF-8; it reads as Windows-1250: set `encoding: cp1250`",
    ):
        read(cp1250, encoding="utf-8")
    ascii_only = tmp_path / "ascii.csv"
    ascii_only.write_bytes(b"a;b\n1;2\n")  # the same text in either: no contradiction
    assert read(ascii_only, encoding="cp1250").select("a", "b").rows() == [("1", "2")]


def test_random_bytes_and_binary_formats_named_csv_are_refused_by_what_they_are(tmp_path):
    import random

    path = tmp_path / "f.csv"
    path.write_bytes(random.Random(7).randbytes(5000))
    with pytest.raises(
        SourceError, match=r"^f\.csv is not a CSV text file \(\d+ control characters, \d+ of them NUL bytes"
    ):
        scan(path)
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(SourceError, match=r"not a CSV text file \(it is a ZIP archive: an XLSX file named \.csv\?"):
        scan(path)
    path.write_bytes(b"a;b\n1;2\x00\n" + b"3;4\n" * 100)  # one stray NUL: text still, the cell's row is rejected
    assert read(path)["b"].to_list()[0] == "2\x00"


def test_an_xlsx_or_parquet_file_that_is_none_is_refused_by_what_it_is(tmp_path):
    for name, what in (("f.xlsx", "an Excel workbook"), ("f.parquet", "a Parquet file")):
        (tmp_path / name).write_bytes(b"ref;name\nA1;x\n")
        with pytest.raises(
            SourceError,
            match=rf"^{name} is not {what}: it does not start as one does \(it looks like text: "
            r"a CSV file named so\?\)$",
        ):
            scan(tmp_path / name)


def test_an_ascii_file_with_a_utf8_bom_is_read_under_a_code_page_profile(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"ref;name\nA1;x\n")
    assert read(path, encoding="cp1250").columns[:3] == ["row", "ref", "name"]  # no BOM read as 'ď»ż' into the header
