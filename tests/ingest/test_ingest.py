"""Seller files into the store: every bad row found for its reason, every row accounted for,
nothing stored twice, debtors deduplicated, and a failed ingest leaves the store as it was."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store import ingests, records, virtual_accounts
from ingest import IngestError, allocate_price, ingest_file, write_reports
from ingest.debtors import national_id_of, national_key
from ingest.pipeline import DuplicateError
from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv

TODAY = date(2026, 12, 1)
HEADER = [
    "seller_ref",
    "debtor_kind",
    "name",
    "national_id",
    "postal_code",
    "principal",
    "interest_at_cutoff",
    "costs_at_cutoff",
    "due_date",
    "cutoff_date",
    "interest_basis",
    "contractual_rate_bp",
    "limitation_kind",
    "limitation_years",
    "purchase_date",
    "purchase_price",
    "email",
]
GOOD = {
    "seller_ref": "R1",
    "debtor_kind": "consumer",
    "name": "Jan Kowalski",
    "national_id": "44051401359",
    "postal_code": "00-950",
    "principal": "1000.00",
    "interest_at_cutoff": "10.50",
    "costs_at_cutoff": "0",
    "due_date": "2020-01-15",
    "cutoff_date": "2024-05-31",
    "interest_basis": "statutory_late",
    "contractual_rate_bp": "",
    "limitation_kind": "general",
    "limitation_years": "",
    "purchase_date": "2024-06-28",
    "purchase_price": "150.00",
    "email": "",
}


def canonical_csv(path, rows: list[dict], separator: str = ";") -> str:
    lines = [separator.join(HEADER)] + [separator.join(str(r.get(c, GOOD[c])) for c in HEADER) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def count(store, table: str) -> int:
    with store.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()


def test_a_messy_seller_file_is_ingested_and_every_bad_row_is_found_for_its_reason(store, tmp_path):
    frame, expected = seller_file(1200, seed=5, bad_share=0.05)
    path = write_seller_csv(frame, tmp_path / "eksport.csv")
    report = ingest_file(
        store, path, "BANK-2024-06", profile=PROFILE, price=12_345_678, purchase_date=PURCHASE_DATE, today=TODAY
    )
    assert report.encoding == "cp1250"
    assert report.rows_read == 1200 and report.accepted + report.rejected == report.rows_read
    assert set(report.failures["row"]) == set(expected["row"])  # no good row rejected, no bad row let in
    for row, column, rule, defect in expected.iter_rows():
        theirs = report.failures.filter((pl.col("row") == row) & (pl.col("column") == column))
        assert theirs.height and any(rule in r for r in theirs["rule"]), (
            row,
            defect,
            report.failures.filter(pl.col("row") == row).rows(),
        )
    with store.connect() as conn:
        claims = records.read_claims(conn, "BANK-2024-06")
    assert claims.height == report.accepted
    assert claims["purchase_price"].sum() == 12_345_678  # the price allocated to the grosz
    assert claims["seller_ref"].is_unique().all()
    with store.connect() as conn:
        debtors = pl.DataFrame(
            conn.exec_driver_sql("SELECT debtor_id, national_id FROM debtors").all(),
            schema=["debtor_id", "national_id"],
            orient="row",
        )
    assert set(claims["debtor_id"]) == set(debtors["debtor_id"])  # every claim's debtor is stored
    with store.connect() as conn:  # ... with a virtual account of their own, given in the same transaction
        accounts = virtual_accounts.of_debtors(conn, debtors["debtor_id"])
    assert accounts.height == debtors.height and accounts["nrb"].n_unique() == debtors.height
    assert debtors["national_id"].drop_nulls().is_unique().all()  # one debtor per PESEL/NIP


def test_a_product_of_the_profile_maps_to_the_public_medical_commercial_rate(store, tmp_path):
    """The shipped profile maps `Faktura SP ZOZ` (invoices of public hospitals) to
    commercial_late_medical; the store keeps the value (migration 0004 widened the column)."""
    frame, _ = seller_file(1200, seed=5, bad_share=0.0)
    assert (frame["Produkt"] == "Faktura SP ZOZ").any()
    path = write_seller_csv(frame, tmp_path / "eksport.csv")
    report = ingest_file(
        store, path, "SPZOZ-2024", profile=PROFILE, price=1_000_000, purchase_date=PURCHASE_DATE, today=TODAY
    )
    with store.connect() as conn:
        claims = records.read_claims(conn, "SPZOZ-2024")
    medical = claims.filter(pl.col("interest_basis") == "commercial_late_medical")
    assert report.accepted == claims.height and medical.height == (frame["Produkt"] == "Faktura SP ZOZ").sum() > 0
    assert set(medical["limitation_kind"]) == {"business"}


def test_rows_with_one_fault_each_are_rejected_for_exactly_that_fault(store, tmp_path):
    faults = [
        ({"national_id": "44051401358"}, "national_id", "PESEL check digit"),
        ({"national_id": "4405140135"}, "national_id", "11 digits"),
        ({"debtor_kind": "business", "national_id": "8567346216", "name": "Firma"}, "national_id", "NIP check digit"),
        ({"principal": "-1.00"}, "principal", ">= 0"),
        ({"interest_at_cutoff": "1.005"}, "interest_at_cutoff", "at most 2 decimals"),
        ({"costs_at_cutoff": "1,2E+3"}, "costs_at_cutoff", "scientific notation"),
        ({"due_date": "2019-02-29"}, "due_date", "no such day"),
        ({"due_date": "2024-06-01"}, "due_date", "due_date after cutoff_date"),
        ({"purchase_date": "2024-05-01"}, "cutoff_date", "cutoff_date after purchase_date"),
        ({"purchase_date": "2099-01-01", "cutoff_date": "2098-01-01"}, "purchase_date", "in the future"),
        ({"interest_basis": "usurious"}, "interest_basis", "unknown value"),
        ({"interest_basis": "contractual"}, "contractual_rate_percent", "contractual rate"),
        ({"limitation_kind": "custom"}, "limitation_years", "custom"),
        ({"name": ""}, "name", "required"),
        ({"postal_code": "0095"}, "postal_code", "NN-NNN"),
        ({"email": "jan.at.example.pl"}, "email", "e-mail"),
        ({"seller_ref": "DUP"}, "seller_ref", "more than once"),
        ({"seller_ref": "DUP"}, "seller_ref", "more than once"),
    ]
    rows = [
        dict(change, seller_ref=change.get("seller_ref", f"F{i}"), national_id=change.get("national_id", ""))
        for i, (change, _, _) in enumerate(faults)
    ]
    rows.append({"seller_ref": "OK1"})
    report = ingest_file(store, canonical_csv(tmp_path / "f.csv", rows), "P1", today=TODAY)
    assert (report.rows_read, report.accepted, report.rejected) == (len(rows), 1, len(faults))
    for i, (_, column, rule) in enumerate(faults):
        theirs = report.failures.filter(pl.col("row") == i + 2)
        assert theirs["column"].to_list() == [column] and rule in theirs["rule"][0], (i, theirs.rows())
    assert report.failures.filter(pl.col("row") == 2)["value"].to_list() == ["44051401358"]  # the raw value
    assert count(store, "claims") == 1


def test_the_same_file_twice_stores_nothing_and_a_new_version_is_a_portfolio_of_its_own(store, tmp_path):
    path = canonical_csv(tmp_path / "f.csv", [{"seller_ref": "A"}, {"seller_ref": "B", "national_id": ""}])
    first = ingest_file(store, path, "P1", today=TODAY)
    again = ingest_file(store, path, "P1", today=TODAY)
    assert first.status == "ingested" and again.status == "already ingested"
    with pytest.raises(
        DuplicateError, match=r"^f\.csv: this very file \(sha256 \w+…\) is already stored in portfolio P1 by ingest 1"
    ):
        ingest_file(store, path, "P2", today=TODAY)  # the content is recognised: under another name, refused
    assert again.already["portfolio"] == "P1" and count(store, "claims") == 2 and count(store, "debtors") == 2
    second = ingest_file(store, path, "P1", new_version=True, today=TODAY)
    assert (second.portfolio_id, second.version, second.accepted) == ("P1@v2", 2, 2)
    third = ingest_file(store, path, "P1", new_version=True, today=TODAY)
    assert third.portfolio_id == "P1@v3"
    assert count(store, "claims") == 6 and count(store, "ingest_files") == 3
    # the PESEL'd debtor is one debtor across versions; the one without an id is a new debtor each
    # time, reported as a probable duplicate of its earlier self and of the PESEL'd namesake
    assert count(store, "debtors") == 1 + 3
    assert second.known_debtors == 1
    assert second.candidates.select("other_in", "match").rows() == [("store", "name + postal code")] * 2
    on_purpose = ingest_file(store, path, "P2", allow_duplicates=True, today=TODAY)
    assert (on_purpose.status, on_purpose.portfolio_id, on_purpose.accepted) == ("ingested", "P2", 2)
    rerun = ingest_file(store, path, "P2", today=TODAY)
    assert rerun.status == "already ingested" and rerun.already["portfolio"] == "P2"
    assert count(store, "claims") == 8 and count(store, "ingest_files") == 4


def test_another_file_into_the_same_portfolio_adds_only_claims_it_does_not_hold(store, tmp_path):
    ingest_file(store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A"}]), "P1", today=TODAY)
    report = ingest_file(
        store, canonical_csv(tmp_path / "b.csv", [{"seller_ref": "A"}, {"seller_ref": "B"}]), "P1", today=TODAY
    )
    assert (report.accepted, report.rejected) == (1, 1)
    assert "already stored in portfolio P1" in report.failures["rule"][0]


def test_debtors_are_one_per_pesel_across_portfolios_and_lookalikes_are_reported_not_merged(store, tmp_path):
    ingest_file(
        store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A1"}, {"seller_ref": "A2"}]), "P1", today=TODAY
    )
    rows = [
        {"seller_ref": "B1"},  # the same PESEL: the same debtor
        {"seller_ref": "B2", "national_id": "", "name": "KOWALSKI  Jan"},  # no id, same name + postal code
        {"seller_ref": "B3", "national_id": "", "name": "Jan Kowalski", "postal_code": "30-001"},  # other postal code
        {"seller_ref": "B4", "national_id": "02070803628", "name": "Anna Nowak"},
    ]
    report = ingest_file(store, canonical_csv(tmp_path / "b.csv", rows), "P2", today=TODAY)
    with store.connect() as conn:
        claims = records.read_claims(conn).sort("seller_ref")
    ids = dict(zip(claims["seller_ref"], claims["debtor_id"], strict=True))
    assert ids["A1"] == ids["A2"] == ids["B1"]
    assert len({ids["B1"], ids["B2"], ids["B3"], ids["B4"]}) == 4
    assert (report.new_debtors, report.known_debtors) == (3, 1)
    # B2 matches the stored Jan Kowalski by name + birth date? no birth date without a PESEL: by postal code
    assert report.candidates.select("debtor_id", "other_debtor_id", "other_in", "match").rows() == [
        (ids["B2"], ids["A1"], "store", "name + postal code")
    ]
    assert count(store, "debtor_keys") == count(store, "debtors")


def test_a_schema_shaped_parquet_file_needs_no_profile(store, tmp_path):
    path = tmp_path / "claims.parquet"
    pl.DataFrame(
        {
            "seller_ref": ["P-1", "P-2"],
            "debtor_kind": ["consumer", "business"],
            "name": ["Jan Kowalski", "Firma Sp. z o.o."],
            "national_id": ["44051401359", "PL 856-734-62-15"],
            "principal": pl.Series(["1234.56", "99.99"]).cast(pl.Decimal(12, 2)),
            "interest_at_cutoff": [0.1, 2.5],
            "costs_at_cutoff": [0, 3],
            "due_date": [date(2020, 1, 1), date(2021, 1, 1)],
            "cutoff_date": [date(2024, 5, 31)] * 2,
            "interest_basis": ["statutory_late", "commercial_late"],
            "limitation_kind": ["general", "business"],
            "purchase_date": [date(2024, 6, 28)] * 2,
            "purchase_price": ["100", "10.5"],
        }
    ).write_parquet(path)
    report = ingest_file(store, path, "PQ", today=TODAY)
    assert (report.accepted, report.rejected) == (2, 0), report.failures.rows()
    with store.connect() as conn:
        claims = records.read_claims(conn, "PQ").sort("seller_ref")
    assert claims.select("principal", "interest_at_cutoff", "costs_at_cutoff", "purchase_price").rows() == [
        (123456, 10, 0, 10000),
        (9999, 250, 300, 1050),
    ]
    with store.connect() as conn:
        assert sorted(r[0] for r in conn.exec_driver_sql("SELECT national_id FROM debtors")) == [
            "44051401359",
            "8567346215",
        ]


def test_an_xlsx_with_excel_mangled_numbers(store, tmp_path):
    import xlsxwriter

    path = tmp_path / "f.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for r, changes in enumerate(
        [{}, {"national_id": 2070803628, "seller_ref": "X2"}, {"principal": 1234.567, "seller_ref": "X3"}]
    ):
        values = GOOD | {"principal": 1234.56} | changes
        sheet.write_row(r + 1, 0, [values[c] for c in HEADER])
    book.close()
    report = ingest_file(store, path, "XL", today=TODAY)
    assert report.failures.select("row", "column").rows() == [(3, "national_id"), (4, "principal")]
    assert "leading zero" in report.failures["rule"][0] and "at most 2 decimals" in report.failures["rule"][1]


def test_control_totals_are_reconciled(store, tmp_path):
    path = canonical_csv(tmp_path / "f.csv", [{"seller_ref": "A"}, {"seller_ref": "B", "principal": "-5"}])
    ok = ingest_file(store, path, "P1", control_count=2, control_principal=100_000, today=TODAY)
    assert ok.control.ok is False and ok.control.unparsed_principal == 1  # the seller counted a row ingest cannot read
    good = canonical_csv(tmp_path / "g.csv", [{"seller_ref": "C"}, {"seller_ref": "D", "principal": "5"}])
    matching = ingest_file(store, good, "P2", control_count=2, control_principal=100_500, today=TODAY)
    assert matching.control.ok is True
    wrong = ingest_file(store, good, "P3", new_version=True, control_count=3, control_principal=100_500, today=TODAY)
    assert wrong.control.ok is False
    with store.connect() as conn:
        assert [r[0] for r in conn.exec_driver_sql("SELECT control_ok FROM ingest_files ORDER BY ingest_id")] == [
            False,
            True,
            False,
        ]


def test_a_missing_column_or_price_stops_the_ingest_before_anything_is_stored(store, tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("seller_ref,name\nA,Jan\n")
    with pytest.raises(IngestError, match="missing column.*debtor_kind"):
        ingest_file(store, path, "P1", today=TODAY)
    no_price = canonical_csv(tmp_path / "g.csv", [{}])
    no_price_file = tmp_path / "h.csv"
    no_price_file.write_text(
        "\n".join(
            line.rsplit(";", 2)[0] + ";" + line.rsplit(";", 1)[1] for line in Path(no_price).read_text().splitlines()
        )
        + "\n"
    )
    with pytest.raises(IngestError, match=r"purchase_price \(or --price\)"):
        ingest_file(store, no_price_file, "P1", today=TODAY)
    assert count(store, "claims") == 0 and count(store, "ingest_files") == 0


def test_a_failed_ingest_leaves_the_store_as_it_was(store, tmp_path, monkeypatch):
    ingest_file(store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A"}]), "P1", today=TODAY)
    before = {t: count(store, t) for t in ("claims", "debtors", "debtor_keys", "ingest_files", "portfolios")}

    def broken(*_, **__):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(ingests, "record", broken)  # after debtors and claims are written
    with pytest.raises(sa.exc.OperationalError):
        ingest_file(
            store,
            canonical_csv(tmp_path / "b.csv", [{"seller_ref": "B", "national_id": "02070803628"}]),
            "P2",
            today=TODAY,
        )
    assert {t: count(store, t) for t in before} == before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=50), st.integers(0, 10**13))
def test_the_price_is_allocated_to_the_grosz_in_proportion_to_face_value(faces, price):
    shares = allocate_price(pl.Series(faces, dtype=pl.Int64), price)
    assert shares.sum() == price and (shares >= 0).all()
    total = sum(faces)
    for face, share in zip(faces, shares, strict=True):
        exact = price * face / total if total else price / len(faces)
        assert abs(share - exact) < 1 + 1e-9 * exact


def test_a_messy_utf8_file_with_bom_quotes_blank_lines_and_trailing_separators(store, tmp_path):
    header = ",".join(HEADER) + ","
    good = ",".join(GOOD[c] for c in HEADER)
    lines = [
        header,
        good.replace("Jan Kowalski", '"Kowalski, Jan\nul. Długa 5"').replace("R1", "Q1")
        + ",",  # row 2: a newline inside quotes
        "",  # a blank line
        good.replace("R1", "Q2").replace("1000.00", '"1 234,567"') + ",",  # row 4: three decimals, quoted for its comma
        good.replace("R1", "Q3").replace("2024-06-28", "2099-06-28").replace("150.00", "1.00")
        + ",",  # row 5: future purchase
        good.replace("R1", "Q4").replace("44051401359", "44051401358") + ",",  # row 6: bad PESEL
        ",,,,,,,,,,,,,,,,,",  # separators only: a blank row
        good.replace("R1", "Q1").replace("44051401359", "02070803628") + ",",  # row 8: Q1 again
        good.replace("R1", "Q5"),  # row 9: fine (and no trailing separator)
    ]
    path = tmp_path / "f.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    report = ingest_file(store, path, "P1", today=TODAY)
    assert (report.rows_read, report.blank_lines, report.accepted, report.rejected) == (6, 2, 1, 5)
    by_row = {
        r: [(c, rule) for _, c, rule in rows]
        for r, rows in (
            (r, report.failures.filter(pl.col("row") == r).select("row", "column", "rule").rows())
            for r in (2, 4, 5, 6, 8)
        )
    }
    assert by_row[2] == [
        ("name", "a line break or tab inside the value (one line expected)"),  # read whole, then refused
        ("seller_ref", "seller_ref appears more than once in the file"),
    ]
    assert by_row[4] == [("principal", "at most 2 decimals (grosz)")]
    assert by_row[5] == [("purchase_date", "in the future")]
    assert by_row[6] == [("national_id", "PESEL check digit does not match")]
    assert by_row[8] == [("seller_ref", "seller_ref appears more than once in the file")]


def test_the_same_pesel_with_another_name_is_accepted_as_that_debtor_and_reported(store, tmp_path):
    ingest_file(store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A1"}]), "P1", today=TODAY)  # Jan Kowalski
    rows = [
        {"seller_ref": "B1", "national_id": "02070803628", "name": "Anna Nowak"},
        {"seller_ref": "B2", "national_id": "02070803628", "name": "NOWAK, anna"},  # the same name, written otherwise
        {"seller_ref": "B3", "national_id": "02070803628", "name": "Anna Kowalczyk"},  # another name: reported
        {"seller_ref": "B4", "name": "Jan Kowalski"},  # the stored debtor's PESEL and name
        {"seller_ref": "B5", "name": "Janina Kowalska"},  # the stored debtor's PESEL, another name
    ]
    report = ingest_file(store, canonical_csv(tmp_path / "b.csv", rows), "P2", today=TODAY)
    assert (report.accepted, report.rejected, report.new_debtors, report.known_debtors) == (5, 0, 1, 1)
    with store.connect() as conn:
        claims = records.read_claims(conn).sort("seller_ref")
        names = dict(conn.exec_driver_sql("SELECT debtor_id, name FROM debtors").all())
    ids = dict(zip(claims["seller_ref"], claims["debtor_id"], strict=True))
    assert ids["B1"] == ids["B2"] == ids["B3"] and ids["A1"] == ids["B4"] == ids["B5"]
    assert names[ids["B1"]] == "Anna Nowak" and names[ids["A1"]] == "Jan Kowalski"  # the kept names
    assert report.conflicts.select(
        "national_id", "row", "seller_ref", "name", "kept_name", "kept_row", "kept_in"
    ).rows() == [
        ("02070803628", 4, "B3", "Anna Kowalczyk", "Anna Nowak", 2, "this file"),
        ("44051401359", 6, "B5", "Janina Kowalska", "Jan Kowalski", None, "store"),
    ]
    assert report.summary()["name_conflicts"] == 2
    written = write_reports(report, tmp_path / "b")
    assert pl.read_csv(written["name_conflicts.csv"])["seller_ref"].to_list() == ["B3", "B5"]
    with store.connect() as conn:
        details = conn.exec_driver_sql("SELECT details FROM ingest_files ORDER BY ingest_id DESC").scalar()
    assert (json.loads(details) if isinstance(details, str) else details)["name_conflicts"] == 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.from_regex(r"\A[0-9]{11}\Z"), st.from_regex(r"\A[0-9]{10}\Z")), min_size=1, max_size=30))
def test_national_ids_as_int64_keys_are_equal_exactly_when_the_ids_are(ids):
    frame = pl.DataFrame({"id": ids}).with_columns(key=national_key(pl.col("id")))
    assert frame.select(national_id_of(pl.col("key"))).to_series().to_list() == ids
    assert frame["key"].n_unique() == len(set(ids))


def test_debtors_only_rejected_rows_brought_are_not_stored(store, tmp_path):
    rows = [
        {
            "seller_ref": "D",
            "national_id": "02070803628",
            "name": "Anna Nowak",
        },  # a duplicate ref: rejected, its PESEL only here
        {"seller_ref": "D", "national_id": ""},  # rejected too, no national id
        {"seller_ref": "E", "national_id": "44051401359"},  # accepted
        {"seller_ref": "D", "national_id": "44051401359"},  # rejected, but its debtor is E's
    ]
    report = ingest_file(store, canonical_csv(tmp_path / "f.csv", rows), "P1", today=TODAY)
    assert (report.accepted, report.rejected, report.new_debtors, report.known_debtors) == (1, 3, 1, 0)
    with store.connect() as conn:
        stored = conn.exec_driver_sql("SELECT national_id FROM debtors").all()
        claims = records.read_claims(conn)
    assert stored == [("44051401359",)] and count(store, "debtor_keys") == 1
    assert claims["seller_ref"].to_list() == ["E"]
    assert report.candidates.height == 0 and report.conflicts.height == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2 * 10**11), max_size=3000), min_size=1, max_size=6))
def test_the_national_id_table_finds_every_key_met_before_and_adds_each_new_one_once(batches):
    from ingest.debtors import _Met

    met, seen = _Met(smallest=2), {}  # from two keys on: the table grows and rehashes on the way
    for batch in batches:
        found, added = met.find_or_add(np.array(batch, dtype=np.int64))
        expected_added = []
        for key in batch:
            expected_added.append(key not in seen)
            seen.setdefault(key, len(seen))
        assert found.tolist() == [seen[k] for k in batch] and added.tolist() == expected_added


def _keys_and_indexes(store) -> list[tuple]:
    """Every key, unique constraint, foreign key and index of the store's tables, as defined."""
    with store.connect() as conn:
        constraints = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 2"
        ).all()
        indexes = conn.exec_driver_sql(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2"
        ).all()
    return [tuple(r) for r in constraints + indexes]


