"""Statements as banks write them, imported: each line lands where it should (posted to the right
claims, in suspense with its reason, or refused with its reason), and the same statement twice
posts nothing new."""

from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa

from engine.domain import SplitRule
from payments.importing import import_statement
from payments.statements import read_statement
from tests.payments.conftest import FIXTURES, FUND_ACCOUNT, direct_events, lines_of, outcomes, parts

PKO = FIXTURES / "pko_2025-12-01.sta"
ING = FIXTURES / "ing_2025-12-03.camt053.xml"


def test_an_mt940_statement_line_by_line(book):
    report = import_statement(book, read_statement(PKO))
    assert outcomes(report) == {
        1: ("posted", "virtual_account", None),  # debtor 1's virtual account: three claims
        2: ("posted", "seller_ref", None),  # KR/2021/0021 in the title (returned by line 8)
        3: ("posted", "national_id", None),  # Anna Nowak's PESEL in the title
        4: ("posted", "claim_id", None),  # "Sprawa nr 41"
        5: ("suspense", None, None),  # nobody's
        6: ("suspense", None, 31),  # WIŚNIEWSKI PIOTR, 450.00: a candidate, not posted
        7: ("refused", None, None),  # the bank's fee
        8: ("posted", "return", None),  # the return of line 2
    }
    split = parts(report)
    # 350.00 to debtor 1, oldest due first: claim 11 (300.00, due 2019) then claim 12 (due 2020)
    assert split[1] == [(11, "payment", 30_000), (12, "payment", 5_000)]
    assert split[2] == [(21, "payment", 20_000)]
    assert split[3] == [(21, "payment", 10_000)]
    assert split[4] == [(41, "payment", 50_000)]
    assert split[8] == [(21, "reversal", 20_000)]
    assert 5 not in split and 6 not in split
    reasons = dict(report.outcomes.select("position", "reason").iter_rows())
    assert "no virtual account, claim reference, PESEL or NIP" in reasons[5]
    assert "candidate" in reasons[6] and "31" in reasons[6]
    assert "a debit that is not a return" in reasons[7]
    summary = report.summary()
    assert (summary["lines_read"], summary["posted"], summary["suspense"], summary["refused"]) == (8, 5, 2, 1)
    assert summary["posted"] + summary["suspense"] + summary["refused"] == summary["lines_read"]

    events = direct_events(book)
    assert len(events) == 6
    keys = {e["idempotency_key"] for e in events}
    assert f"bank:{FUND_ACCOUNT}:25335012345679" in keys  # one claim: the bank's reference
    assert f"bank:{FUND_ACCOUNT}:25335012345678#11" in keys  # split: the reference and the claim
    [reversal] = [e for e in events if e["kind"] == "reversal"]
    [returned] = [e for e in events if e["idempotency_key"] == f"bank:{FUND_ACCOUNT}:25335012345679"]
    assert reversal["reverses"] == returned["event_id"] and reversal["claim_id"] == 21
    assert str(reversal["event_date"]) == str(date(2025, 12, 2))
    assert all(e["source"] == "direct" for e in events)
    statuses = {r["bank_ref"]: r["status"] for r in lines_of(book)}
    assert statuses["25335012345679"] == "returned"
    assert statuses["25335012345682"] == "open"


def test_the_same_statement_twice_posts_nothing_new(book):
    first = import_statement(book, read_statement(PKO))
    events = direct_events(book)
    again = import_statement(book, read_statement(PKO))
    assert direct_events(book) == events
    assert again.parts.height == 0
    s = again.summary()
    assert (s["lines_read"], s["posted"], s["suspense"], s["refused"], s["already_imported"]) == (8, 5, 2, 1, 8)
    assert outcomes(again) == outcomes(first)
    assert len(lines_of(book)) == 7  # the refused fee is not a stored line; each import lists it
    assert len(lines_of(book, "statement_refusals")) == 2
    assert len(lines_of(book, "statement_imports")) == 2


def test_a_camt053_statement_line_by_line(book):
    report = import_statement(book, read_statement(ING))
    assert outcomes(report) == {
        1: ("posted", "seller_ref", None),  # structured remittance: CdtrRefInf/Ref FV/2022/041
        2: ("posted", "national_id", None),  # unstructured: PESEL written "850101 12345"
        3: ("posted", "virtual_account", None),  # a batch's first transaction, to debtor 4's virtual account
        4: ("suspense", None, None),  # the batch's second: nobody's
        5: ("suspense", None, None),  # the return of line 4: settles it
        6: ("refused", None, None),  # a reversal of a credit never imported
    }
    split = parts(report)
    assert split[1] == [(41, "payment", 150_000)]
    # 1 200.00 over debtor 1's three claims, oldest due first, each up to its balance
    assert split[2] == [(11, "payment", 30_000), (12, "payment", 20_000), (13, "payment", 70_000)]
    assert split[3] == [(41, "payment", 10_000)]
    statuses = {r["bank_ref"]: r["status"] for r in lines_of(book)}
    assert statuses["ING2512030000003-2"] == "returned"
    assert statuses["ING2512030000004"] == "settled"
    reasons = dict(report.outcomes.select("position", "reason").iter_rows())
    assert "not found in any imported statement" in reasons[6]


