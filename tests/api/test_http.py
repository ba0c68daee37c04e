"""The HTTP API through HTTP, on SQLite and PostgreSQL: keys and roles, an agency confined to its own
placements (404 for anything else), batches refused item by item, idempotent retries (also 20 at
once, against a real server on loopback), a balance that includes an event posted a second ago,
and problem+json errors."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from api.http.app import create_app
from api.keys import service as keys
from engine.store import records
from engine.store.models import Agency, AuditEntry, Claim, Event, Placement
from tests.api.conftest import DUE
from tests.builders import claim, frames

TODAY = date.today()


def payment(external_id: str, claim_id: int = 1, amount: str = "10.00", day: date = TODAY) -> dict:
    return {
        "claim_id": claim_id,
        "kind": "payment",
        "event_date": day.isoformat(),
        "amount": amount,
        "external_id": external_id,
    }


def post(client, who, events, key="batch-1"):
    return client.post("/v1/agency/events", json={"events": events}, headers=who | {"Idempotency-Key": key})


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    return body


# ---------------------------------------------------------------------------------------- keys

#: how long a server process trusts a key it found valid (Settings.api_key_cache_seconds' default)
KEY_CACHE_SECONDS = 5.0


def later(client, seconds: float) -> None:
    """The server's key cache as ``seconds`` from now (its clock moved on, no waiting)."""
    checked = client.app.state.checked_keys
    assert checked.seconds == KEY_CACHE_SECONDS
    now = checked.clock()
    checked.clock = lambda: now + seconds


def test_a_revoked_key_works_until_the_cache_bound_and_never_after(client, book, store):
    """A key found valid is trusted by the server process for CESSION_API_KEY_CACHE_SECONDS (5 s):
    revoked in the store (as `cession keys revoke` in another process does), it still answers
    within that bound and is refused from then on; an unknown key is never kept."""
    path = "/v1/agency/claims/1/balance"
    checked = client.app.state.checked_keys
    now = [1000.0]
    checked.clock = lambda: now[0]
    assert client.get(path, headers=book["A"]).status_code == 200
    keys.revoke(store=store, key_id=book["_keys"]["A"].key_id)
    now[0] += KEY_CACHE_SECONDS - 0.01
    assert client.get(path, headers=book["A"]).status_code == 200  # within the stated bound
    now[0] += 0.01
    is_problem(client.get(path, headers=book["A"]), 401)
    now[0] -= 60  # even a clock going back does not bring the revoked key back: it was dropped
    is_problem(client.get(path, headers=book["A"]), 401)
    forged = book["_keys"]["B"].key[:-4] + "AAAA"
    is_problem(client.get(path, headers={"Authorization": f"Bearer {forged}"}), 401)
    assert len(checked._valid) == 0


def test_the_key_cache_keeps_at_most_its_size(store, book):
    from api.keys.service import CheckedKeys

    checked = CheckedKeys(5.0, size=2, clock=lambda: 0.0)
    made = [book["_keys"][name].key for name in ("A", "B")] + [keys.create(store=store, role="analyst").key]
    assert all(checked.caller(store=store, key=k) is not None for k in made)
    assert len(checked._valid) == 2
    assert CheckedKeys(0.0).caller(store=store, key=made[0]) is not None  # no cache: the store's answer


def test_no_key_a_malformed_key_and_a_revoked_key_are_refused(client, book, store):
    path = "/v1/agency/claims/1/balance"
    assert client.get(path, headers=book["A"]).status_code == 200
    body = is_problem(client.get(path), 401)
    assert "Authorization: Bearer" in body["detail"]
    assert client.get(path).headers["www-authenticate"].startswith("Bearer")
    is_problem(client.get(path, headers={"Authorization": "Bearer nonsense"}), 401)
    forged = book["_keys"]["A"].key[:-4] + "AAAA"
    is_problem(client.get(path, headers={"Authorization": f"Bearer {forged}"}), 401)
    keys.revoke(store=store, key_id=book["_keys"]["A"].key_id)
    later(client, KEY_CACHE_SECONDS)  # the bound on a revoked key in a server process (CESSION_API_KEY_CACHE_SECONDS)
    is_problem(client.get(path, headers=book["A"]), 401)