def test_the_first_ingest_into_an_empty_postgres_store_builds_its_indexes_once_at_the_end(store, tmp_path, monkeypatch):
    if store.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite keeps its indexes as rows come")
    monkeypatch.setattr(records, "REBUILD_MIN_ROWS", 500)
    bared = []
    of = records.Bare.of
    monkeypatch.setattr(
        records.Bare, "of", classmethod(lambda cls, conn, table: bared.append(table) or of(conn, table))
    )
    shape = _keys_and_indexes(store)
    frame, expected = seller_file(1200, seed=5, bad_share=0.05)
    path = write_seller_csv(frame, tmp_path / "eksport.csv")

    def broken(*_, **__):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    with monkeypatch.context() as failing:  # a failure after the indexes were dropped and rebuilt: all undone
        failing.setattr(ingests, "record", broken)
        with pytest.raises(sa.exc.OperationalError):
            ingest_file(
                store, path, "BANK-2024-06", profile=PROFILE, price=12_345_678, purchase_date=PURCHASE_DATE, today=TODAY
            )
    assert bared == ["claims", "debtors", "debtor_keys"] and _keys_and_indexes(store) == shape
    assert all(count(store, t) == 0 for t in ("claims", "debtors", "debtor_keys", "ingest_files"))

    report = ingest_file(
        store, path, "BANK-2024-06", profile=PROFILE, price=12_345_678, purchase_date=PURCHASE_DATE, today=TODAY
    )
    assert bared == ["claims", "debtors", "debtor_keys"] * 2 and _keys_and_indexes(store) == shape
    assert set(report.failures["row"]) == set(expected["row"]) and report.accepted + report.rejected == 1200
    assert count(store, "claims") == report.accepted and count(store, "debtors") == report.new_debtors
    # the next ingest finds a store that is not empty: its debtors are found through the rebuilt indexes
    second = ingest_file(
        store,
        path,
        "BANK-2024-06",
        profile=PROFILE,
        price=12_345_678,
        purchase_date=PURCHASE_DATE,
        today=TODAY,
        new_version=True,
    )
    with store.connect() as conn:
        with_id = conn.exec_driver_sql("SELECT count(*) FROM debtors WHERE national_id IS NOT NULL").scalar()
    assert len(bared) == 6 and second.accepted == report.accepted and second.known_debtors == with_id > 0


