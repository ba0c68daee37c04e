"""Seller files broken as they come broken: rows cut short or too long, a file cut in its last
row, a header and no rows, UTF-16/UTF-32, a file in another encoding than its profile says, bytes
that are no text. Each is a reject of its row or a refusal of the file, in one clear line; never a
shifted or shortened value stored."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from engine.store import records
from ingest import IngestError, ingest_file
from ingest.profiles import SHIPPED
from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv
from tests.ingest.test_ingest import GOOD, HEADER, TODAY, count

#: the canonical header with the contractual rate in percent before the debtor's e-mail: a row cut
#: inside its rate ('17,0' of '17,04') has fewer fields than the header
RATE_HEADER = [c for c in HEADER if c not in ("contractual_rate_bp", "email")] + ["contractual_rate_percent", "email"]
CONTRACTUAL = GOOD | {"interest_basis": "contractual", "contractual_rate_percent": "17,04", "email": "jan@example.com"}


def line(values: dict, columns: list[str] = RATE_HEADER, separator: str = ";") -> str:
    return separator.join(str(values.get(c, CONTRACTUAL.get(c, ""))) for c in columns)


def rows_file(path: Path, lines: list[str], end: str = "\n", header: list[str] = RATE_HEADER) -> Path:
    path.write_text("\n".join([";".join(header), *lines]) + end, encoding="utf-8")
    return path


def stored(store, portfolio: str) -> pl.DataFrame:
    with store.connect() as conn:
        return records.read_claims(conn, portfolio)


def test_a_file_cut_in_its_last_row_rejects_that_row_and_never_stores_a_shortened_rate(store, tmp_path):
    whole = rows_file(tmp_path / "whole.csv", [line({"seller_ref": f"R{i}"}) for i in range(3)])
    cut_at = whole.read_bytes().rindex(b"17,04") + len(b"17,0")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(whole.read_bytes()[:cut_at])  # '...;17,0': the rate cut, the e-mail gone, no line end
    report = ingest_file(store, cut, "P1", today=TODAY)
    assert (report.rows_read, report.accepted, report.rejected) == (3, 2, 1)
    assert report.failures.rows() == [
        (
            4,
            "R2",
            "field_count",
            "the file ends inside this row: 16 of 17 fields and no line end (a file cut short?)",
            report.failures["value"][0],
        ),
    ]
    assert report.failures["value"][0].endswith("| 150.00 | 17,0")  # the row as read, for the seller to find
    claims = stored(store, "P1")
    assert claims["seller_ref"].to_list() == ["R0", "R1"] and set(claims["contractual_rate_bp"]) == {1704}


def test_short_and_long_rows_are_rejected_with_the_counts_and_their_neighbours_stored(store, tmp_path):
    good = line({"seller_ref": "R1"})
    short = ";".join(line({"seller_ref": "R2"}).split(";")[:-2])  # two fields fewer than the header
    long = line({"seller_ref": "R3", "name": "Kowalski; Jan"})  # a separator inside an unquoted name
    path = rows_file(tmp_path / "f.csv", [good, short, long, line({"seller_ref": "R4"})])
    report = ingest_file(store, path, "P1", today=TODAY)
    assert (report.rows_read, report.accepted, report.rejected) == (4, 2, 2)
    assert report.failures.select("row", "seller_ref", "column", "rule").rows() == [
        (3, "R2", "field_count", "15 fields where the header has 17 (a row cut short, or a separator missing?)"),
        (4, "R3", "field_count", "18 fields where the header has 17 (a separator inside an unquoted value?)"),
    ]
    assert stored(store, "P1")["seller_ref"].to_list() == ["R1", "R4"]
    assert report.summary()["rejects_by_rule"] == {
        "field_count: 15 fields where the header has 17 (a row cut short, or a separator missing?)": 1,
        "field_count: 18 fields where the header has 17 (a separator inside an unquoted value?)": 1,
    }


def test_a_profile_may_pad_rows_whose_trailing_empty_fields_the_export_drops_but_not_a_cut_last_row(store, tmp_path):
    profile = tmp_path / "trims.yaml"
    profile.write_text("name: trims\npad_short_rows: true\n", encoding="utf-8")
    trimmed = line({"seller_ref": "R2", "email": ""}).removesuffix(";")  # the empty e-mail dropped, with its separator
    cut = ";".join(line({"seller_ref": "R3"}).split(";")[:-1])
    path = rows_file(tmp_path / "f.csv", [line({"seller_ref": "R1"}), trimmed, cut], end="")
    report = ingest_file(store, path, "P1", profile=profile, today=TODAY)
    assert (report.rows_read, report.accepted, report.rejected, report.padded_rows) == (3, 2, 1, 1)
    assert report.summary()["padded_rows"] == 1
    assert report.failures.select("row", "rule").rows() == [
        (4, "the file ends inside this row: 16 of 17 fields and no line end (a file cut short?)")
    ]
    claims = stored(store, "P1")
    assert claims["seller_ref"].to_list() == ["R1", "R2"]
    # without the key the same trimmed row is a reject
    report = ingest_file(store, rows_file(tmp_path / "g.csv", [line({"seller_ref": "R9"}), trimmed]), "P2", today=TODAY)
    assert (report.accepted, report.rejected, report.padded_rows) == (1, 1, 0)


def test_a_file_of_a_header_only_is_refused_and_makes_no_portfolio(store, tmp_path):
    for name, text in (
        ("header.csv", ";".join(RATE_HEADER) + "\r\n"),
        ("blank.csv", ";".join(RATE_HEADER) + "\n\n;;\n"),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(
            IngestError, match=rf"^{name}: no rows after the header.*nothing to ingest, no portfolio made"
        ):
            ingest_file(store, path, "P1", today=TODAY)
    assert count(store, "portfolios") == 0 and count(store, "ingest_files") == 0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_export_is_ingested_as_its_utf8_twin(store, tmp_path, encoding):
    frame, _ = seller_file(60, seed=9, bad_share=0.1)
    twin = write_seller_csv(frame, tmp_path / "cp1250.csv")
    wide = tmp_path / "wide.csv"
    wide.write_bytes(twin.read_bytes().decode("cp1250").encode(encoding))
    options = dict(profile=PROFILE, price=100_000, purchase_date=PURCHASE_DATE, today=TODAY)
    expected = ingest_file(store, twin, "CP", **options)
    report = ingest_file(store, wide, "WIDE", **options, allow_duplicates=True)  # the same claims again, on purpose
    assert report.encoding.startswith(encoding[:6]) and report.accepted == expected.accepted > 0
    assert report.failures.equals(expected.failures)
    columns = ["seller_ref", "principal", "contractual_rate_bp", "due_date"]
    assert stored(store, "WIDE").select(columns).equals(stored(store, "CP").select(columns))
    with store.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM debtors").scalars().all()
    assert any(
        set(name) & set("ąćęłńóśźż") for name in names
    )  # Polish letters came through (debtors are shared by PESEL)


def test_a_utf8_file_under_the_windows_1250_profile_is_refused_with_the_encodings_named(store, tmp_path):
    frame, _ = seller_file(20, seed=9, bad_share=0.0)
    path = write_seller_csv(frame, tmp_path / "utf8.csv", encoding="utf-8")
    with pytest.raises(
        IngestError,
        match=r"^utf8\.csv: the file is UTF-8 but the profile says Windows-1250: its '.+' would "
        r"read '.+'; set `encoding: utf-8` in the profile, or save the file as Windows-1250$",
    ):
        ingest_file(store, path, "P1", profile=PROFILE, price=100, purchase_date=PURCHASE_DATE, today=TODAY)
    assert count(store, "portfolios") == 0


def test_garbled_column_names_get_a_hint_about_the_encoding(store, tmp_path):
    """A UTF-8 header read as Windows-1250 (a UTF-8 file with one byte broken is detected as a code
    page): the missing column's error says what the names were meant to be."""
    frame, _ = seller_file(5, seed=9, bad_share=0.0)
    path = write_seller_csv(frame, tmp_path / "broken.csv", encoding="utf-8")
    path.write_bytes(path.read_bytes() + b"\xff\r\n")
    detecting = tmp_path / "detecting.yaml"  # the shipped profile without its encoding: detected
    detecting.write_text(
        SHIPPED.joinpath(f"{PROFILE}.yaml").read_text(encoding="utf-8").replace("encoding: cp1250\n", ""),
        encoding="utf-8",
    )
    with pytest.raises(
        IngestError,
        match=r"\(the header reads as UTF-8 read as Windows-1250: '.*Ĺ.*' is '.+'; "
        r"set `encoding: utf-8` in the profile\)",
    ):
        ingest_file(store, path, "P1", profile=detecting, price=100, purchase_date=PURCHASE_DATE, today=TODAY)