def test_keys_are_stored_hashed_and_a_revoked_key_cannot_be_revoked_again(store, book):
    with store.connect() as conn:
        stored = conn.exec_driver_sql("SELECT key_sha256 FROM api_keys").scalars().all()
    assert len(stored) == 5 and all(len(h) == 64 for h in stored)
    assert not any(k.key in stored or k.key.split("_")[-1] in stored for k in book["_keys"].values())
    key_id = book["_keys"]["B"].key_id
    assert keys.revoke(store=store, key_id=key_id).revoked
    with pytest.raises(ValueError, match="already revoked"):
        keys.revoke(store=store, key_id=key_id)
    with pytest.raises(ValueError, match="no such key"):
        keys.revoke(store=store, key_id="k0000000000000000")


def test_roles_admit_their_routes_only(client, book):
    assert client.get("/v1/claims/1", headers=book["analyst"]).status_code == 200
    assert client.get("/v1/claims/1", headers=book["legal"]).status_code == 200
    assert client.get("/v1/runs", headers=book["admin"]).status_code == 200
    is_problem(client.get("/v1/claims/1", headers=book["A"]), 403)
    is_problem(client.get("/v1/runs", headers=book["legal"]), 403)
    # an agency's routes act for one agency: an admin's key has none
    is_problem(post(client, book["admin"], [payment("x1")]), 403)
    is_problem(client.get("/v1/agency/claims/1/balance", headers=book["analyst"]), 403)


# ------------------------------------------------------------------------ an agency's own claims


@pytest.mark.parametrize("claim_id", [3, 4, 999_999])
def test_an_agency_gets_404_for_every_claim_not_placed_with_it(client, book, claim_id):
    body = is_problem(client.get(f"/v1/agency/claims/{claim_id}/balance", headers=book["A"]), 404)
    assert body["detail"] == f"claim {claim_id}: not found"  # the same words whether it exists or not


def test_the_other_agency_sees_its_own_and_not_the_first_ones(client, book):
    assert client.get("/v1/agency/claims/3/balance", headers=book["B"]).status_code == 200
    for claim_id in (1, 2):  # 2 was B's once: recalled, so not B's now
        is_problem(client.get(f"/v1/agency/claims/{claim_id}/balance", headers=book["B"]), 404)


def test_posting_for_a_claim_of_another_agency_is_refused_with_the_items_index(client, book, store):
    body = is_problem(post(client, book["A"], [payment("x1"), payment("x2", claim_id=3)]), 422)
    assert body["errors"] == [{"index": 1, "field": "claim_id", "rule": "claim 3 is not placed with agency A"}]
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Event.__table__)).scalar() == 1  # none stored


# ------------------------------------------------------------------------------ bad items


BAD = [
    ({"amount": "12.345"}, "amount", "at most two decimals"),
    ({"amount": "-5.00"}, "amount", "must not be negative"),
    ({"amount": "0.00"}, "amount", "more than 0.00"),
    ({"amount": "0"}, "amount", "more than 0.00"),
    ({"amount": "1,50"}, "amount", "not an amount"),
    ({"amount": "1e3"}, "amount", "not an amount"),
    ({"amount": None}, "amount", "a payment has an amount"),
    ({"amount": 12.5}, "amount", "string"),
    ({"event_date": (TODAY + timedelta(days=1)).isoformat()}, "event_date", "in the future"),
    ({"event_date": "2026-02-30"}, "event_date", "date"),
    ({"kind": "title"}, "kind", "an agency posts one of payment, acknowledgment"),
    ({"kind": "acknowledgment"}, "amount", "has no amount"),
    ({"external_id": ""}, "external_id", "at least 1 character"),
]


@pytest.mark.parametrize(("change", "field", "rule"), BAD, ids=[f"{f}={c}" for c, f, _ in BAD])
def test_every_bad_item_is_refused_with_its_index_field_and_rule(client, book, store, change, field, rule):
    events = [payment("ok-1"), payment("bad") | change, payment("ok-2", claim_id=2)]
    body = is_problem(post(client, book["A"], events), 422)
    assert len(body["errors"]) == 1, body
    (error,) = body["errors"]
    assert error["index"] == 1 and error["field"].split(".")[-1] == field and rule in error["rule"], error
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Event.__table__)).scalar() == 1


def test_a_batch_takes_one_to_a_thousand_events_and_an_idempotency_key(client, book):
    is_problem(post(client, book["A"], []), 422)
    is_problem(post(client, book["A"], [payment(f"e{i}") for i in range(1001)]), 422)
    response = client.post("/v1/agency/events", json={"events": [payment("x")]}, headers=book["A"])
    assert is_problem(response, 422)["errors"][0]["field"] == "idempotency-key"
    two = post(client, book["A"], [payment("same"), payment("same", claim_id=2)])
    assert is_problem(two, 422)["errors"] == [{"index": 1, "field": "external_id", "rule": "'same' is also item 0's"}]


