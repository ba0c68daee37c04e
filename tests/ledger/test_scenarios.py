"""Scenarios written as ledgers: given these claims and events, these journal lines (kind, account
role, debit, credit, event, entry day), to the grosz. Claims earn no interest unless the scenario
is about interest, so every amount can be checked by hand."""

from __future__ import annotations

from datetime import date

from ledger.chart import Role
from tests.builders import event
from tests.ledger.ledgers import CHART, book, lines_of, none_claim, reconciled

JAN = (date(2026, 1, 1), date(2026, 1, 31))
FEB = (date(2026, 2, 1), date(2026, 2, 28))
MAR = (date(2026, 3, 1), date(2026, 3, 31))
APR = (date(2026, 4, 1), date(2026, 4, 30))
MAY = (date(2026, 5, 1), date(2026, 5, 31))


def test_a_purchase_books_the_cut_off_balances_against_the_price_and_the_discount():
    b = book([none_claim()], [])
    assert lines_of(b, *JAN) == [
        ("purchase", "purchase_settlement", 0, 30_000, None, date(2026, 1, 15)),
        ("purchase", "receivable_principal", 100_000, 0, None, date(2026, 1, 15)),
        ("purchase", "receivable_interest", 5_000, 0, None, date(2026, 1, 15)),
        ("purchase", "receivable_costs", 2_000, 0, None, date(2026, 1, 15)),
        ("purchase", "purchase_discount", 0, 77_000, None, date(2026, 1, 15)),
    ]
    assert lines_of(b, *FEB) == []  # nothing happened since
    assert reconciled(b, *JAN).ok


def test_a_payment_is_split_costs_interest_principal_and_a_cost_is_advanced_in_cash():
    b = book(
        [none_claim()],
        [event(1, "payment", date(2026, 2, 10), 8_000), event(2, "cost", date(2026, 2, 20), 1_500)],
    )
    assert lines_of(b, *FEB) == [
        ("collection", "cash", 8_000, 0, 1, date(2026, 2, 10)),
        ("collection", "receivable_principal", 0, 1_000, 1, date(2026, 2, 10)),
        ("collection", "receivable_interest", 0, 5_000, 1, date(2026, 2, 10)),
        ("collection", "receivable_costs", 0, 2_000, 1, date(2026, 2, 10)),
        ("cost", "cash", 0, 1_500, 2, date(2026, 2, 20)),
        ("cost", "receivable_costs", 1_500, 0, 2, date(2026, 2, 20)),
    ]
    assert reconciled(b, *FEB).ok


def test_the_portfolio_s_waterfall_orders_the_split():
    b = book([none_claim()], [event(1, "payment", date(2026, 2, 10), 8_000)])
    b.waterfall = {"P1": "principal,interest,costs"}
    assert lines_of(b, *FEB) == [
        ("collection", "cash", 8_000, 0, 1, date(2026, 2, 10)),
        ("collection", "receivable_principal", 0, 8_000, 1, date(2026, 2, 10)),
    ]


def test_what_a_payment_cannot_place_is_owed_back():
    b = book([none_claim()], [event(1, "payment", date(2026, 2, 10), 110_000)])
    assert lines_of(b, *FEB) == [
        ("collection", "cash", 110_000, 0, 1, date(2026, 2, 10)),
        ("collection", "receivable_principal", 0, 100_000, 1, date(2026, 2, 10)),
        ("collection", "receivable_interest", 0, 5_000, 1, date(2026, 2, 10)),
        ("collection", "receivable_costs", 0, 2_000, 1, date(2026, 2, 10)),
        ("collection", "overpayments_owed", 0, 3_000, 1, date(2026, 2, 10)),
    ]


def test_a_backdated_payment_is_posted_when_it_was_recorded_never_into_the_closed_period():
    """Dated 2026-01-25, recorded 2026-02-03: January (closed before it was known) has no
    collection; February posts it on the day it was recorded, and says so."""
    b = book([none_claim()], [event(1, "payment", date(2026, 1, 25), 3_000)], recorded={1: date(2026, 2, 3)})
    assert [line[0] for line in lines_of(b, *JAN)] == ["purchase"] * 5
    assert lines_of(b, *FEB) == [
        ("collection", "cash", 3_000, 0, 1, date(2026, 2, 3)),
        ("collection", "receivable_interest", 0, 1_000, 1, date(2026, 2, 3)),
        ("collection", "receivable_costs", 0, 2_000, 1, date(2026, 2, 3)),
    ]
    from tests.ledger.ledgers import period

    _, lines = period(b, *FEB)
    assert lines.get_column("memo").unique().to_list() == ["payment 1 of 2026-01-25, recorded 2026-02-03"]
    assert reconciled(b, *JAN).ok and reconciled(b, *FEB).ok