def test_random_bytes_named_csv_are_refused_in_one_line(store, tmp_path):
    import random

    path = tmp_path / "export.csv"
    path.write_bytes(random.Random(1).randbytes(20_000))
    with pytest.raises(
        IngestError, match=r"^export\.csv is not a CSV text file \([\d,]+ control characters"
    ) as refused:
        ingest_file(store, path, "P1", today=TODAY)
    assert "\n" not in str(refused.value) and "polars" not in str(refused.value).lower()


def test_a_stray_control_character_rejects_its_row_not_the_file(store, tmp_path):
    path = rows_file(
        tmp_path / "f.csv", [line({"seller_ref": "R1"}), line({"seller_ref": "R2", "name": "Jan\x00Kowalski"})]
    )
    report = ingest_file(store, path, "P1", today=TODAY)
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.failures.select("row", "column", "rule").rows() == [(3, "name", "a control character (binary data?)")]


def test_a_line_break_or_tab_in_a_name_or_address_rejects_its_row(store, tmp_path):
    """A quoted value may hold line breaks: in a name or a street they would break every letter."""
    header = [*RATE_HEADER, "street"]
    path = rows_file(
        tmp_path / "f.csv",
        [
            line({"seller_ref": "R1", "street": "ul. Polna 7"}, header),
            line({"seller_ref": "R2", "name": '"Anna\nNowak"'}, header),
            line({"seller_ref": "R3", "street": '"ul. Długa\r\n5"'}, header),
            line({"seller_ref": "R4", "street": "ul. Polna\t7"}, header),
        ],
        header=header,
    )
    report = ingest_file(store, path, "P1", today=TODAY)
    assert (report.accepted, report.rejected) == (1, 3)
    rule = "a line break or tab inside the value (one line expected)"
    assert report.failures.select("row", "column", "rule").rows() == [
        (3, "name", rule),
        (4, "street", rule),
        (5, "street", rule),
    ]
    assert stored(store, "P1")["seller_ref"].to_list() == ["R1"]


