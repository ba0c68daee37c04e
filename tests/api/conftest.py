"""The services run on the same stores as the store's tests: SQLite, and PostgreSQL with
CESSION_TEST_DATABASE_URL (a schema of their own). ``book``: a small store with two agencies and a key
of each role; ``client``: the HTTP API over it."""

from datetime import date

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.keys import service as keys
from engine.store import records
from engine.store.models import Agency, Placement
from tests.builders import claim, event, frames
from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401 (fixtures)

DUE = date(2025, 1, 15)


@pytest.fixture
def book(store):  # noqa: F811 (the store fixture)
    """Four claims: 1 and 2 placed with agency A, 3 with B, 4 with none (2 was with B before);
    one key of each kind."""
    claims = [claim(i, due=DUE, principal=100_000 * i, debtor_id=i) for i in (1, 2, 3, 4)]
    records.load(store, *frames(claims, [event(1, "payment", date(2025, 6, 1), 10_000, claim_id=1)]))
    with store.begin() as conn:
        conn.execute(sa.insert(Agency.__table__), [{"agency_id": a, "name": f"Agency {a}"} for a in ("A", "B")])
        conn.execute(
            sa.insert(Placement.__table__),
            [
                {"claim_id": 1, "agency_id": "A", "placed_on": date(2026, 1, 5), "recalled_on": None},
                {"claim_id": 2, "agency_id": "B", "placed_on": date(2025, 9, 1), "recalled_on": date(2025, 12, 1)},
                {"claim_id": 2, "agency_id": "A", "placed_on": date(2026, 1, 5), "recalled_on": None},
                {"claim_id": 3, "agency_id": "B", "placed_on": date(2026, 1, 5), "recalled_on": None},
            ],
        )
    made = {
        "admin": keys.create(store=store, role="admin"),
        "analyst": keys.create(store=store, role="analyst"),
        "legal": keys.create(store=store, role="legal"),
        "A": keys.create(store=store, role="agency", agency_id="A"),
        "B": keys.create(store=store, role="agency", agency_id="B"),
    }
    return {name: {"Authorization": f"Bearer {k.key}"} for name, k in made.items()} | {"_keys": made}


@pytest.fixture
def client(store):  # noqa: F811 (the store fixture)
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        yield c
