"""One registry per closed choice (engine/domain.py), and every place that must know its values.

Each place either derives from the registry or is checked against it here, so a value added to a
registry and forgotten somewhere fails a test that names the place. The interest bases are walked
through every place they reach: the data contract, the rule tables, the kernel's rows, the plain-Python
reference, the store's models and migrations, the seller profiles, the command line's help, the test
strategies, the synthetic generator and docs/.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from contacts.vocabulary import Channel as ContactChannel
from contacts.vocabulary import ContactStatus, Delivery
from contacts.vocabulary import Template as ContactTemplate
from engine.domain import (
    AMOUNT_EVENT_KINDS,
    CLAIM_LIMITATION_KINDS,
    EXECUTOR_NAMES,
    LIMITATION_EVENT_KINDS,
    AgencyChange,
    Bucket,
    DebtorKind,
    EventKind,
    InterestBasis,
    JobKind,
    JobStatus,
    KeyRole,
    LimitationKind,
    LineStatus,
    MatchedBy,
    PlacementQueue,
    PlanStatus,
    PromiseStatus,
    RunStatus,
    SettlementStatus,
)
from engine.kernels import codes
from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401 (fixtures: a migrated SQLite and PostgreSQL store)

ROOT = Path(__file__).resolve().parents[1]
BASES = tuple(b.value for b in InterestBasis)


def values_of(check_sql: str) -> tuple[str, ...]:
    """The quoted values of a ``column IN ('a', 'b')`` CHECK, as either dialect spells it back."""
    return tuple(re.findall(r"'([^']*)'", check_sql))


# --- the engine ------------------------------------------------------------------------------------------


def test_the_data_contract_takes_each_registry():
    from engine.schema import CLAIMS, EVENTS

    closed = {c.name: c.values for c in CLAIMS + EVENTS if c.values is not None}
    assert closed == {
        "debtor_kind": tuple(DebtorKind),
        "interest_basis": BASES,
        "limitation_kind": tuple(CLAIM_LIMITATION_KINDS),
        "kind": tuple(EventKind),
    }


def test_the_kernel_codes_are_the_registries_positions():
    """engine/kernels/codes.py repeats the codes the kernels test for (they import nothing of ours)."""
    for kind in EventKind:
        assert getattr(codes, kind.name) == kind.code, kind
    for bucket in Bucket:
        assert getattr(codes, bucket.name) == bucket.code, bucket
    assert (LimitationKind.PERIODIC.code, LimitationKind.TITLE.code) == (
        codes.LIMITATION_PERIODIC,
        codes.LIMITATION_TITLE,
    )
    # the kernels take every event from acknowledgment's code on as one acting on the limitation clock
    assert tuple(k for k in EventKind if k.code >= codes.ACKNOWLEDGMENT) == LIMITATION_EVENT_KINDS
    # the claim kinds come first: a claim's kind code is its run's kind code
    assert [k.code for k in CLAIM_LIMITATION_KINDS] == list(range(len(CLAIM_LIMITATION_KINDS)))


def test_every_basis_has_its_rate_tables_shipped_and_loaded():
    from engine.rules import load_rules
    from engine.rules.loader import SHIPPED_DIR

    rules = load_rules()
    read = set()
    for basis in InterestBasis:
        if basis.rates is None:
            continue
        for name in basis.rates.files:
            assert (SHIPPED_DIR / f"{name}.csv").is_file(), f"{basis}: engine/rules/data/{name}.csv is missing"
        assert basis.rates.table in rules.rates, basis
        read |= {basis.rates.table, basis.rates.over} - {None}
    assert set(rules.rates) == read  # the engine loads the interest tables the bases read, no other


def test_the_kernel_has_the_rate_rows_of_every_basis():
    from engine.kernel_rules import KernelRules
    from engine.rules import load_rules

    rules = load_rules()
    kernel = KernelRules.of(rules)
    assert len(kernel.basis_first_row) == len(kernel.basis_end_row) == len(kernel.basis_capped) == len(InterestBasis)
    for basis in InterestBasis:
        rows = slice(kernel.basis_first_row[basis.code], kernel.basis_end_row[basis.code])
        assert bool(kernel.basis_capped[basis.code]) == (basis.capped or basis.rates is None), basis
        if basis.rates is None:
            assert rows.start == rows.stop, basis
            continue
        table = rules.rates[basis.rates.table]
        days = kernel.rate_day[rows]
        assert len(days) and set(days) <= set(table.days), basis
        assert [int(bp) for bp in kernel.rate_bp[rows]] == [table.rate_on(d) for d in _dates(days)], basis


def _dates(days) -> list[date]:
    from engine.rules import from_day_number

    return [from_day_number(int(d)) for d in days]


@pytest.mark.parametrize("basis", list(InterestBasis), ids=str)
def test_every_basis_computes_as_the_reference_says(basis):
    """The plain-Python reference (tests/reference/, written apart on purpose) has a rate rule for each
    basis, and the engine agrees with it over years of rate changes."""
    from engine.interest import calculate_interest
    from tests.reference.engine_reference import reference_interest_pieces

    rate = 2_500 if basis.contract_rate else None
    first, last = date(2005, 3, 1), date(2025, 12, 31)
    calc = calculate_interest(1_234_567, first, last, basis, contractual_rate_bp=rate, allow_stale_rates=True)
    expected = reference_interest_pieces(1_234_567, first, last, basis.value, rate)
    assert [(p.first, p.last, p.days, p.rate_bp, p.interest) for p in calc.pieces] == expected


def test_validation_asks_a_contract_rate_of_the_contract_rate_bases_only():
    from engine.validation import EngineInputError, check_claims
    from tests.builders import claim, frames

    for basis in InterestBasis:
        claims, _ = frames([claim(due=date(2020, 1, 31), interest_basis=basis.value, contractual_rate_bp=None)])
        if basis.contract_rate:
            with pytest.raises(EngineInputError, match=f"contractual_rate_bp: required for interest_basis {basis}"):
                check_claims(claims)
        else:
            check_claims(claims)


# --- the store -------------------------------------------------------------------------------------------

#: Every column whose CHECK keeps it to a registry's values: a new one is added here.
CHECKED = {
    ("claims", "debtor_kind"): tuple(DebtorKind),
    ("claims", "interest_basis"): BASES,
    ("claims", "limitation_kind"): tuple(CLAIM_LIMITATION_KINDS),
    ("debtors", "debtor_kind"): tuple(DebtorKind),
    ("events", "kind"): tuple(EventKind),
    ("engine_runs", "status"): tuple(RunStatus),
    ("placements", "queue"): tuple(PlacementQueue),
    ("api_keys", "role"): tuple(KeyRole),
    ("agency_changes", "change"): tuple(AgencyChange),
    ("jobs", "kind"): tuple(JobKind),
    ("jobs", "status"): tuple(JobStatus),
    # contacts/ (contacts.vocabulary; the models write the values out: the engine does not import contacts)
    ("contacts", "template"): tuple(ContactTemplate),
    ("contacts", "channel"): tuple(ContactChannel),
    ("contacts", "status"): tuple(ContactStatus),
    ("contact_events", "result"): tuple(Delivery),
    ("contact_objections", "channel"): tuple(ContactChannel),
    ("statement_lines", "status"): tuple(LineStatus),
    ("statement_lines", "matched_by"): tuple(MatchedBy),
    ("payment_plans", "status"): tuple(PlanStatus),
    ("settlements", "status"): tuple(SettlementStatus),
    ("promises", "status"): tuple(PromiseStatus),
}


def test_the_models_check_each_registry_and_every_value_fits_its_column():
    from engine.store.models import Base

    found = {}
    for table in Base.metadata.sorted_tables:
        for check in table.constraints:
            if isinstance(check, sa.CheckConstraint) and str(check.name).endswith("_known"):
                column = str(check.name).removeprefix(f"ck_{table.name}_").removesuffix("_known")
                found[table.name, column] = values_of(str(check.sqltext))
                longest = max(len(v) for v in found[table.name, column])
                assert longest <= table.c[column].type.length, (table.name, column)
    assert found == CHECKED
    from engine.store.records import AuditAction

    assert max(len(a) for a in AuditAction) <= Base.metadata.tables["audit_log"].c.action.type.length


def test_the_migrated_store_allows_exactly_the_registries(store):  # noqa: F811
    """The latest migration of each CHECK allows what the registry holds today: a new value needs a
    migration (the registry's docstring says how)."""
    inspector = sa.inspect(store)
    for (table, column), values in CHECKED.items():
        checks = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table)}
        name = f"ck_{table}_{column}_known"
        assert name in checks, (table, column)
        assert values_of(checks[name]) == values, f"{table}.{column}: the migrations allow {values_of(checks[name])}"
        length = {c["name"]: c["type"] for c in inspector.get_columns(table)}[column].length
        assert max(len(v) for v in values) <= length, (table, column)