# --------------------------------------------------------------------------------- idempotency


def test_a_retry_gets_the_first_response_and_stores_nothing_new(client, book, store):
    events = [payment("p1", amount="100.00"), {**payment("a1", claim_id=2), "kind": "acknowledgment", "amount": None}]
    first = post(client, book["A"], events)
    assert first.status_code == 201, first.text
    assert first.json()["accepted"] == 2 and all(e["stored"] for e in first.json()["events"])
    again = post(client, book["A"], events)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    other = post(client, book["A"], [payment("p1", amount="100.01")])
    assert "another request" in is_problem(other, 409)["detail"]
    # the same events in a new batch: recognised by their external ids
    resent = post(client, book["A"], events, key="batch-2")
    assert resent.status_code == 201 and not any(e["stored"] for e in resent.json()["events"])
    assert [e["event_id"] for e in resent.json()["events"]] == [e["event_id"] for e in first.json()["events"]]
    with store.connect() as conn:
        rows = conn.execute(sa.select(Event.__table__).where(Event.source == "A")).mappings().all()
    assert sorted((r["claim_id"], r["kind"], r["amount"], r["idempotency_key"]) for r in rows) == [
        (1, "payment", 10_000, "agency:A:p1"),
        (2, "acknowledgment", None, "agency:A:a1"),
    ]


def test_a_batch_of_old_and_new_events_stores_the_new_ones_and_names_the_old_ones_ids(client, book, store):
    """One batch of events stored before (by their external ids) and new ones, in any order: each
    item's event id and whether this batch stored it (one statement of JSON rows on PostgreSQL)."""
    first = post(client, book["A"], [payment("o1", amount="1.00"), payment("o2", claim_id=2, amount="2.00")])
    assert first.status_code == 201, first.text
    old = {e["external_id"]: e["event_id"] for e in first.json()["events"]}
    mixed = [payment("n1", amount="3.00"), payment("o2", claim_id=2, amount="2.00"), payment("n2", amount="4.00")]
    mixed.append(payment("o1", amount="1.00"))
    answer = post(client, book["A"], mixed, key="batch-2")
    assert answer.status_code == 201, answer.text
    events = answer.json()["events"]
    assert [(e["index"], e["external_id"], e["stored"]) for e in events] == [
        (0, "n1", True),
        (1, "o2", False),
        (2, "n2", True),
        (3, "o1", False),
    ]
    assert events[1]["event_id"] == old["o2"] and events[3]["event_id"] == old["o1"]
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(Event.event_id, Event.idempotency_key, Event.amount, Event.recorded_on).where(Event.source == "A")
        ).all()
    assert {r.idempotency_key: (r.event_id, r.amount) for r in rows} == {
        "agency:A:o1": (old["o1"], 100),
        "agency:A:o2": (old["o2"], 200),
        "agency:A:n1": (events[0]["event_id"], 300),
        "agency:A:n2": (events[2]["event_id"], 400),
    }
    assert all(r.recorded_on is not None for r in rows)


def test_an_external_id_sent_again_as_another_event_refuses_the_batch(client, book, store):
    """An event sent again is recognised by its external_id only when it is the same event: another
    amount (or claim, day, kind) under a stored external_id refuses the whole batch, naming the item."""
    first = post(client, book["A"], [payment("p1", amount="100.00")])
    assert first.status_code == 201, first.text
    event_id = first.json()["events"][0]["event_id"]
    changed = post(client, book["A"], [payment("n1"), payment("p1", amount="151.00")], key="batch-2")
    problem = is_problem(changed, 422)
    assert problem["errors"] == [
        {
            "index": 1,
            "field": "external_id",
            "rule": f"'p1' was stored before (event {event_id}) with another claim_id, event_date, kind or amount: "
            "a new event takes a new external_id",
        }
    ]
    with store.connect() as conn:  # nothing of the refused batch stored, the new item neither
        keys = conn.execute(sa.select(Event.idempotency_key).where(Event.source == "A")).scalars().all()
    assert keys == ["agency:A:p1"]
    same = post(client, book["A"], [payment("n1"), payment("p1", amount="100.00")], key="batch-3")
    assert same.status_code == 201, same.text
    assert [(e["external_id"], e["stored"]) for e in same.json()["events"]] == [("n1", True), ("p1", False)]