def test_rows_collected_from_the_spill_do_not_keep_the_batches_they_came_from(tmp_path):
    """A few rows kept of each spilled batch own their memory: polars strings are views, and a
    batch read back from the Arrow file is one buffer, so a kept row's name held the whole batch
    (a 10M-row ingest: +1.1 GB at the end). The rows and their order are those of the batches."""
    import pyarrow as pa

    from ingest.pipeline import _Spill

    spill = _Spill(tmp_path / "spill.arrow")
    for b in range(20):
        rows = np.arange(b * 10_000, (b + 1) * 10_000)
        spill.append(pl.DataFrame({"row": rows, "name": [f"Paweł Kwiatkowski {r} " + "x" * 80 for r in rows]}))
    spill.close()
    before = pa.total_allocated_bytes()
    kept = spill.collect(["row", "name"], lambda b: b.filter(pl.col("row") % 10_000 == 7))
    assert kept["row"].to_list() == [b * 10_000 + 7 for b in range(20)]
    assert kept["name"][0] == "Paweł Kwiatkowski 7 " + "x" * 80
    # at most the row numbers read (1.6 MB), not the names (~20 MB)
    assert pa.total_allocated_bytes() - before < 4 << 20
    empty = spill.collect(["row"], lambda b: b.filter(pl.col("row") < 0))
    assert empty.height == 0 and empty.columns == ["row"]
