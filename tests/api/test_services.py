"""The service layer (api/<domain>/service.py) that the command line calls today and the HTTP API
will call tomorrow: keyword-only functions over an explicit store, owning their transactions."""

from __future__ import annotations

import importlib
import inspect
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from api.claims import service as claims
from api.runs import service as runs
from api.store import service as store_service
from engine.errors import InputError
from engine.store.database import StoreError, head_revision
from engine.store.runs import read_state
from synthetic.book import generate_portfolio, write_portfolio

AS_OF = date(2026, 1, 31)
SERVICES = [p.parent.name for p in sorted((Path(__file__).parents[2] / "api").glob("*/service.py"))]


@pytest.mark.parametrize("domain", SERVICES)
def test_every_service_function_takes_keywords_only(domain):
    module = importlib.import_module(f"api.{domain}.service")
    functions = [
        f
        for name, f in inspect.getmembers(module, inspect.isfunction)
        if f.__module__ == module.__name__ and not name.startswith("_")
    ]
    assert functions
    for function in functions:
        kinds = {p.kind for p in inspect.signature(function).parameters.values()}
        assert kinds <= {inspect.Parameter.KEYWORD_ONLY}, f"{module.__name__}.{function.__name__}"


@pytest.fixture
def files(tmp_path):
    return write_portfolio(tmp_path / "book", *generate_portfolio(400, 5))


def test_a_store_opened_loaded_run_and_listed_through_the_services(empty_store_url, files, tmp_path):
    store_url = empty_store_url
    before = store_service.status(url=store_url)
    assert before.schema is None and before.counts == {}  # status only looks: an empty store stays empty
    upgraded = store_service.upgrade(url=store_url)
    assert (upgraded.before, upgraded.after, upgraded.head) == (None, head_revision(), head_revision())
    store = store_service.opened(url=store_url)
    claims_path, events_path = files
    first = claims.load(store=store, claims=claims_path, events=events_path)
    again = claims.load(store=store, claims=claims_path, events=events_path)
    assert first.summary()["claims"]["inserted"] == 400 and again.summary()["claims"]["inserted"] == 0
    assert again.rejects.height == 0
    record = runs.run(store=store, as_of=AS_OF, allow_stale_rates=True)
    assert record.status == "succeeded" and record.claims == 400
    assert [r.run_id for r in runs.latest(store=store)] == [record.run_id]
    stored = read_state(store)
    summaries = runs.series(
        store=store, days=[AS_OF, date(2026, 2, 28)], out=tmp_path / "series", allow_stale_rates=True
    )
    assert [s["as_of"] for s in summaries] == ["2026-01-31", "2026-02-28"]
    assert pl.read_parquet(tmp_path / "series" / "state-2026-01-31.parquet").equals(stored)
    assert read_state(store).equals(stored)  # a series leaves the stored state as it is
    assert store_service.status(url=store_url).counts["claim_state"] == 400
    with pytest.raises(StoreError, match="portfolio 'NOPE' is not in the store"):
        runs.run(store=store, as_of=AS_OF, portfolio="NOPE")
    store.dispose()


def test_a_file_that_is_not_parquet_is_refused_naming_it(store, tmp_path):
    text = tmp_path / "claims.parquet"
    text.write_text("claim_id;principal\n1;100\n")
    with pytest.raises(InputError, match="claims.parquet: not a readable Parquet file"):
        claims.load(store=store, claims=text)