def test_camt053_001_02_and_a_balance_already_paid(book):
    import_statement(book, read_statement(PKO))
    report = import_statement(book, read_statement(FIXTURES / "pekao_2025-12-04.camt053.001.02.xml"))
    assert outcomes(report) == {1: ("posted", "seller_ref", None)}
    assert parts(report) == {1: [(21, "payment", 7_550)]}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (SplitRule.OLDEST_DUE_FIRST, [(11, "payment", 30_000), (12, "payment", 20_000), (13, "payment", 70_000)]),
        (SplitRule.LARGEST_BALANCE_FIRST, [(13, "payment", 100_000), (11, "payment", 20_000)]),
        (SplitRule.PROPORTIONAL, [(11, "payment", 24_000), (12, "payment", 16_000), (13, "payment", 80_000)]),
    ],
)
def test_a_debtor_with_three_claims_split_by_the_rule(book, rule, expected):
    report = import_statement(book, read_statement(ING), rule=rule)
    assert sorted(parts(report)[2]) == sorted(expected)
    with book.connect() as conn:
        recorded = conn.execute(
            sa.text(
                "SELECT e.claim_id, e.amount, l.split_rule FROM statement_line_events e "
                "JOIN statement_lines l ON l.line_id = e.line_id WHERE l.bank_ref = 'ING2512030000002'"
            )
        ).all()
    assert sorted((c, a) for c, a, _ in recorded) == sorted((c, a) for c, _, a in expected)
    assert {r for _, _, r in recorded} == {rule.value}


def test_a_failed_import_leaves_nothing(book, monkeypatch):
    from payments import importing

    def broken(*_args, **_kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(importing, "_finish", broken)
    with pytest.raises(RuntimeError, match="killed"):
        import_statement(book, read_statement(PKO))
    assert lines_of(book) == [] and direct_events(book) == []
    assert lines_of(book, "statement_imports") == []


def test_every_line_is_accounted_for_before_the_commit(book, monkeypatch):
    from payments import importing

    real = importing._credits

    def loses_a_line(*args, **kwargs):
        outcomes, parts = real(*args, **kwargs)
        return outcomes.head(outcomes.height - 1), parts

    monkeypatch.setattr(importing, "_credits", loses_a_line)
    with pytest.raises(RuntimeError, match="lines read"):
        import_statement(book, read_statement(PKO))
    assert lines_of(book) == [] and direct_events(book) == []


def test_lines_read_equals_posted_suspense_refused_on_the_statement_imports_row(book):
    import_statement(book, read_statement(ING))
    [row] = lines_of(book, "statement_imports")
    assert row["lines_read"] == row["posted"] + row["suspense"] + row["refused"] == 6
    assert pl.Series([row["format"]]).item() == "camt053"


def test_open_balances_count_payments_posted_since_and_not_reversed(book):
    from payments.repository import open_balances

    import_statement(book, read_statement(PKO))
    with book.connect() as conn:
        balances = {r["claim_id"]: r["balance"] for r in open_balances(conn, pl.Series([1, 2])).iter_rows(named=True)}
    # debtor 1: 350.00 paid 300.00 to claim 11 and 50.00 to 12; debtor 2: 100.00 paid, 200.00 paid and returned
    assert balances == {11: 0, 12: 15_000, 13: 100_000, 21: 70_000}


def test_next_ids_are_new_distinct_and_ascending_even_when_the_sequence_skips(store):
    from payments.repository import next_ids

    with store.begin() as conn:
        first = next_ids(conn, "statement_lines", "line_id", 5)
        assert (
            first.to_list() == list(range(first[0], first[0] + 5))
            and next_ids(conn, "events", "event_id", 0).len() == 0
        )
        if conn.dialect.name != "postgresql":
            return
        # another writer's values in between: the ids taken are not consecutive, and all come back
        conn.exec_driver_sql("ALTER SEQUENCE statement_lines_line_id_seq INCREMENT BY 3")
        skipping = next_ids(conn, "statement_lines", "line_id", 4)
        assert skipping.to_list() == [first[-1] + 3 * k for k in range(1, 5)]


#: the open balance as one query, claim by claim (the reference ``open_balances`` is held equal to)
REFERENCE_BALANCES = """
SELECT c.claim_id, COALESCE(s.total_due, c.principal + c.interest_at_cutoff + c.costs_at_cutoff)
  - COALESCE((SELECT SUM(e.amount) FROM events e WHERE e.claim_id = c.claim_id
      AND e.event_date > COALESCE(s.as_of, '0001-01-01') AND e.kind = 'payment'
      AND NOT EXISTS (SELECT 1 FROM events r WHERE r.reverses = e.event_id AND r.kind = 'reversal'
                      AND r.claim_id = e.claim_id)), 0) AS balance
FROM claims c LEFT JOIN portfolios p ON p.portfolio_id = c.portfolio_id
LEFT JOIN claim_state s ON s.run_id = p.current_run_id AND s.claim_id = c.claim_id
"""


def test_open_balances_after_a_run_count_only_the_payments_dated_after_its_day(book):
    from payments.repository import open_balances
    from tests.payments.helpers import pay, state

    pay(book, 11, date(2025, 11, 20), 5_000)  # before the run's day: in its state
    states = state(book, date(2025, 11, 30))
    import_statement(book, read_statement(PKO))  # dated 2025-12-01 and 02, a return among them
    pay(book, 41, date(2025, 11, 30), 7_000)  # on the run's day: the state's, not subtracted again
    with book.connect() as conn:
        balances = open_balances(conn, pl.Series([1, 2, 3, 4]))
        reference = dict(conn.exec_driver_sql(REFERENCE_BALANCES).all())
    got = dict(zip(balances["claim_id"], balances["balance"], strict=True))
    assert got == {k: max(int(v), 0) for k, v in reference.items()}
    # after the state's day debtor 1 paid 350.00 and claim 41 500.00 (the statement); the 70.00 on
    # the day itself is the state's own
    assert sum(got[c] - states[c]["total_due"] for c in (11, 12, 13)) == -35_000
    assert got[41] == states[41]["total_due"] - 50_000
