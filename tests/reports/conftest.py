"""A small generated book in a store (SQLite, and PostgreSQL with CESSION_TEST_DATABASE_URL in a
schema of its own), with an allocation and its engine run, and a key of each role: made once per
module and store (the tests read it; the one that revokes a key makes its own)."""

from __future__ import annotations

import os
import uuid
from datetime import date
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from api.agencies import service as agencies_service
from api.allocation import service as allocation_service
from api.claims import service as claims_service
from api.keys import service as keys
from api.runs import service as runs_service
from engine.store.database import open_store
from synthetic.book import generate_debtors, generate_portfolio, write_portfolio

AS_OF = date(2025, 12, 31)
PLACED = date(2025, 6, 30)
CLAIMS = 3000
POSTGRES_URL = os.environ.get("CESSION_TEST_DATABASE_URL")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('reports') / 'store.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set CESSION_TEST_DATABASE_URL (.ci/run sets it) to run the store tests on it")
    schema = f"t_rep_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(scope="module")
def generated(store_url, tmp_path_factory):
    """3000 claims in several portfolios, allocated with the example strategy as of PLACED, run as of AS_OF."""
    store = open_store(store_url)
    claims, events = generate_portfolio(CLAIMS, 7)
    claims_path, events_path = write_portfolio(tmp_path_factory.mktemp("book"), claims, events)
    claims_service.load(store=store, claims=claims_path, events=events_path)
    claims_service.load_debtors(store=store, debtors=generate_debtors(claims, 7))
    examples = allocation_service.EXAMPLES
    agencies_service.load(store=store, path=examples / "agencies.yaml")
    runs_service.run(store=store, as_of=PLACED, allow_stale_rates=True)  # placed half a year before the report
    allocation_service.allocate(store=store, as_of=PLACED, strategy_path=examples / "strategy.yaml")
    runs_service.run(store=store, as_of=AS_OF, allow_stale_rates=True)
    made = {role: keys.create(store=store, role=role).key for role in ("analyst", "admin", "legal")}
    made["agency"] = keys.create(store=store, role="agency", agency_id="AG01").key
    yield {"store": store, "url": store_url, "claims": claims, "events": events, "keys": made}
    store.dispose()