def test_the_frozen_migrations_are_not_read_from_the_registry():
    """A migration builds the same schema whatever the registry holds later: no migration imports it."""
    for path in (ROOT / "engine" / "store" / "migrations" / "versions").glob("*.py"):
        assert "engine.domain" not in path.read_text(), path.name


# --- ingest, the command line, the tests' own vocabularies ------------------------------------------------


def test_seller_profiles_take_each_registry():
    from ingest.profiles import ENUMS, load_profile

    assert {
        "debtor_kind": tuple(DebtorKind),
        "interest_basis": BASES,
        "limitation_kind": tuple(CLAIM_LIMITATION_KINDS),
    } == ENUMS
    shipped = load_profile("bank_przykladowy")
    assigned = {v for product in shipped.products.map.values() for v in product.values()}
    assert InterestBasis.COMMERCIAL_LATE_MEDICAL in assigned  # a profile may map a product to any basis


def test_the_command_line_help_lists_each_registry():
    from tests.test_cli import cession

    interest = " ".join(cession("interest", "--help").stdout.split())
    for basis in InterestBasis:
        assert basis.value in interest, f"cession interest --help does not list {basis}"
    limitation = " ".join(cession("limitation", "--help").stdout.split())
    for kind in CLAIM_LIMITATION_KINDS:
        assert kind.value in limitation and kind.value in interest, kind
    for kind in LIMITATION_EVENT_KINDS:
        assert kind.value in limitation, kind
    state = " ".join(cession("state", "--help").stdout.split())
    for name in EXECUTOR_NAMES:
        assert name in state, name


def test_the_test_strategies_draw_every_value():
    from tests import strategies

    assert strategies.INTEREST_BASES == BASES
    assert tuple(DebtorKind) == strategies.DEBTOR_KINDS
    assert tuple(CLAIM_LIMITATION_KINDS) == strategies.LIMITATION_KINDS
    assert tuple(EventKind) == strategies.EVENT_KINDS
    assert strategies.AMOUNT_KINDS == AMOUNT_EVENT_KINDS
    assert tuple(Bucket) == strategies.BUCKETS


def test_the_docs_describe_every_basis():
    engine_md = (ROOT / "docs" / "engine.md").read_text()
    contract_md = (ROOT / "docs" / "data-contract.md").read_text()
    for basis in InterestBasis:
        assert f"`{basis}`" in engine_md, f"docs/engine.md: no rate rule for {basis}"
        assert f"`{basis}`" in contract_md, f"docs/data-contract.md does not list {basis}"
