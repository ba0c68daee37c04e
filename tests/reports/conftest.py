"""A small generated book in a store (SQLite, and PostgreSQL with CESSION_TEST_DATABASE_URL: the
store tests' fixture), with its engine run and an allocation, and the keys of each role."""

from __future__ import annotations

from datetime import date

import pytest

from api.agencies import service as agencies_service
from api.allocation import service as allocation_service
from api.claims import service as claims_service
from api.keys import service as keys
from api.runs import service as runs_service
from synthetic.book import generate_debtors, generate_portfolio, write_portfolio
from tests.store.conftest import store, store_url  # noqa: F401 (fixtures)

AS_OF = date(2025, 12, 31)
PLACED = date(2025, 6, 30)
CLAIMS = 3000


@pytest.fixture
def generated(store, tmp_path):  # noqa: F811 (the store fixture)
    """3000 claims in several portfolios, allocated with the example strategy as of PLACED, run as of AS_OF."""
    claims, events = generate_portfolio(CLAIMS, 7)
    claims_path, events_path = write_portfolio(tmp_path / "book", claims, events)
    claims_service.load(store=store, claims=claims_path, events=events_path)
    claims_service.load_debtors(store=store, debtors=generate_debtors(claims, 7))
    examples = allocation_service.EXAMPLES
    agencies_service.load(store=store, path=examples / "agencies.yaml")
    runs_service.run(store=store, as_of=PLACED, allow_stale_rates=True)  # placed half a year before the report
    allocation_service.allocate(store=store, as_of=PLACED, strategy_path=examples / "strategy.yaml")
    runs_service.run(store=store, as_of=AS_OF, allow_stale_rates=True)
    made = {role: keys.create(store=store, role=role).key for role in ("analyst", "admin", "legal")}
    made["agency"] = keys.create(store=store, role="agency", agency_id="AG01").key
    return {"store": store, "claims": claims, "events": events, "keys": made}
