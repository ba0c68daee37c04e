"""The bulk paths' own guarantees: PostgreSQL's binary COPY round-trips every type exactly (and
hands what it cannot encode to CSV), a first load into empty tables builds their indexes after
the rows and leaves the schema exactly as migrated, and a duplicate key in it changes nothing
in how rows are accounted for; a run's state filled over several connections shows whole or not
at all."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from engine.store import bulk, records, runs
from engine.store.bulk import in_id_order, read_frame, write_frame, write_frames
from engine.store_run import run
from synthetic.book import generate_portfolio

AS_OF = date(2026, 10, 31)


def _schema(store) -> list[tuple]:
    """Every index and constraint of the store's tables, with its definition."""
    with store.connect() as conn:
        if conn.dialect.name != "postgresql":
            return conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY name").all()
        return conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace UNION ALL "
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1, 2, 3"
        ).all()


@pytest.fixture
def rebuild_always(monkeypatch):
    monkeypatch.setattr(records, "REBUILD_MIN_ROWS", 1)


def test_a_first_load_builds_indexes_after_the_rows_and_leaves_the_schema_as_migrated(store, rebuild_always):
    claims, events = generate_portfolio(300, seed=5)
    before = _schema(store)
    written = records.load(store, claims, events)
    assert written["claims"].inserted == 300 and written["events"].inserted == events.height
    assert _schema(store) == before
    again = records.load(store, claims, events)  # the indexes are there: a retry stores nothing
    assert again["events"].inserted == 0 and again["events"].already_stored == events.height
    with store.connect() as conn:
        assert records.read_events(conn).sort("event_id").equals(events.sort("event_id"))


@pytest.mark.parametrize("rebuild", [1, 10**9], ids=["indexes-after", "indexes-kept"])
def test_a_key_twice_in_a_first_load_is_accounted_for_the_same_either_way(store, monkeypatch, rebuild):
    monkeypatch.setattr(records, "REBUILD_MIN_ROWS", rebuild)
    claims, events = generate_portfolio(100, seed=6)
    events = records.with_idempotency_keys(events)
    twice = events.head(1).with_columns(
        event_id=pl.col("event_id") + events["event_id"].max(), amount=pl.lit(1, pl.Int64)
    )
    before = _schema(store)
    written = records.load(store, claims, pl.concat([events, twice]))["events"]
    assert (written.rows, written.inserted, written.already_stored) == (events.height + 1, events.height, 0)
    assert written.rejects["key"].to_list() == [twice["idempotency_key"][0]]  # the second one, not stored
    assert _schema(store) == before


def test_every_column_type_round_trips_exactly(store):
    frame = pl.DataFrame(
        {
            "a": [1, None, -5, 2**62],
            "b": [date(2000, 1, 1), None, date(1969, 12, 31), date(2026, 10, 31)],
            "c": ["x", None, "", "zażółć ✓"],
            "d": [True, None, False, True],
            "e": [1, 2, None, -32768],
            "f": [7, -1, None, 2**31 - 1],
        },
        schema={"a": pl.Int64, "b": pl.Date, "c": pl.String, "d": pl.Boolean, "e": pl.Int16, "f": pl.Int32},
    )
    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE t (a BIGINT, b DATE, c VARCHAR(20), d BOOLEAN, e SMALLINT, f INTEGER)")
        write_frame(conn, "t", frame)
        if conn.dialect.name == "postgresql":
            # too wide for INTEGER: not encoded (it would wrap) but sent as text, which the server refuses
            too_wide = frame.head(1).with_columns(f=pl.lit(2**31, pl.Int64))
            with pytest.raises(Exception, match="out of range"), conn.begin_nested():
                write_frame(conn, "t", too_wide)
        back = read_frame(conn, "SELECT a, b, c, d, e, f FROM t", dict(frame.schema))
    assert back.equals(frame)


def test_frames_from_a_generator_are_written_as_they_come_one_made_ahead(store):
    """write_frames takes frames from a generator a frame ahead of the server (never all at once),
    counts every row, and starts a new COPY where the frames' columns change."""
    made, counted = [], []
    frames = [pl.DataFrame({"a": [i, i + 1], "c": [f"x{i}", None]}) for i in range(0, 10, 2)]
    frames.insert(3, pl.DataFrame({"a": [100]}))  # other columns: a COPY of its own, then back

    def coming():
        for k, frame in enumerate(frames):
            made.append(k)
            yield frame

    def on_batch(rows: int) -> None:
        counted.append((rows, len(made)))

    with store.begin() as conn:
        conn.exec_driver_sql("CREATE TEMP TABLE t (a BIGINT, c VARCHAR(20))")
        assert write_frames(conn, "t", coming(), on_batch=on_batch) == 11
        back = read_frame(conn, "SELECT a, c FROM t ORDER BY a", {"a": pl.Int64, "c": pl.String})
    expected = pl.concat([f.with_columns(c=pl.lit(None, pl.String)) if "c" not in f.columns else f for f in frames])
    assert back.equals(expected.sort("a"))
    assert [rows for rows, _ in counted] == [2, 4, 6, 7, 9, 11]
    # when a frame's rows are counted, the generator has made at most the frame after it
    assert all(m <= k + 2 for k, (_, m) in enumerate(counted))


def test_frames_come_in_id_order_with_no_sort_when_they_already_are():
    frame = pl.DataFrame({"id": [1, 2, 5, 3, 4], "v": ["a", "b", "e", "c", "d"]})
    assert in_id_order(frame, "id").equals(frame.sort("id"))
    ordered = frame.sort("id")
    assert in_id_order(ordered, "id") is ordered


def _run_tables(engine) -> list[tuple[str, bool]]:
    """PostgreSQL: each run's claim_state table and whether it is attached."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT relname, relispartition FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind = 'r' AND relname ~ '^claim_state_run_' ORDER BY relname"
        ).all()


@pytest.mark.postgres
def test_a_run_state_filled_over_several_connections_is_attached_whole_or_not_at_all(store, monkeypatch):
    if store.dialect.name != "postgresql":
        pytest.skip("PostgreSQL fills a run's table over several connections")
    monkeypatch.setattr(runs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(runs, "STATE_WRITERS", 3)
    monkeypatch.setattr(bulk, "BATCH_ROWS", 50)
    claims, events = generate_portfolio(400, seed=7)
    records.load(store, claims, events)
    first = run(store, AS_OF, allow_stale_rates=True)
    before = runs.read_state(store)
    assert before.height == 400 and _run_tables(store) == [(f"claim_state_run_{first.run_id}", True)]
    seen = []

    def fail_late(written: int) -> None:
        seen.append(written)
        if written >= 350:
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        run(store, AS_OF, allow_stale_rates=True, on_batch=fail_late)
    assert max(seen) >= 350 and seen == sorted(seen)  # rows of all slices, counted once
    assert runs.read_state(store).equals(before)
    assert _run_tables(store) == [(f"claim_state_run_{first.run_id}", True)]  # the failed run's table dropped
    with store.begin() as conn:  # as a killed run would leave it: filled, never attached
        conn.exec_driver_sql("CREATE TABLE claim_state_run_999 (LIKE claim_state)")
    runs.recover(store)
    assert _run_tables(store) == [(f"claim_state_run_{first.run_id}", True)]
    again = run(store, AS_OF, allow_stale_rates=True)
    assert again.state_sha256 == first.state_sha256 and runs.read_state(store).equals(before)
