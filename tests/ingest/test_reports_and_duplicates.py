"""An ingest's reports are in place with its commit or it stores nothing, a kill between the commit
and the reports loses nothing, a lost report is written again identical from the store, and the
same debt is never stored twice without being asked to (the same claims re-saved, reordered, or
some of them in another file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from engine.store import ingests
from engine.store.database import open_store
from ingest import DuplicateError, ReportPathError, ingest_file, load_profile, pipeline, rewrite_reports
from ingest.duplicates import fingerprint_of
from tests.ingest.test_ingest import TODAY, canonical_csv, count

ROOT = Path(__file__).parents[2]
REPORT_FILES = ["rejects.csv", "rejects.parquet", "candidates.csv", "name_conflicts.csv", "overlaps.csv"]
TABLES = (
    "claims",
    "debtors",
    "debtor_keys",
    "ingest_files",
    "portfolios",
    "ingest_rejects",
    "ingest_candidates",
    "ingest_name_conflicts",
    "ingest_overlaps",
)
#: rows that give every report a line: a reject without a value, a debtor candidate, a name conflict
ROWS = [
    {"seller_ref": "A", "national_id": "44051401359"},
    {"seller_ref": "B", "national_id": "02070803628", "name": "Anna Nowak", "principal": "250.10"},
    {"seller_ref": "C", "national_id": "02070803628", "name": "Anna Kowalczyk"},  # the same PESEL, another name
    {"seller_ref": "D", "national_id": "", "name": "Jan Kowalski"},  # no id, A's name and postal code: a candidate
    {"seller_ref": "E", "name": ""},  # name required: rejected, no value
    {"seller_ref": "F", "principal": "-3,5"},  # rejected with its value
]


def state(store) -> dict[str, int]:
    return {t: count(store, t) for t in TABLES}


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def cession(url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CESSION_DATABASE_URL": url},
    )


def resaved(source: Path, target: Path) -> Path:
    """The same export saved again: CRLF line ends, the rows in reverse order, amounts with a decimal comma."""
    header, *rows = source.read_text().splitlines()
    rows = [r.replace("1000.00", "1000,00") for r in reversed(rows)]
    target.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode())
    return target


def test_the_reports_are_in_place_with_the_commit_and_account_for_every_row(store, tmp_path):
    report = ingest_file(
        store, canonical_csv(tmp_path / "f.csv", ROWS), "P1", today=TODAY, reports=tmp_path / "out" / "f"
    )
    assert sorted(report.reports) == sorted(REPORT_FILES)
    assert files(tmp_path / "out") == sorted(f"f.{n}" for n in REPORT_FILES)  # nothing staged left
    rejects = pl.read_csv(report.reports["rejects.csv"])
    assert rejects["row"].n_unique() == report.rejected == 2 and report.accepted == count(store, "claims") == 4
    assert report.accepted + rejects["row"].n_unique() == report.rows_read  # on disk, not just on screen
    assert pl.read_parquet(report.reports["rejects.parquet"]).equals(report.failures)
    assert pl.read_csv(report.reports["name_conflicts.csv"])["seller_ref"].to_list() == ["C"]
    assert pl.read_csv(report.reports["candidates.csv"]).height == report.candidates.height == 1
    with store.connect() as conn:
        record = ingests.ingest_of(conn, report.ingest_id)
    assert record.reports_stem == str(tmp_path / "out" / "f") and record.content_fingerprint == report.fingerprint


def test_reports_that_cannot_be_written_store_nothing(store, tmp_path, monkeypatch):
    path = canonical_csv(tmp_path / "f.csv", ROWS)
    (tmp_path / "a-file").write_text("not a folder")
    before = state(store)
    with pytest.raises(ReportPathError, match=r"--reports .*a-file/f: cannot write the reports there .*nothing stored"):
        ingest_file(store, path, "P1", today=TODAY, reports=tmp_path / "a-file" / "f")
    assert state(store) == before

    # the disk full while the reports are written, after every row was stored in the transaction
    def full(self, out, *_, **__):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    with pytest.raises(
        ReportPathError, match=r"out/f: cannot write the reports there \(No space left on device\); nothing stored"
    ):
        ingest_file(store, path, "P1", today=TODAY, reports=tmp_path / "out" / "f")
    assert state(store) == before and files(tmp_path / "out") == []  # no staged file left either


def test_an_unwritable_report_path_is_one_line_and_exit_2(store_url, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    path = canonical_csv(tmp_path / "f.csv", ROWS)
    result = cession(
        store_url, "ingest", path, "--portfolio", "P1", "--reports", str(tmp_path / "a-file" / "f"), cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0
    # refused before any work by the command line's check of output paths (api/cli/outputs.py), else by the ingest's own
    assert f"--reports {tmp_path}/a-file/f: " in result.stderr and "is a file" in result.stderr, result.stderr
    engine = open_store(store_url)  # (refused before the store was even opened: it may still be empty)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0
    engine.dispose()


def test_a_stop_between_the_commit_and_the_reports_loses_nothing(store, tmp_path, monkeypatch):
    stem = tmp_path / "out" / "f"
    placed = pipeline._put_in_place

    def killed(staged):
        if any(".ingest-" in str(t) for t, _ in staged.values()):
            raise KeyboardInterrupt  # as a kill: nothing after the commit runs
        return placed(staged)

    with monkeypatch.context() as m:
        m.setattr(pipeline, "_put_in_place", killed)
        with pytest.raises(KeyboardInterrupt):
            ingest_file(store, canonical_csv(tmp_path / "f.csv", ROWS), "P1", today=TODAY, reports=stem)
    assert count(store, "claims") == 4  # committed
    assert files(stem.parent) == sorted(f"f.{n}.ingest-1.staged" for n in REPORT_FILES)
    staged = {n: (stem.parent / f"f.{n}.ingest-1.staged").read_bytes() for n in REPORT_FILES}

    # the next ingest puts them in place and says so
    later = ingest_file(
        store, canonical_csv(tmp_path / "g.csv", [{"seller_ref": "X"}]), "P2", today=TODAY, reports=tmp_path / "g"
    )
    assert len(later.finished) == 1 and "ingest 1 (f.csv): its reports were not in place" in later.finished[0]
    assert later.summary()["finished"] == later.finished  # --json says it too
    assert files(stem.parent) == sorted(f"f.{n}" for n in REPORT_FILES)
    assert {n: (stem.parent / f"f.{n}").read_bytes() for n in REPORT_FILES} == staged
    with store.connect() as conn:
        assert (
            ingests.with_reports_pending(conn)[0].ingest_id == later.ingest_id
        )  # only the last one, its own command placed them
    third = ingest_file(
        store, canonical_csv(tmp_path / "h.csv", [{"seller_ref": "Y"}]), "P3", today=TODAY, reports=tmp_path / "h"
    )
    assert third.finished == []  # reports in place are not reported again


def test_staged_reports_lost_after_the_commit_are_written_again_from_the_store(store, tmp_path, monkeypatch):
    stem = tmp_path / "f"
    monkeypatch.setattr(pipeline, "_put_in_place", lambda staged: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        ingest_file(store, canonical_csv(tmp_path / "f.csv", ROWS), "P1", today=TODAY, reports=stem)
    monkeypatch.undo()
    for staged in tmp_path.glob("f.*.staged"):
        staged.unlink()
    record, written, finished = rewrite_reports(store, 1)
    assert "its reports were not in place" in finished[0] and sorted(written) == sorted(REPORT_FILES)
    assert pl.read_csv(written["rejects.csv"])["seller_ref"].to_list() == ["E", "F"] and record.rejected == 2


def test_a_stop_before_the_commit_leaves_no_report_and_the_next_ingest_removes_its_staged_files(
    store, store_url, tmp_path
):
    path = canonical_csv(tmp_path / "f.csv", ROWS)
    stop = (
        "import os, sys; from ingest import pipeline; "
        "pipeline._after_reports_staged = lambda report: os._exit(9); "
        "sys.argv = ['cession'] + sys.argv[1:]; from api.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", stop, "ingest", path, "--portfolio", "P1", "--reports", str(tmp_path / "out" / "f")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CESSION_DATABASE_URL": store_url},
    )
    assert result.returncode == 9, result.stderr
    assert count(store, "claims") == count(store, "ingest_files") == 0
    assert files(tmp_path / "out") == sorted(f"f.{n}.ingest-1.staged" for n in REPORT_FILES)
    report = ingest_file(store, path, "P1", today=TODAY, reports=tmp_path / "out" / "f")
    assert files(tmp_path / "out") == sorted(f"f.{n}" for n in REPORT_FILES) and report.finished == []


@pytest.mark.slow
def test_a_kill_after_the_commit_and_cession_ingest_report(store, store_url, tmp_path):
    """As a user meets it: kill -9 between the commit and the renames, then `cession ingest report`."""
    path = canonical_csv(tmp_path / "f.csv", ROWS)
    kill = (
        "import os, sys; from ingest import pipeline; placed = pipeline._put_in_place; "
        "pipeline._put_in_place = lambda staged: os._exit(9) if any('.ingest-' in str(t) for t, _ in staged.values()) else placed(staged); "
        "sys.argv = ['cession'] + sys.argv[1:]; from api.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", kill, "ingest", path, "--portfolio", "P1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CESSION_DATABASE_URL": store_url},
    )
    assert result.returncode == 9 and count(store, "claims") == 4
    assert not (tmp_path / "f.csv.rejects.csv").exists() and (tmp_path / "f.csv.rejects.csv.ingest-1.staged").exists()
    again = cession(store_url, "ingest", "report", "1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "ingest 1 (f.csv): its reports were not in place" in again.stderr
    assert "4 accepted, 2 rejected" in again.stdout and not list(tmp_path.glob("*.staged"))
    assert pl.read_csv(tmp_path / "f.csv.rejects.csv")["row"].n_unique() == 2


@pytest.mark.slow
def test_cession_ingest_report_writes_the_same_reports_again(store, store_url, tmp_path):
    profile = load_profile(None)
    ingest_file(
        store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "B", "principal": "99.00"}]), "OLD", today=TODAY
    )
    report = ingest_file(
        store,
        canonical_csv(tmp_path / "f.csv", ROWS),
        "P1",
        profile=profile,
        today=TODAY,
        reports=tmp_path / "f",
        allow_duplicates=True,
    )
    assert report.overlaps.select("row", "seller_ref", "portfolio_id", "differs").rows() == [
        (3, "B", "OLD", "national_id, principal")
    ]
    first = {n: (tmp_path / f"f.{n}").read_bytes() for n in REPORT_FILES}
    for n in REPORT_FILES:
        (tmp_path / f"f.{n}").unlink()
    result = cession(store_url, "ingest", "report", str(report.ingest_id), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {n: (tmp_path / f"f.{n}").read_bytes() for n in REPORT_FILES} == first  # identical, to the byte
    elsewhere = cession(
        store_url, "ingest", "report", str(report.ingest_id), "--reports", "copy/g", "--json", cwd=tmp_path
    )
    import json

    out = json.loads(elsewhere.stdout)
    assert (out["rows_read"], out["accepted"], out["rejected"], out["accounted"]) == (6, 4, 2, True)
    assert {n: Path(out["reports"][n]).read_bytes() for n in REPORT_FILES} == first
    missing = cession(store_url, "ingest", "report", "99", cwd=tmp_path)
    assert (
        missing.returncode == 2
        and "ingest 99: no such ingest in the store" in missing.stderr
        and "Traceback" not in missing.stderr
    )


@pytest.mark.slow
def test_a_resaved_file_into_another_portfolio_is_refused_naming_the_first(store, store_url, tmp_path):
    first = Path(canonical_csv(tmp_path / "f.csv", ROWS))
    ingest_file(store, first, "BANK-2024-06", today=TODAY)
    again = resaved(first, tmp_path / "f (1).csv")
    assert again.read_bytes() != first.read_bytes()
    before = state(store)
    with pytest.raises(
        DuplicateError, match=r"the same claims .* already stored in portfolio BANK-2024-06 by ingest 1 \(f.csv"
    ):
        ingest_file(store, again, "BANK-2024-6", today=TODAY)
    assert state(store) == before
    result = cession(store_url, "ingest", str(again), "--portfolio", "BANK-2024-6", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "already stored in portfolio BANK-2024-06" in result.stderr and "--allow-duplicates" in result.stderr
    assert not list(tmp_path.glob("f (1).csv.*"))  # a refused ingest writes no report but the overlaps'
    assert state(store) == before
    # on purpose: --allow-duplicates (the rows listed as overlaps), or a new version
    allowed = ingest_file(store, again, "BANK-2024-6", today=TODAY, allow_duplicates=True)
    assert allowed.status == "ingested" and allowed.accepted == 4
    assert allowed.overlaps.select("row", "seller_ref", "portfolio_id").rows() == [
        (4, "D", "BANK-2024-06"),
        (5, "C", "BANK-2024-06"),
        (6, "B", "BANK-2024-06"),
        (7, "A", "BANK-2024-06"),
    ]
    version = ingest_file(store, again, "BANK-2024-06", today=TODAY, new_version=True)
    assert (version.portfolio_id, version.accepted, version.overlaps.height) == ("BANK-2024-06@v2", 4, 0)
    assert allowed.fingerprint == version.fingerprint


def test_a_partly_overlapping_file_is_refused_row_by_row_unless_allowed(store, tmp_path):
    ingest_file(store, canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A"}, {"seller_ref": "B"}]), "P1", today=TODAY)
    rows = [{"seller_ref": "N1"}, {"seller_ref": "B", "principal": "900.00"}, {"seller_ref": "N2"}, {"seller_ref": "A"}]
    path = canonical_csv(tmp_path / "b.csv", rows)
    before = state(store)
    with pytest.raises(
        DuplicateError,
        match=r"b.csv: 2 of its 4 rows are claims already stored in portfolio P1 \(2 rows\): "
        r"rows 3 \(B\), 5 \(A\); nothing stored; the rows are listed in .*b.overlaps.csv",
    ) as refused:
        ingest_file(store, path, "P2", today=TODAY, reports=tmp_path / "b")
    assert state(store) == before
    listed = pl.read_csv(tmp_path / "b.overlaps.csv")
    assert listed.select("row", "seller_ref", "portfolio_id", "differs").rows() == [
        (3, "B", "P1", "principal"),
        (5, "A", "P1", None),
    ]
    assert refused.value.overlaps.height == 2 and sorted(p.name for p in tmp_path.glob("b.*")) == [
        "b.csv",
        "b.overlaps.csv",
    ]
    report = ingest_file(store, path, "P2", today=TODAY, reports=tmp_path / "b", allow_duplicates=True)
    assert (report.accepted, report.summary()["overlaps"]) == (4, 2)
    assert pl.read_csv(report.reports["overlaps.csv"]).select("row", "claim_id").rows() == [(3, 2), (5, 1)]
    with store.connect() as conn:
        kept = conn.exec_driver_sql("SELECT row, seller_ref, portfolio_id FROM ingest_overlaps ORDER BY line").all()
    assert [tuple(r) for r in kept] == [(3, "B", "P1"), (5, "A", "P1")]


def test_only_the_same_sellers_portfolios_and_not_the_versions_of_this_one_count(store, tmp_path):
    path = canonical_csv(tmp_path / "a.csv", [{"seller_ref": "A"}, {"seller_ref": "B"}])
    bank_a, bank_b = (load_profile(None).model_copy(update={"seller": s}) for s in ("Bank A", "Bank B"))
    ingest_file(store, path, "P1", profile=bank_a, today=TODAY)
    other = ingest_file(
        store,
        canonical_csv(tmp_path / "b.csv", [{"seller_ref": "A"}, {"seller_ref": "B"}], separator=","),
        "P2",
        profile=bank_b,
        today=TODAY,
    )
    assert other.accepted == 2 and other.overlaps.height == 0  # another seller's A and B are other debts
    ingest_file(store, path, "P1", profile=bank_a, today=TODAY, new_version=True)  # P1@v2
    more = ingest_file(
        store,
        canonical_csv(tmp_path / "c.csv", [{"seller_ref": "A"}, {"seller_ref": "C"}]),
        "P1",
        profile=bank_a,
        today=TODAY,
    )  # into P1@v2, which holds A: a reject, not an overlap
    assert (more.portfolio_id, more.accepted, more.rejected, more.overlaps.height) == ("P1@v2", 1, 1, 0)


def test_the_fingerprint_is_of_the_claims_not_of_their_order_or_spelling(store, tmp_path):
    a = ingest_file(store, canonical_csv(tmp_path / "a.csv", ROWS), "P1", today=TODAY)
    frame = pl.DataFrame(
        {
            "seller_ref": ["A", "B"],
            "national_id": ["44051401359", None],
            "principal": [100_000, 5],
            "due_date": [TODAY, TODAY],
        }
    )
    assert fingerprint_of(frame).of("X") == fingerprint_of(frame.reverse()).of("X") != fingerprint_of(frame).of("Y")
    for changed in (
        pl.col("principal") + 1,
        pl.col("due_date").dt.offset_by("1d"),
        pl.lit(None, pl.String).alias("national_id"),
    ):
        assert fingerprint_of(frame.with_columns(changed)).of("X") != fingerprint_of(frame).of("X")
    assert fingerprint_of(frame.head(1)).of("X") != fingerprint_of(frame).of("X")
    with store.connect() as conn:
        assert [i.ingest_id for i in ingests.ingests_with_fingerprint(conn, a.fingerprint)] == [a.ingest_id]


@pytest.mark.slow
def test_ingest_file_and_ingest_report_both_parse(store_url, tmp_path):
    """`cession ingest FILE --portfolio P` as before (options before or after the file), and the new subcommand."""
    path = canonical_csv(tmp_path / "f.csv", ROWS)
    first = cession(store_url, "ingest", "--portfolio", "P1", path, "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert '"accepted": 4' in first.stdout and (tmp_path / "f.csv.rejects.csv").exists()
    assert cession(store_url, "ingest", "report", "1", cwd=tmp_path).returncode == 0
    helped = cession(store_url, "ingest", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "report" in helped.stdout and "FILE --portfolio" in helped.stdout
    assert os.path.exists(tmp_path / "f.csv.overlaps.csv")
    overlapping = canonical_csv(tmp_path / "g.csv", [{"seller_ref": "A"}, {"seller_ref": "NEW"}])
    refused = cession(store_url, "ingest", overlapping, "--portfolio", "P2", cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        "g.csv: 1 of its 2 rows is a claim already stored in portfolio P1 (1 row): row 2 (A); nothing stored"
        in refused.stderr
    )
    allowed = cession(store_url, "ingest", overlapping, "--portfolio", "P2", "--allow-duplicates", cwd=tmp_path)
    assert allowed.returncode == 0 and "claims another portfolio holds (--allow-duplicates)" in allowed.stdout
    assert pl.read_csv(tmp_path / "g.csv.overlaps.csv")["seller_ref"].to_list() == ["A"]


def test_reports_another_command_already_put_in_place_are_in_place(tmp_path):
    """The next ingest may rename an ingest's staged reports the moment it commits, before its own
    command does: that command finds them in place; a staged file gone with no final one is an error."""
    staged, final = tmp_path / "f.rejects.csv.ingest-1.staged", tmp_path / "f.rejects.csv"
    final.write_text("row\n")
    assert pipeline._put_in_place({"rejects.csv": (staged, final)}) == {"rejects.csv": final}
    final.unlink()
    with pytest.raises(FileNotFoundError):
        pipeline._put_in_place({"rejects.csv": (staged, final)})


def test_an_ingest_stored_before_its_report_lines_were_kept_says_so(store, tmp_path):
    report = ingest_file(store, canonical_csv(tmp_path / "f.csv", ROWS), "P1", today=TODAY)
    with store.begin() as conn:  # as an ingest of a Cession before migration 0005 left it
        conn.execute(sa.text("UPDATE ingest_files SET details = :d"), {"d": '{"rejects_by_rule": {}}'})
    with pytest.raises(pipeline.IngestError, match=r"ingest 1 \(f.csv\) was stored before its report lines were kept"):
        rewrite_reports(store, report.ingest_id, tmp_path / "g")
    assert not list(tmp_path.glob("g*"))


def test_a_nul_in_a_rejected_value_is_written_and_kept_visibly(store, tmp_path):
    """PostgreSQL's text holds no NUL (and CSV tools stop at one): reports write it as \\x00, the store keeps that."""
    path = canonical_csv(tmp_path / "f.csv", [{"seller_ref": "A"}, {"seller_ref": "B", "name": "Jan\x00Kowalski"}])
    report = ingest_file(store, path, "P1", today=TODAY, reports=tmp_path / "f")
    assert report.rejected == 1 and report.failures["value"].to_list() == ["Jan\x00Kowalski"]  # as read, in memory
    first = (tmp_path / "f.rejects.csv").read_bytes()
    assert b"Jan\\x00Kowalski" in first and b"\x00" not in first
    _, written, _ = rewrite_reports(store, report.ingest_id, tmp_path / "again")
    assert written["rejects.csv"].read_bytes() == first
