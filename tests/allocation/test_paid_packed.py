"""The payments' facts read packed from PostgreSQL (two counts in one bigint, two days in another:
allocation.store.paid_query, paid_unpacked) are the rows read as they are, for any counts, any days
(before 1970 too) and an earlier day's facts present or not, with and without each row's run."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocation.store import paid_query, paid_unpacked
from engine.store.bulk import read_snapshot
from tests.store.conftest import POSTGRES_URL, _postgres_schema_url

needs_postgres = pytest.mark.skipif(
    POSTGRES_URL is None, reason="PostgreSQL: set CESSION_TEST_DATABASE_URL (.ci/run sets it)"
)

DAYS = st.dates(date(1900, 1, 1), date(2199, 12, 31))


@st.composite
def facts(draw) -> dict:
    payments = draw(st.integers(1, 2**31 - 1))
    before = draw(st.integers(0, payments))
    return {
        "run_id": draw(st.sampled_from([7, 8])),
        "payments": payments,
        "last_paid": draw(DAYS),
        "payments_before": before,
        # null exactly where no payment came by the earlier day (PAYMENTS_SQL)
        "last_paid_before": draw(DAYS) if before else None,
        "paid_since": draw(st.integers(-(2**62), 2**62)),
    }


@pytest.fixture(scope="module")
def engine():
    schema = f"t_paid_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = sa.create_engine(_postgres_schema_url(POSTGRES_URL, schema))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE portfolios (portfolio_id TEXT, current_run_id BIGINT)")
        conn.exec_driver_sql("INSERT INTO portfolios VALUES ('A', 7), ('B', 8), ('C', NULL)")
        conn.exec_driver_sql(
            "CREATE TABLE claim_payments (run_id BIGINT, claim_id BIGINT, payments INTEGER, last_paid DATE, "
            "payments_before INTEGER, last_paid_before DATE, paid_since BIGINT)"
        )
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


@pytest.mark.postgres
@needs_postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(facts(), max_size=30), with_run=st.booleans())
def test_the_packed_read_is_the_plain_read(engine, rows, with_run):
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM claim_payments")
        if rows:
            conn.execute(
                sa.text(
                    "INSERT INTO claim_payments VALUES (:run_id, :claim_id, :payments, :last_paid, :payments_before, "
                    ":last_paid_before, :paid_since)"
                ),
                [r | {"claim_id": i} for i, r in enumerate(rows)],
            )
    plain = read_snapshot(engine, {"p": paid_query(None, None, with_run=with_run, packed=False)})["p"]
    packed = read_snapshot(engine, {"p": paid_query(None, None, with_run=with_run, packed=True)})["p"]
    assert "counts" in packed.columns and "payments" not in packed.columns
    got = paid_unpacked(packed)
    assert got.schema == plain.schema
    assert got.sort("claim_id").equals(plain.sort("claim_id"))
    assert plain.height == len(rows)


def test_a_day_before_1970_and_the_largest_counts():
    packed = pl.DataFrame(
        {
            "claim_id": [1, 2],
            "counts": [(5 << 32) | 0, ((2**31 - 1) << 32) | (2**31 - 1)],
            "days": [((-1) << 32) | 0, (100 << 32) | ((-3) & 0xFFFFFFFF)],
            "paid_since": [0, -1],
        }
    )
    got = paid_unpacked(packed)
    assert got.to_dicts() == [
        {
            "claim_id": 1,
            "payments": 5,
            "last_paid": date(1969, 12, 31),
            "payments_before": 0,
            "last_paid_before": None,
            "paid_since": 0,
        },
        {
            "claim_id": 2,
            "payments": 2**31 - 1,
            "last_paid": date(1970, 1, 1) + timedelta(days=100),
            "payments_before": 2**31 - 1,
            "last_paid_before": date(1969, 12, 29),
            "paid_since": -1,
        },
    ]
