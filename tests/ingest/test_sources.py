"""Seller files as they come: encodings, BOMs, delimiters, quotes with separators and newlines in
them, blank lines, trailing separators, CRLF, XLSX cells and Parquet."""

from __future__ import annotations

import codecs
import datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import sources
from ingest.sources import SourceError, detect_delimiter, kind_of, read_batches, scan

POLISH = "Zażółć gęślą jaźń ŻÓŁW Świętokrzyska Źródło"


def read(path, **options) -> pl.DataFrame:
    return pl.concat(list(read_batches(scan(path), **options)))


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [("utf-8", b"", "utf-8"), ("utf-8", codecs.BOM_UTF8, "utf-8"), ("cp1250", b"", "cp1250"),
     ("iso-8859-2", b"", "iso-8859-2")],
)  # fmt: skip
def test_the_encoding_is_detected_and_polish_letters_survive(tmp_path, encoding, bom, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(bom + f"nazwa;kwota\n{POLISH};1 234,56\nŚląsk;5\n".encode(encoding))
    scanned = scan(path)
    assert scanned.encoding == expected
    frame = read(path)
    assert frame.columns == ["row", "nazwa", "kwota"]  # no BOM glued to the first header
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
    assert frame.columns == ["row", "a", "b", "c"] and frame["b"].to_list() == ["x, y; z"]


def test_separators_inside_quotes_do_not_count():
    assert detect_delimiter('"a;b;c;d",e,f') == ","
    assert detect_delimiter("single") == ";"


def test_quoted_newlines_blank_lines_trailing_separators_and_crlf(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b'ref;name;amount;\r\nA1;"Kowalski; Jan\r\nul. Polna 1";10,00;\r\n\r\nA2;"He said ""no""";5;\r\n;;;\r\nA3;x;1\r\n')
    frame = read(path)
    assert frame.filter(pl.col("ref").is_not_null())["name"].to_list() == ["Kowalski; Jan\r\nul. Polna 1", 'He said "no"', "x"]
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
    assert frame.rows() == [(2, "A1", "1234.56", "44051401359", "2024-01-10 00:00:00"), (3, "A2", "1 234,56", "02070803628", "10.01.2024")]


def test_parquet_columns_of_any_type_come_as_text(tmp_path):
    path = tmp_path / "f.parquet"
    pl.DataFrame({"ref": ["A1"], "principal": [pl.Series([1234.5]).cast(pl.Decimal(12, 2))[0]],
                  "due_date": [datetime.date(2024, 1, 10)]}).write_parquet(path)  # fmt: skip
    assert read(path).rows() == [(1, "A1", "1234.50", "2024-01-10")]


def test_an_unknown_file_type_is_refused(tmp_path):
    with pytest.raises(SourceError, match="unknown file type"):
        kind_of(tmp_path / "f.pdf")


FIELD = st.sampled_from(["a", "1", "", "ż", " x", '"x;y"', '"two\nlines"', '"two\r\nlines"', '"say ""hi"""'])
LINE = st.lists(FIELD, max_size=5).map(";".join)  # fields of a well-formed CSV; blank lines and ragged ones too


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE, max_size=12), st.sampled_from(["\n", "\r\n"]), st.integers(1, 40), st.booleans(),
       st.sampled_from(["utf-8", "utf-8-sig", "cp1250", "iso-8859-2"]))  # fmt: skip
def test_a_csv_read_in_pieces_of_any_size_is_the_csv_read_whole(tmp_path, lines, newline, piece, last_newline, encoding):
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