def test_a_backdated_payment_re_measures_interest_in_the_period_it_was_recorded():
    """Statutory interest: a payment dated in January but recorded in February lowers January's
    interest; January as closed keeps what it recognised, and February recognises the difference
    (less than a February alone would): January + February equal January..February."""
    from tests.builders import claim
    from tests.ledger.ledgers import period, totals

    c = claim(1, due=date(2025, 6, 30), cutoff=date(2025, 12, 31), purchase_date=date(2026, 1, 1), principal=1_000_000)
    pay = event(1, "payment", date(2026, 1, 10), 900_000)
    backdated = book([c], [pay], recorded={1: date(2026, 2, 5)})
    on_time = book([c], [pay])
    interest = {}
    for name, b in (("backdated", backdated), ("on time", on_time)):
        for label, (first, last) in (("jan", JAN), ("feb", FEB)):
            _, lines = period(b, first, last)
            income = lines.filter(
                (lines["kind"] == "interest") & (lines["account"] == CHART.number(Role.INTEREST_INCOME))
            )
            interest[name, label] = int(income["credit"].sum()) - int(income["debit"].sum())
    assert interest["backdated", "jan"] > interest["on time", "jan"]  # January did not know of it
    assert interest["backdated", "feb"] < interest["on time", "feb"]  # February takes the excess back
    assert interest["backdated", "jan"] + interest["backdated", "feb"] == (
        interest["on time", "jan"] + interest["on time", "feb"]
    )
    jan, feb = period(backdated, *JAN)[1], period(backdated, *FEB)[1]
    whole = period(backdated, JAN[0], FEB[1])[1]
    assert {k: totals(jan).get(k, 0) + totals(feb).get(k, 0) for k in totals(whole)} == totals(whole)
    assert reconciled(backdated, *FEB).ok


def test_a_reversal_is_a_compensating_entry_on_its_own_day_never_a_deletion():
    b = book(
        [none_claim()],
        [event(1, "payment", date(2026, 2, 10), 8_000), event(2, "reversal", date(2026, 3, 4), reverses=1)],
    )
    february = lines_of(b, *FEB)
    assert [line[:4] for line in february] == [
        ("collection", "cash", 8_000, 0),
        ("collection", "receivable_principal", 0, 1_000),
        ("collection", "receivable_interest", 0, 5_000),
        ("collection", "receivable_costs", 0, 2_000),
    ]
    assert lines_of(b, *MAR) == [
        ("reversal", "cash", 0, 8_000, 2, date(2026, 3, 4)),
        ("reversal", "receivable_principal", 1_000, 0, 2, date(2026, 3, 4)),
        ("reversal", "receivable_interest", 5_000, 0, 2, date(2026, 3, 4)),
        ("reversal", "receivable_costs", 2_000, 0, 2, date(2026, 3, 4)),
    ]
    assert reconciled(b, *MAR).ok


def test_a_payment_reversed_within_the_period_goes_through_overpayments_and_back():
    b = book(
        [none_claim()],
        [event(1, "payment", date(2026, 2, 10), 8_000), event(2, "reversal", date(2026, 2, 12), reverses=1)],
    )
    assert lines_of(b, *FEB) == [
        ("collection", "cash", 8_000, 0, 1, date(2026, 2, 10)),
        ("collection", "overpayments_owed", 0, 8_000, 1, date(2026, 2, 10)),
        ("reversal", "cash", 0, 8_000, 2, date(2026, 2, 12)),
        ("reversal", "overpayments_owed", 8_000, 0, 2, date(2026, 2, 12)),
    ]
    assert reconciled(b, *FEB).ok


def test_a_write_off_takes_what_was_left_and_a_later_payment_is_owed_back():
    b = book(
        [none_claim()],
        [
            event(1, "payment", date(2026, 2, 10), 3_000),  # costs 20.00, interest 10.00
            event(2, "write_off", date(2026, 3, 5)),
            event(3, "payment", date(2026, 4, 7), 500),
        ],
    )
    assert lines_of(b, *MAR) == [
        ("write_off", "receivable_principal", 0, 100_000, 2, date(2026, 3, 5)),
        ("write_off", "receivable_interest", 0, 4_000, 2, date(2026, 3, 5)),
        ("write_off", "write_off_loss", 104_000, 0, 2, date(2026, 3, 5)),
    ]
    assert lines_of(b, *APR) == [
        ("collection", "cash", 500, 0, 3, date(2026, 4, 7)),
        ("collection", "overpayments_owed", 0, 500, 3, date(2026, 4, 7)),
    ]
    assert reconciled(b, *MAR).ok and reconciled(b, *APR).ok