def test_a_reader_error_names_the_file_once(store, tmp_path):
    path = rows_file(
        tmp_path / "f.csv",
        [line({"seller_ref": "R1"}), line({"seller_ref": "R2", "name": '"Anna'}), line({"seller_ref": "R3"})],
    )
    with pytest.raises(IngestError, match=r"^f\.csv: a quote opened in row 3 is never closed") as refused:
        ingest_file(store, path, "P1", today=TODAY)
    assert "f.csv: f.csv" not in str(refused.value)


def cession(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.slow
def test_the_command_rejects_a_cut_row_and_refuses_a_header_only_file_with_exit_2(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    cut = rows_file(tmp_path / "cut.csv", [line({"seller_ref": "R1"}), line({"seller_ref": "R2"})[:-25]], end="")
    done = cession("ingest", str(cut), "--portfolio", "P1", "--reports", str(tmp_path / "cut"), "--database-url", db)
    assert done.returncode == 0, done.stderr
    assert "row 3: field_count: the file ends inside this row: 15 of 17 fields and no line end" in done.stdout
    rejects = pl.read_csv(tmp_path / "cut.rejects.csv")
    assert rejects.select("row", "column").rows() == [(3, "field_count")]
    header_only = rows_file(tmp_path / "empty.csv", [])
    refused = cession("ingest", str(header_only), "--portfolio", "P2", "--database-url", db)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: empty.csv: no rows after the header: nothing to ingest, no portfolio made"
    ]