def test_a_retry_is_answered_as_stored_even_when_its_batch_would_now_be_refused(client, book, store):
    """The key is looked at before the batch is checked: a retry after its claim left the agency
    gets the first response (201), not a refusal; the same key with another body is still 409."""
    events = [payment("r1", claim_id=2)]
    first = post(client, book["A"], events, key="before-recall")
    assert first.status_code == 201, first.text
    with store.begin() as conn:
        conn.execute(sa.update(Placement.__table__).where(Placement.claim_id == 2).values(recalled_on=TODAY))
    again = post(client, book["A"], events, key="before-recall")
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, first.json(), "true")
    assert "another request" in is_problem(post(client, book["A"], [payment("r2")], key="before-recall"), 409)["detail"]
    refused = is_problem(post(client, book["A"], events, key="after-recall"), 422)
    assert [e["field"] for e in refused["errors"]] == ["claim_id"]


def test_the_same_key_of_two_agencies_is_two_batches(client, book):
    assert post(client, book["A"], [payment("p1")], key="k").status_code == 201
    assert post(client, book["B"], [payment("p1", claim_id=3)], key="k").status_code == 201


def test_a_balance_includes_the_payment_posted_a_second_ago(client, book):
    path = f"/v1/agency/claims/1/balance?as_of={TODAY.isoformat()}"
    before = client.get(path, headers=book["A"]).json()
    assert post(client, book["A"], [payment("p1", amount="250.00")]).status_code == 201
    after = client.get(path, headers=book["A"]).json()
    paid = ("paid_costs", "paid_interest", "paid_principal", "overpaid")
    assert sum(int(after[k].replace(".", "")) - int(before[k].replace(".", "")) for k in paid) == 25_000
    assert after["as_of"] == TODAY.isoformat() and isinstance(after["total_due"], str)


def test_a_balance_is_served_when_the_pool_s_connections_were_killed(client, book, store, monkeypatch):
    """No ping before each use any more (engine/store/database.py): a balance on a connection that
    died in steady use (a database restart) is read again on a new one, never a 500."""
    if store.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's pooled connections")
    from engine.store import database
    from engine.store.lock_holders import application_name

    monkeypatch.setattr(database, "PING_IDLE_SECONDS", 3600.0)
    path = "/v1/agency/claims/1/balance"
    first = client.get(path, headers=book["A"]).json()
    admin = sa.create_engine(store.url)  # not the store's pool: its connections are the ones to kill
    with admin.connect() as conn:
        killed = conn.exec_driver_sql(  # this process's idle connections (the pool's) die
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND state = 'idle' AND application_name = %(name)s",
            {"name": application_name()},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1
    answer = client.get(path, headers=book["A"])
    assert answer.status_code == 200 and answer.json() == first


def test_a_write_and_a_read_of_personal_data_are_audited(client, book, store):
    post(client, book["A"], [payment("p1")])
    client.get("/v1/claims/1", headers=book["analyst"])
    with store.connect() as conn:
        rows = conn.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.audit_id)).mappings().all()
    actions = [(r["action"], r["actor"], r["subject"]) for r in rows]
    assert ("api_write", f"key:{book['_keys']['A'].key_id}", "agency:A") in actions
    assert ("read_debtor", f"key:{book['_keys']['analyst'].key_id}", "claim:1") in actions


def test_the_claim_detail_shows_money_as_decimal_strings(client, book):
    body = client.get("/v1/claims/1", headers=book["analyst"]).json()
    assert body["claim"]["principal"] == "1000.00"
    assert body["events"][0]["amount"] == "100.00"
    assert [(p["agency_id"], p["recalled_on"]) for p in body["placements"]] == [("A", None)]
    is_problem(client.get("/v1/claims/999", headers=book["analyst"]), 404)


def test_a_server_process_s_threads_take_turns_at_the_gil_every_millisecond(tmp_path, monkeypatch):
    """`cession serve`'s app factory shortens the GIL's switch interval (5 ms by default) for its
    process, so that a balance does not wait 5 ms for each turn behind a batch or a page."""
    import sys

    from api.http import app as app_module

    monkeypatch.setenv("CESSION_DATABASE_URL", f"sqlite:///{tmp_path / 'cession.db'}")
    before = sys.getswitchinterval()
    try:
        made = app_module.from_settings()
        assert sys.getswitchinterval() == pytest.approx(app_module.SWITCH_INTERVAL_SECONDS)
        assert before > app_module.SWITCH_INTERVAL_SECONDS
    finally:
        sys.setswitchinterval(before)
    made.state.store.dispose()


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/agency/events", "/v1/agency/claims/{claim_id}/balance", "/v1/claims/{claim_id}", "/v1/runs"} <= set(
        spec["paths"]
    )
    assert client.get("/docs").status_code == 200