def test_a_reversed_write_off_restores_the_receivables_and_re_allocates_the_payment_made_since():
    """May reverses March's write-off: the loss comes back, and April's payment, owed back while the
    claim was written off, now pays interest (the costs were paid in February): re-allocated on
    the reversal, with no cash moving."""
    b = book(
        [none_claim()],
        [
            event(1, "payment", date(2026, 2, 10), 3_000),
            event(2, "write_off", date(2026, 3, 5)),
            event(3, "payment", date(2026, 4, 7), 500),
            event(4, "reversal", date(2026, 5, 11), reverses=2),
        ],
    )
    assert lines_of(b, *MAY) == [
        ("collection", "receivable_interest", 0, 500, 4, date(2026, 5, 11)),
        ("collection", "overpayments_owed", 500, 0, 4, date(2026, 5, 11)),
        ("reversal", "receivable_principal", 100_000, 0, 4, date(2026, 5, 11)),
        ("reversal", "receivable_interest", 4_000, 0, 4, date(2026, 5, 11)),
        ("reversal", "write_off_loss", 0, 104_000, 4, date(2026, 5, 11)),
    ]
    assert reconciled(b, *MAY).ok


def test_a_waiver_and_a_capitalization():
    b = book(
        [none_claim()],
        [event(1, "interest_waiver", date(2026, 2, 3), 2_000), event(2, "capitalization", date(2026, 2, 17))],
    )
    assert lines_of(b, *FEB) == [
        ("waiver", "receivable_interest", 0, 2_000, 1, date(2026, 2, 3)),
        ("waiver", "interest_waived", 2_000, 0, 1, date(2026, 2, 3)),
        ("capitalization", "receivable_principal", 3_000, 0, 2, date(2026, 2, 17)),
        ("capitalization", "receivable_interest", 0, 3_000, 2, date(2026, 2, 17)),
    ]
    assert reconciled(b, *FEB).ok


def test_an_agency_earns_its_commission_on_what_it_collected_during_its_placement():
    pay = event(1, "payment", date(2026, 2, 10), 8_000) | {"source": "AG01"}
    direct = event(2, "payment", date(2026, 2, 11), 1_000) | {"source": "direct"}
    after = event(3, "payment", date(2026, 3, 20), 2_000) | {"source": "AG01"}
    placement = {
        "claim_id": 1,
        "agency_id": "AG01",
        "placed_on": date(2026, 2, 1),
        "recalled_on": date(2026, 3, 1),
        "rate_bp": 1_550,
    }
    b = book([none_claim()], [pay, direct, after], placements=[placement])
    commissions = [line for line in lines_of(b, *FEB) + lines_of(b, *MAR) if line[0] == "commission"]
    assert commissions == [  # 15.5 % of 80.00 zł = 12.40 zł; not on the direct payment nor after the recall
        ("commission", "agency_payable", 0, 1_240, 1, date(2026, 2, 10)),
        ("commission", "commission_expense", 1_240, 0, 1, date(2026, 2, 10)),
    ]
    reversed_ = book([none_claim()], [pay, event(4, "reversal", date(2026, 3, 2), reverses=1)], placements=[placement])
    assert [line for line in lines_of(reversed_, *MAR) if line[0] == "reversal" and "commission" in line[1]] == [
        ("reversal", "commission_expense", 0, 1_240, 4, date(2026, 3, 2)),
    ]


def test_a_claim_bought_later_is_not_in_the_book_before_its_purchase():
    b = book([none_claim(purchase_date=date(2026, 3, 10))], [event(1, "payment", date(2026, 2, 10), 8_000)])
    assert lines_of(b, *FEB) == []
    kinds = [(line[0], line[5]) for line in lines_of(b, *MAR)]
    # the payment made before the purchase (passed on by the seller) enters with the claim
    assert ("collection", date(2026, 3, 10)) in kinds and ("purchase", date(2026, 3, 10)) in kinds
    assert reconciled(b, *MAR).ok


def test_reconciliation_names_the_claims_behind_a_difference_never_nets_it_away():
    """Two claims of one portfolio whose journals are off by +1 and -1 grosz: the portfolio's total
    matches, and still both claims are reported (collections, and the transactions that no longer balance)."""
    import polars as pl

    from ledger.movements import timeline
    from ledger.reconcile import reconcile
    from tests.ledger.ledgers import period

    b = book(
        [none_claim(1), none_claim(2, seller_ref="REF-2")],
        [event(1, "payment", date(2026, 2, 10), 8_000), event(2, "payment", date(2026, 2, 11), 500, claim_id=2)],
    )
    m, lines = period(b, *FEB)
    cash = CHART.number(Role.CASH)
    nudged = lines.with_columns(
        debit=pl.when((pl.col("account") == cash) & (pl.col("claim_id") == 1))
        .then(pl.col("debit") + 1)
        .when((pl.col("account") == cash) & (pl.col("claim_id") == 2))
        .then(pl.col("debit") - 1)
        .otherwise(pl.col("debit"))
    )
    r = reconcile(m, nudged, CHART, timeline(b))
    assert not r.ok
    by_check = {row["check"]: row for row in r.differences}
    assert by_check["collections"]["difference"] == 0 and by_check["collections"]["claims"] == [1, 2]
    assert by_check["balanced"]["claims"] == [1, 2] and by_check["balanced"]["claims_off"] == 2
