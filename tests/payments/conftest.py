"""A small book for the statements' tests, on SQLite and (with CESSION_TEST_DATABASE_URL) PostgreSQL:

| debtor | who | PESEL/NIP | claims (seller_ref, due, balance) |
|---|---|---|---|
| 1 | Jan Kowalski | 85010112345 | 11 KR/2019/0011 2019-05-10 300.00; 12 KR/2020/0012 2020-02-01 200.00; 13 KR/2021/0013 2021-07-15 1 000.00 |
| 2 | Anna Nowak | 92031545672 | 21 KR/2021/0021 2021-09-01 800.00 |
| 3 | Piotr Wiśniewski | 77070777778 | 31 UM-31 2022-01-10 450.00 |
| 4 | Firma Handlowa ABC Sp. z o.o. | NIP 5250001233 | 41 FV/2022/041 2022-03-01 2 000.00; 42 FV/2022/042 2022-06-01 500.00 |

No engine run: a claim's open balance is its cutoff's principal + interest + costs less the
payments posted since. Each debtor has a virtual account (the default prefix: debtor 1's is
74 9990 0009 0000 0000 0000 0001, debtor 4's 90 9990 0009 0000 0000 0000 0004).
"""

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from engine.store import records
from ingest.debtors import name_key
from tests.builders import claim, frames
from tests.store.conftest import empty_store_url, migrated_postgres, migrated_sqlite, store, store_url  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).with_name("fixtures")
FUND_ACCOUNT = "61109010140000071219812874"

DEBTORS = [
    (1, "consumer", "85010112345", "Jan Kowalski"),
    (2, "consumer", "92031545672", "Anna Nowak"),
    (3, "consumer", "77070777778", "Piotr Wiśniewski"),
    (4, "business", "5250001233", "Firma Handlowa ABC Sp. z o.o."),
]
CLAIMS = [
    (11, 1, "KR/2019/0011", date(2019, 5, 10), 30_000),
    (12, 1, "KR/2020/0012", date(2020, 2, 1), 20_000),
    (13, 1, "KR/2021/0013", date(2021, 7, 15), 100_000),
    (21, 2, "KR/2021/0021", date(2021, 9, 1), 80_000),
    (31, 3, "UM-31", date(2022, 1, 10), 45_000),
    (41, 4, "FV/2022/041", date(2022, 3, 1), 200_000),
    (42, 4, "FV/2022/042", date(2022, 6, 1), 50_000),
]


@pytest.fixture
def book(store):  # noqa: F811 (the store fixture)
    return build_book(store)


def build_book(engine):
    """The table above, in the store at ``engine``."""
    kinds = {d[0]: d[1] for d in DEBTORS}
    debtors = pl.DataFrame(
        [{"debtor_id": i, "debtor_kind": k, "national_id": n, "name": name} for i, k, n, name in DEBTORS]
    )
    records.load_debtors(engine, debtors)
    claims = [
        claim(i, due=due, debtor_id=d, debtor_kind=kinds[d], seller_ref=ref, principal=amount)
        for i, d, ref, due, amount in CLAIMS
    ]
    records.load(engine, *frames(claims))
    keys = debtors.select("debtor_id", name_key=name_key(pl.col("name")))
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO debtor_keys (debtor_id, name_key) VALUES (:debtor_id, :name_key)"), keys.to_dicts()
        )
    return engine


def lines_of(engine, table: str = "statement_lines") -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).mappings()]


def direct_events(engine) -> list[dict]:
    """The events statements posted, by id."""
    with engine.connect() as conn:
        query = "SELECT * FROM events WHERE source = 'direct' ORDER BY event_id"
        return [dict(r) for r in conn.execute(sa.text(query)).mappings()]


def outcomes(report) -> dict[int, tuple]:
    """line -> (outcome, matched_by, candidate claim) of an import."""
    return {
        r["position"]: (r["outcome"], r["matched_by"], r["candidate_claim_id"])
        for r in report.outcomes.iter_rows(named=True)
    }


def parts(report) -> dict[int, list[tuple[int, str, int]]]:
    """line -> its events (claim, kind, amount) of an import."""
    found: dict[int, list] = {}
    for r in report.parts.iter_rows(named=True):
        found.setdefault(r["position"], []).append((r["claim_id"], r["kind"], r["amount"]))
    return found