# ------------------------------------------------------------- 20 retries at once, over loopback


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(store):
    port = _free_port()
    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=30)


def test_twenty_concurrent_retries_of_one_key_store_one_event_set(server, book, store):
    events = [payment(f"c{i}", claim_id=1 + i % 2, amount=f"{i + 1}.00") for i in range(50)]
    headers = book["A"] | {"Idempotency-Key": "concurrent"}

    def send(_):
        with httpx.Client(base_url=server, timeout=60) as http:
            response = http.post("/v1/agency/events", json={"events": events}, headers=headers)
            return response.status_code, response.json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {status for status, _ in answers} == {201}, answers[:2]
    assert all(body == answers[0][1] for _, body in answers)
    with store.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(Event.__table__).where(Event.source == "A"))
        assert count.scalar() == 50


# ---------------------------------------------------------------------------- the command line


def test_keys_from_the_command_line_create_list_and_revoke(store_url, client, store):
    import json

    from tests.test_cli import cession

    url = ["--database-url", store_url]
    with store.begin() as conn:
        conn.execute(sa.insert(Agency.__table__).values(agency_id="A", name="Agency A"))
    made = json.loads(cession("keys", "create", "--role", "agency", "--agency", "A", "--json", *url).stdout)
    assert set(made) == {"key_id", "key", "role", "agency_id", "label"} and made["key"].startswith("cession_")
    listed = json.loads(cession("keys", "list", "--json", *url).stdout)
    assert [(k["key_id"], k["role"], k["agency_id"], k["revoked_at"]) for k in listed] == [
        (made["key_id"], "agency", "A", None)
    ]
    assert made["key"] not in cession("keys", "list", *url).stdout
    auth = {"Authorization": f"Bearer {made['key']}"}
    assert client.get("/v1/agency/claims/1/balance", headers=auth).status_code == 404  # known key, no such claim
    assert cession("keys", "revoke", made["key_id"], *url).returncode == 0
    later(client, KEY_CACHE_SECONDS)
    is_problem(client.get("/v1/agency/claims/1/balance", headers=auth), 401)
    again = cession("keys", "revoke", made["key_id"], *url, check=False)
    assert again.returncode == 2 and "already revoked" in again.stderr
    bad = cession("keys", "create", "--role", "agency", *url, check=False)
    assert bad.returncode == 2 and "--agency" in bad.stderr


# ------------------------------------------------------------------------ placements and returns


