"""Banks' CSV exports through profiles, the suspense queue decided by a person, and the command
line as a user types it."""

import json

import pytest
import sqlalchemy as sa

from payments import suspense
from payments.importing import import_statement
from payments.statements import StatementError, read_statement
from payments.statements.csv_profiles import BankProfileError, load_bank_profile, shipped_bank_profiles
from tests.payments.conftest import FIXTURES, direct_events, lines_of, outcomes, parts
from tests.test_cli import run_here

MBANK = FIXTURES / "mbank_lista_operacji.csv"
ING_CSV = FIXTURES / "ing_historia.csv"
PKO = FIXTURES / "pko_2025-12-01.sta"


def test_the_shipped_bank_profiles_load():
    assert set(shipped_bank_profiles()) >= {"mbank", "ing"}
    for name in shipped_bank_profiles():
        load_bank_profile(name)


def test_a_bad_profile_or_a_file_it_does_not_fit_is_refused_with_the_reason(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ncolumns: {booking_date: Data, amount: Kwota, credit: Wpływ}\n")
    with pytest.raises(BankProfileError, match="either one signed 'amount' column"):
        load_bank_profile(broken)
    with pytest.raises(BankProfileError, match="no shipped profile of that name"):
        load_bank_profile("no_such_bank")
    with pytest.raises(StatementError, match="no line starts with '\"Data transakcji\"'"):
        read_statement(MBANK, profile="ing")
    with pytest.raises(StatementError, match="neither MT940"):
        read_statement(MBANK)


def test_an_mbank_csv_export_line_by_line(book):
    statement = read_statement(MBANK, profile="mbank")
    assert statement.bank_account == "27114020040000300201355387"  # from the preamble
    refs = statement.lines.get_column("bank_ref")
    assert refs.n_unique() == 7 and refs.str.starts_with("sha:").all()  # no references: digests, two equal lines apart
    report = import_statement(book, statement)
    assert outcomes(report) == {
        1: ("posted", "seller_ref", None),  # "Spłata UM-31"
        2: ("suspense", None, 13),  # JAN KOWALSKI, 950.00: only claim 13 can take it: a candidate
        3: ("refused", None, None),  # the account's fee
        4: ("posted", "return", None),  # ZWROT PRZELEWU: no reference; the same payer account and amount
        5: ("posted", "claim_id", None),  # "nr sprawy: 42"
        6: ("suspense", None, 13),  # the same payment again the same day: a line of its own
        7: ("refused", None, None),  # "12,3,4" is no amount
    }
    assert parts(report)[4] == [(31, "reversal", 45_000)]
    assert parts(report)[5] == [(42, "payment", 123_456)]
    reasons = dict(report.outcomes.select("position", "reason").iter_rows())
    assert reasons[7].startswith("amount: ")
    again = import_statement(book, read_statement(MBANK, profile="mbank"))
    assert again.parts.height == 0 and again.already == 7  # the refused lines too: refused as then


def test_an_ing_csv_export_with_transaction_numbers(book):
    report = import_statement(book, read_statement(ING_CSV, profile="ing"))
    assert outcomes(report) == {
        1: ("posted", "seller_ref", None),
        2: ("posted", "seller_ref", None),  # two claims of debtor 4 named: split over them, oldest due first
        3: ("refused", None, None),
        4: ("posted", "return", None),  # its title names the credit's transaction number
    }
    assert parts(report)[2] == [(41, "payment", 60_000)]
    assert parts(report)[4] == [(21, "reversal", 25_000)]
    with book.connect() as conn:
        rule = conn.execute(
            sa.text("SELECT split_rule FROM statement_lines WHERE bank_ref = '202533700054321'")
        ).scalar()
    assert rule == "oldest_due_first"


def test_a_statement_of_another_account_than_the_one_given_is_refused():
    with pytest.raises(StatementError, match="not a Polish account number"):
        read_statement(PKO, bank_account="12 3456")
    with pytest.raises(StatementError, match="not of --bank-account"):
        read_statement(PKO, bank_account="PL27114020040000300201355387")
    with pytest.raises(StatementError, match="an export of account 27114020040000300201355387, not of"):
        read_statement(MBANK, profile="mbank", bank_account="PL61109010140000071219812874")
    given = read_statement(MBANK, profile="mbank", bank_account="PL 27 1140 2004 0000 3002 0135 5387")
    assert given.bank_account == "27114020040000300201355387"


def test_a_candidate_is_posted_only_when_a_person_assigns_it(book):
    import_statement(book, read_statement(PKO))
    with book.connect() as conn:
        waiting = suspense.lines(conn)
    assert waiting.get_column("candidate_claim_id").to_list() == [None, 31]
    line = waiting.filter(waiting["candidate_claim_id"] == 31)["line_id"].item()
    before = len(direct_events(book))
    events = suspense.assign(book, line, claim_id=31, note="confirmed by phone", who="anna.k")
    assert events.select("claim_id", "amount").rows() == [(31, 45_000)]
    assert len(direct_events(book)) == before + 1
    with pytest.raises(Exception, match="no longer open in suspense"):
        suspense.assign(book, line, claim_id=31)
    with book.connect() as conn:
        [audit] = conn.execute(sa.text("SELECT actor, details FROM audit_log WHERE action = 'suspense_assign'")).all()
        assert suspense.lines(conn).height == 1
    assert audit[0] == "anna.k"
    details = audit[1] if isinstance(audit[1], dict) else json.loads(audit[1])
    assert details["note"] == "confirmed by phone" and details["candidate_claim_id"] == 31


def test_a_suspense_line_assigned_to_a_debtor_is_split_and_another_refunded(book):
    import_statement(book, read_statement(PKO))
    nobody, candidate = [r["line_id"] for r in lines_of(book) if r["status"] == "open"]
    events = suspense.assign(book, nobody, debtor_id=1, who="anna.k")
    # claim 11 was paid in full by the statement (300.00 of line 1): 77.77 to the oldest still open, 12
    assert events.select("claim_id", "amount").rows() == [(12, 7_777)]
    suspense.refund(book, candidate, note="the payer asked", who="anna.k")
    statuses = {r["line_id"]: r["status"] for r in lines_of(book)}
    assert (statuses[nobody], statuses[candidate]) == ("assigned", "refunded")
    with pytest.raises(Exception, match="not in suspense"):
        suspense.refund(book, 1)


def test_the_command_line(book, capsys):
    url = str(book.url.render_as_string(hide_password=False))
    code, out, err = run_here(capsys, "statements", "import", str(PKO), "--database-url", url, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["lines_read"], summary["posted"], summary["suspense"], summary["refused"]) == (8, 5, 2, 1)
    assert summary["posted_amount"] == "950.00" and summary["lines"][0]["events"][0]["amount"] == "300.00"
    code, out, err = run_here(capsys, "statements", "import", str(PKO), "--database-url", url)
    assert code == 0 and "already imported (nothing new)" in out and "posted + suspense + refused = lines read" in out
    code, out, err = run_here(capsys, "suspense", "list", "--database-url", url, "--json")
    listed = json.loads(out)
    assert [r["amount"] for r in listed] == ["77.77", "450.00"]
    line = listed[1]["line_id"]
    code, out, err = run_here(capsys, "suspense", "assign", str(line), "--claim", "31", "--database-url", url)
    assert code == 0 and "450,00" in out and "claim 31" in out
    code, out, err = run_here(capsys, "suspense", "assign", str(line), "--claim", "31", "--database-url", url)
    assert code == 2 and err.startswith("error: statement line") and "no longer open" in err
    code, out, err = run_here(capsys, "statements", "import", str(PKO), "--split", "nope", "--database-url", url)
    assert code == 2 and "--split 'nope': one of oldest_due_first" in err
    code, out, err = run_here(capsys, "statements", "import", str(MBANK), "--database-url", url)
    assert code == 2 and "needs --profile" in err
    code, out, err = run_here(capsys, "statements", "list", "--database-url", url, "--json")
    assert [r["lines_read"] for r in json.loads(out)] == [8, 8]
