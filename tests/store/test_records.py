"""Claims and events into the store and back: exact round trips, retries stored once, and every
row accounted for (inserted, already stored, or rejected with its reason)."""

from __future__ import annotations

import threading
from datetime import date

import polars as pl
import pytest
import sqlalchemy as sa

from engine.store import records
from engine.store.database import head_revision, open_store, revision
from engine.store.models import Base
from synthetic.book import generate_portfolio
from tests.builders import claim, event, frames

D = date(2024, 1, 10)


def accounted(w: records.Written) -> bool:
    return w.inserted + w.already_stored + w.rejects.height == w.rows


def test_migrations_create_every_table(store):
    assert revision(store) == head_revision()
    tables = set(sa.inspect(store).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_an_old_schema_is_refused_until_upgraded(empty_store_url):
    store_url = empty_store_url
    from alembic import command

    from engine.store.database import StoreError, alembic_config, upgrade_schema

    engine = open_store(store_url)
    command.downgrade(alembic_config(engine), "base")
    assert revision(engine) is None  # empty again: the next use migrates it
    upgrade_schema(engine)
    with engine.begin() as conn:  # pretend this store was made by a newer Cession
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'zzzz'")
    with pytest.raises(StoreError, match="cession db upgrade"):
        open_store(store_url, upgrade=False)


def test_a_portfolio_round_trips_exactly(store):
    claims, events = generate_portfolio(300, seed=3)
    written = records.load(store, claims, events)
    assert written["claims"].inserted == 300 and written["events"].inserted == events.height
    with store.connect() as conn:
        assert records.read_claims(conn).sort("claim_id").equals(claims.sort("claim_id"))
        assert records.read_events(conn).sort("event_id").equals(events.sort("event_id"))
        some = claims["portfolio_id"][0]
        assert set(records.read_claims(conn, some)["portfolio_id"]) == {some}
        their = records.read_events(conn, some)
        assert (
            their.height
            == events.filter(
                pl.col("claim_id").is_in(claims.filter(pl.col("portfolio_id") == some)["claim_id"].implode())
            ).height
        )


def test_loading_the_same_file_twice_stores_it_once(store):
    claims, events = generate_portfolio(200, seed=4)
    records.load(store, claims, events)
    again = records.load(store, claims, events)
    assert again["claims"].inserted == 0 and again["claims"].already_stored == 200
    assert again["events"].inserted == 0 and again["events"].already_stored == events.height
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == events.height


def test_a_load_leaves_the_planner_statistics_of_what_it_filled(store):
    if store.dialect.name != "postgresql":
        pytest.skip("ANALYZE: PostgreSQL's planner statistics")
    claims, events = generate_portfolio(200, seed=4)
    records.load(store, claims, events)
    with store.connect() as conn:
        analyzed = dict(
            conn.exec_driver_sql(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN ('claims', 'events', 'virtual_accounts')"
            ).all()
        )
        rows = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass").scalar()
    assert analyzed == {"claims": True, "events": True, "virtual_accounts": True} and rows == events.height


def test_bad_rows_are_rejected_with_their_reason_and_the_rest_stored(store):
    claims, _ = frames([claim(1, due=D), claim(2, due=D)])
    records.load(store, claims)
    _, events = frames(
        [],
        [
            event(10, "payment", D, 500, claim_id=1),
            event(11, "payment", D, 500, claim_id=99),  # no such claim
            event(12, "reversal", D, claim_id=2, reverses=10),  # reverses another claim's payment
            event(13, "reversal", D, claim_id=1, reverses=10),  # fine
        ],
    )
    written = records.post_events(store, events)
    assert written.inserted == 2 and accounted(written)
    reasons = dict(zip(written.rejects["key"], written.rejects["reason"], strict=True))
    assert reasons == {
        "event:0000000000000000011": "the claim is not in the store",
        "event:0000000000000000012": "a reversal must name an event of the same claim (stored or in this batch)",
    }


def test_a_key_reused_for_other_values_is_rejected_not_overwritten(store):
    claims, _ = frames([claim(1, due=D)])
    records.load(store, claims)
    _, first = frames([], [event(10, "payment", D, 500)])
    records.post_events(store, first.with_columns(idempotency_key=pl.lit("AG1-PAY-1")))
    _, changed = frames([], [event(11, "payment", D, 999)])
    written = records.post_events(store, changed.with_columns(idempotency_key=pl.lit("AG1-PAY-1")))
    assert written.inserted == 0 and accounted(written)
    assert written.rejects["reason"].to_list() == [
        "idempotency_key already stored with other values (events are immutable: post a reversal)"
    ]
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT amount FROM events").scalars().all() == [500]


def test_a_seller_ref_taken_in_the_portfolio_is_rejected(store):
    records.load(store, frames([claim(1, due=D, seller_ref="A-1")])[0])
    written = records.load(store, frames([claim(2, due=D, seller_ref="A-1"), claim(3, due=D)])[0])["claims"]
    assert written.inserted == 1 and accounted(written)
    assert written.rejects.row(0, named=True) == {
        "table": "claims",
        "key": "2",
        "reason": "another stored row has the same portfolio_id + seller_ref",
    }


def test_events_cannot_be_changed_or_deleted(store):
    records.load(store, *frames([claim(1, due=D)], [event(10, "payment", D, 500)]))
    for statement in ("UPDATE events SET amount = 1", "DELETE FROM events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.begin() as conn:
            conn.exec_driver_sql(statement)
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT amount FROM events").scalars().all() == [500]


def test_input_that_breaks_the_schema_is_refused_whole(store):
    from engine.validation import EngineInputError

    claims, events = frames([claim(1, due=D)], [event(10, "payment", D, None)])  # a payment needs an amount
    with pytest.raises(EngineInputError, match="events.amount"):
        records.load(store, claims, events)
    with store.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0


def test_the_same_events_posted_at_once_from_two_connections_are_stored_once(store_url):
    claims, events = generate_portfolio(100, seed=5)
    setup = open_store(store_url)
    records.load(setup, claims)
    batch = events.with_columns(idempotency_key="AG7:" + pl.col("event_id").cast(pl.String))
    start = threading.Barrier(2)
    results: list = []

    def post() -> None:
        engine = open_store(store_url)  # a connection pool of its own
        start.wait()
        results.append(records.post_events(engine, batch))
        engine.dispose()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.inserted for r in results) == [0, batch.height]
    assert all(r.rejects.height == 0 and accounted(r) for r in results)
    with setup.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == batch.height
    setup.dispose()


def test_the_migrations_match_the_models(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with store.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