def test_an_agency_pages_through_its_open_placements_only(client, book, store):
    more = [claim(i, due=DUE, debtor_id=i) for i in range(10, 35)]
    records.load(store, *frames(more))
    with store.begin() as conn:
        conn.execute(
            sa.insert(Placement.__table__),
            [
                {"claim_id": i, "agency_id": "A", "placed_on": date(2026, 2, 1), "recalled_on": None}
                for i in range(10, 35)
            ],
        )
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/agency/placements", params=params, headers=book["A"])
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 7
        seen += [item["claim_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [1, 2, *range(10, 35)] and pages == 4  # 27 placements, by placement, none twice
    first = client.get("/v1/agency/placements", headers=book["A"]).json()["items"][0]
    assert first["claim"]["principal"] == "1000.00" and first["balance"] is None  # no engine run yet
    assert [i["claim_id"] for i in client.get("/v1/agency/placements", headers=book["B"]).json()["items"]] == [3]
    is_problem(client.get("/v1/agency/placements", params={"cursor": "not-ours"}, headers=book["A"]), 400)
    is_problem(client.get("/v1/agency/placements", params={"limit": 1001}, headers=book["A"]), 422)


def test_a_page_and_a_balance_are_their_response_models_own_json(client, book, store):
    """The page and the balance are written without FastAPI validating them again
    (api/http/responses.py): each body is exactly what its model makes of it, debtors and the
    stored state's balances included (after an engine run)."""
    from api.agency.schemas import Balance, PlacementPage
    from api.runs import service as runs
    from engine.store.models import Debtor

    with store.begin() as conn:  # a debtor with non-ASCII text and a quote: the JSON of a real page
        conn.execute(
            sa.insert(Debtor.__table__).values(
                debtor_id=1, debtor_kind="consumer", name='Zażółć "Gęślą" Jaźń', city="Łódź", flags=[]
            )
        )
    runs.run(store=store, as_of=date(2026, 3, 1), allow_stale_rates=True)
    page = client.get("/v1/agency/placements", params={"limit": 1}, headers=book["A"])
    assert page.status_code == 200 and page.headers["content-type"] == "application/json"
    body = page.json()
    assert body["items"][0]["balance"]["principal_due"] and body["items"][0]["debtor"]["city"] == "Łódź"
    assert body["next_cursor"] is not None
    assert PlacementPage.model_validate(body).model_dump(mode="json") == body
    balance = client.get("/v1/agency/claims/1/balance", params={"as_of": "2026-03-01"}, headers=book["A"])
    assert balance.status_code == 200 and balance.headers["content-type"] == "application/json"
    assert Balance.model_validate(balance.json()).model_dump(mode="json") == balance.json()
    paid = sum(Decimal(balance.json()[k]) for k in ("paid_costs", "paid_interest", "paid_principal"))
    assert paid == Decimal("100.00")  # the stored payment of 100 zł, split by the waterfall


def test_a_page_written_by_the_database_is_the_page_python_writes_byte_for_byte(client, book, store):
    """On PostgreSQL a page of placements is JSON written by the database (engine/store/claims.py
    PLACED_ITEM_JSON): the same bytes as the dicts of placement_item through json_bytes, with text
    to escape (quotes, backslashes, control characters, non-ASCII, 4-byte UTF-8), absent debtors and
    fields, balances before and after a run, a negative amount and a year before 1000. On SQLite
    both are the Python path."""
    from api.agency import service
    from api.http.responses import json_bytes
    from api.keys.service import Caller
    from api.runs import service as runs
    from engine.domain import KeyRole
    from engine.store.models import ClaimState, Debtor

    caller = Caller(key_id=book["_keys"]["A"].key_id, role=KeyRole.AGENCY, agency_id="A")

    def same(**page) -> bytes:
        ours = service.placements_json(store=store, caller=caller, **page)
        assert ours == json_bytes(service.placements(store=store, caller=caller, **page))
        return ours

    assert same(cursor=None, limit=1000).startswith(b'{"items":[{"claim_id":1,')  # before a run
    with store.begin() as conn:
        conn.execute(
            sa.insert(Debtor.__table__).values(
                debtor_id=1,
                debtor_kind="consumer",
                name='Zażółć "Gęślą" \\ Jaźń\n\t\x01\x7f 😀',
                city="Łódź",
                email="a@b.pl",
                flags=[],
            )
        )  # claim 2's debtor is not stored: its debtor is null
        conn.execute(sa.update(Claim.__table__).where(Claim.claim_id == 2).values(title_date=date(999, 3, 4)))
    runs.run(store=store, as_of=date(2026, 3, 1), allow_stale_rates=True)
    with store.begin() as conn:
        conn.execute(sa.update(ClaimState.__table__).where(ClaimState.claim_id == 1).values(costs_due=-5, total_due=-1))
    first = same(cursor=None, limit=1)
    assert b'"costs_due":"-0.05"' in first and b'"total_due":"-0.01"' in first and "😀".encode() in first
    cursor = json.loads(first)["next_cursor"]
    last = same(cursor=cursor, limit=1000)
    assert b'"title_date":"0999-03-04"' in last and b'"debtor":null' in last and last.endswith(b'"next_cursor":null}')
    served = client.get("/v1/agency/placements", params={"limit": 1}, headers=book["A"])
    assert served.status_code == 200 and served.content == same(cursor=None, limit=1)


def test_a_returned_case_leaves_the_agency_and_is_not_its_own_any_more(client, book, store):
    path = "/v1/agency/placements/1/return"
    refused = client.post(path, json={"reason": "bored"}, headers=book["A"])
    assert is_problem(refused, 422)["errors"][0]["field"] == "reason"
    is_problem(client.post("/v1/agency/placements/3/return", json={"reason": "other"}, headers=book["A"]), 404)
    done = client.post(path, json={"reason": "no_contact", "note": "three letters returned"}, headers=book["A"])
    assert done.status_code == 200, done.text
    assert done.json()["reason"] == "no_contact" and done.json()["returned_on"] == TODAY.isoformat()
    with store.connect() as conn:
        (reason,) = conn.execute(sa.select(Placement.recall_reason).where(Placement.claim_id == 1)).one()
    assert reason == "returned:no_contact"
    is_problem(client.get("/v1/agency/claims/1/balance", headers=book["A"]), 404)
    is_problem(client.post(path, json={"reason": "no_contact"}, headers=book["A"]), 404)  # returned already
    assert [i["claim_id"] for i in client.get("/v1/agency/placements", headers=book["A"]).json()["items"]] == [2]


# ----------------------------------------------------------------------------------- legal


def test_a_legal_queue_comes_in_the_allocations_order_page_by_page(client, book, store):
    more = [claim(i, due=DUE, debtor_id=i) for i in range(40, 52)]
    records.load(store, *frames(more))
    # priorities as allocation sets them (1 first), one without a priority (last), one recalled
    priorities = {40: 5, 41: 1, 42: 3, 43: None, 44: 2, 45: 4, 46: 6, 47: 7, 48: 8, 49: 9, 50: 10, 51: 11}
    with store.begin() as conn:
        conn.execute(
            sa.insert(Placement.__table__),
            [
                {
                    "claim_id": c,
                    "agency_id": None,
                    "queue": "epu" if c != 50 else "court",
                    "placed_on": date(2026, 2, 1),
                    "recalled_on": date(2026, 3, 1) if c == 51 else None,
                    "priority": p,
                }
                for c, p in priorities.items()
            ],
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/legal/queues/epu", params=params, headers=book["legal"]).json()
        seen += [(i["claim_id"], i["priority"]) for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [c for c, _ in seen] == [41, 44, 42, 45, 40, 46, 47, 48, 49, 43]
    assert [c for c, _ in seen[-1:]] == [43] and seen[-1][1] is None
    got = client.get("/v1/legal/queues/court", headers=book["admin"]).json()["items"]
    assert [i["claim_id"] for i in got] == [50]
    is_problem(client.get("/v1/legal/queues/bailiff", headers=book["legal"]), 422)
    is_problem(client.get("/v1/legal/queues/epu", headers=book["A"]), 403)
    is_problem(client.get("/v1/legal/queues/epu", headers=book["analyst"]), 403)


def test_the_legal_team_records_filings_and_titles_of_any_stored_claim(client, book, store):
    events = [
        {"claim_id": 4, "kind": "court_filing", "event_date": "2026-02-10", "external_id": "EPU-1"},
        {"claim_id": 4, "kind": "cost", "event_date": "2026-02-10", "amount": "30.00", "external_id": "FEE-1"},
        {"claim_id": 3, "kind": "title", "event_date": "2026-03-01", "external_id": "NAKAZ-7"},
    ]
    response = client.post(
        "/v1/legal/events", json={"events": events}, headers=book["legal"] | {"Idempotency-Key": "L1"}
    )
    assert response.status_code == 201, response.text
    with store.connect() as conn:
        stored = conn.execute(sa.select(Event.__table__).where(Event.source == "legal")).mappings().all()
    assert sorted((r["claim_id"], r["kind"], r["amount"], r["idempotency_key"]) for r in stored) == [
        (3, "title", None, "legal:NAKAZ-7"),
        (4, "cost", 3_000, "legal:FEE-1"),
        (4, "court_filing", None, "legal:EPU-1"),
    ]
    bad = [
        {"claim_id": 4, "kind": "payment", "event_date": "2026-02-10", "amount": "5.00", "external_id": "P"},
        {"claim_id": 999, "kind": "title", "event_date": "2026-02-10", "external_id": "T"},
    ]
    body = is_problem(
        client.post("/v1/legal/events", json={"events": bad}, headers=book["legal"] | {"Idempotency-Key": "L2"}), 422
    )
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "kind"), (1, "claim_id")]
    assert "the legal team posts one of" in body["errors"][0]["rule"]
    forbidden = client.post("/v1/legal/events", json={"events": events}, headers=book["A"] | {"Idempotency-Key": "x"})
    is_problem(forbidden, 403)


def test_an_agency_polls_its_changes_with_a_cursor(client, book, store):
    from allocation.store import recall_on_demand

    first = client.get("/v1/agency/changes", headers=book["A"]).json()
    assert first["items"] == [] and first["more"] is False  # placements made before the feed: none
    cursor = first["next_cursor"]
    assert (
        client.post("/v1/agency/placements/1/return", json={"reason": "disputed"}, headers=book["A"]).status_code == 200
    )
    recall_on_demand(store, TODAY, [2], None, "on_demand")
    recall_on_demand(store, TODAY, [3], None, "on_demand")  # B's: not in A's feed
    page = client.get("/v1/agency/changes", params={"cursor": cursor, "limit": 1}, headers=book["A"]).json()
    assert [(i["change"], i["claim_id"], i["reason"]) for i in page["items"]] == [("returned", 1, "returned:disputed")]
    assert page["more"] is True
    rest = client.get("/v1/agency/changes", params={"cursor": page["next_cursor"]}, headers=book["A"]).json()
    assert [(i["change"], i["claim_id"], i["reason"]) for i in rest["items"]] == [("recalled", 2, "on_demand")]
    polled = client.get("/v1/agency/changes", params={"cursor": rest["next_cursor"]}, headers=book["A"]).json()
    assert polled == {"items": [], "next_cursor": rest["next_cursor"], "more": False}  # nothing new: the same cursor
    other = client.get("/v1/agency/changes", headers=book["B"]).json()["items"]
    assert [(i["change"], i["claim_id"]) for i in other] == [("recalled", 3)]
    is_problem(client.get("/v1/agency/changes", params={"cursor": "zzz"}, headers=book["A"]), 400)


def test_agencies_are_listed_added_by_an_admin_and_stopped(client, book):
    listed = client.get("/v1/agencies", headers=book["analyst"]).json()
    assert [(a["agency_id"], a["open_cases"]) for a in listed] == [("A", 2), ("B", 1)]
    new = {
        "agency_id": "C",
        "name": "Windykacja C",
        "capacity": 100,
        "capacity_balance": "250000.00",
        "regions": ["00", "02-3"],
        "debtor_kinds": ["consumer"],
        "commission_bp": 1500,
    }
    is_problem(client.post("/v1/agencies", json=new, headers=book["analyst"]), 403)
    made = client.post("/v1/agencies", json=new, headers=book["admin"])
    assert made.status_code == 201, made.text
    assert made.json()["capacity_balance"] == "250000.00" and made.json()["regions"] == ["00", "02-3"]
    is_problem(client.post("/v1/agencies", json=new, headers=book["admin"]), 409)
    bad = is_problem(
        client.post("/v1/agencies", json=new | {"agency_id": "D", "regions": ["x1"]}, headers=book["admin"]), 422
    )
    assert bad["errors"][0]["field"].startswith("regions")
    # amounts and counts beyond what the store's columns hold are the caller's error, not a 500
    # (schemathesis found capacity_balance 1.03e+308 overflowing SQLite's INTEGER)
    for field, value in [("capacity_balance", 1.03e308), ("capacity", 2**31), ("term_days", 10**9)]:
        bad = is_problem(
            client.post("/v1/agencies", json=new | {"agency_id": "E", field: value}, headers=book["admin"]), 422
        )
        assert bad["errors"][0]["field"] == field
    stopped = client.delete("/v1/agencies/C", headers=book["admin"]).json()
    assert stopped["active"] is False
    is_problem(client.delete("/v1/agencies/NOPE", headers=book["admin"]), 404)


def test_the_claim_detail_explains_its_limitation_as_the_engine_computes_it(client, book, store):
    from engine.store.models import Event

    with store.begin() as conn:  # an acknowledgment, another one reversed, on claim 4 (due 2025-01-15)
        conn.execute(
            sa.insert(Event.__table__),
            [
                {"claim_id": 4, "event_date": date(2025, 9, 1), "kind": "acknowledgment", "idempotency_key": "t:1"},
                {"claim_id": 4, "event_date": date(2026, 2, 1), "kind": "acknowledgment", "idempotency_key": "t:2"},
            ],
        )
        second = conn.execute(sa.select(Event.event_id).where(Event.idempotency_key == "t:2")).scalar_one()
        conn.execute(
            sa.insert(Event.__table__).values(
                claim_id=4, event_date=date(2026, 2, 2), kind="reversal", reverses=second, idempotency_key="t:3"
            )
        )
    body = client.get("/v1/claims/4", params={"as_of": "2026-06-30"}, headers=book["analyst"]).json()
    explained = body["limitation"]
    balance = client.get("/v1/claims/4/balance", params={"as_of": "2026-06-30"}, headers=book["analyst"]).json()
    assert explained["limitation_date"] == balance["limitation_date"] and not explained["time_barred"]
    assert [(s["day"], s["what"]) for s in explained["steps"]] == [
        ("2025-01-15", "general claim"),
        ("2025-09-01", "acknowledgment"),
    ]  # the reversed acknowledgment does not count
    assert all(s["rule"] or s["what"] == "acknowledgment" for s in explained["steps"][:1])
    assert explained["rule_set"]
