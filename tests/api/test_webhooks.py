"""Webhooks through HTTP, on SQLite and PostgreSQL: a receiver on loopback checks every signature,
sees an agency's changes in order, answers 500 once and gets the same changes again after the
backoff, and then only new ones; another agency's webhooks are not this one's."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from allocation.store import recall_on_demand
from api.webhooks import service as webhooks
from engine.store.models import Placement
from tests.api.test_http import TODAY, is_problem


class Receiver:
    """A webhook receiver on loopback: it records each delivery (its signature checked with the
    secret it is given) and answers the statuses it is told to, in turn (then 200)."""

    def __init__(self):
        self.secret = None
        self.answers: list[int] = []
        self.got: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = webhooks.verify(secret=receiver.secret, header=self.headers["Cession-Signature"], body=body)
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.got.append(
                    {"signed": signed, "status": status, "delivery": self.headers["Cession-Delivery-Id"]}
                    | json.loads(body)
                )
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cession"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(autouse=True)
def private_network_allowed(monkeypatch):
    """The receivers here are on loopback: allowed as on a purchaser's own network."""
    monkeypatch.setenv("CESSION_WEBHOOKS_PRIVATE", "true")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _changes(delivery: dict) -> list[tuple]:
    return [(c["change"], c["claim_id"]) for c in delivery["changes"]]


def test_a_receiver_gets_the_changes_in_order_signed_and_again_after_a_500(client, book, store, receiver):
    made = client.post("/v1/agency/webhooks", json={"url": receiver.url}, headers=book["A"])
    assert made.status_code == 201, made.text
    hook = made.json()
    receiver.secret = hook["secret"]
    assert hook["secret"].startswith("whsec_") and hook["delivered_through"] == 0
    assert "secret" not in client.get("/v1/agency/webhooks", headers=book["A"]).json()[0]
    assert client.get("/v1/agency/webhooks", headers=book["B"]).json() == []
    is_problem(client.get(f"/v1/agency/webhooks/{hook['webhook_id']}/deliveries", headers=book["B"]), 404)

    client.post("/v1/agency/placements/1/return", json={"reason": "no_contact"}, headers=book["A"])
    recall_on_demand(store, TODAY, [2], None, "on_demand")
    recall_on_demand(store, TODAY, [3], None, "on_demand")  # agency B's: not A's webhook's
    now = datetime.now(UTC)
    receiver.answers = [500]
    assert webhooks.deliver_due(store=store, now=now) == 1
    assert webhooks.deliver_due(store=store, now=now + timedelta(seconds=5)) == 0  # not due yet: backoff
    assert webhooks.deliver_due(store=store, now=now + timedelta(seconds=11)) == 1  # the same changes again
    assert [(d["status"], d["signed"]) for d in receiver.got] == [(500, True), (200, True)]
    assert _changes(receiver.got[0]) == _changes(receiver.got[1]) == [("returned", 1), ("recalled", 2)]
    assert webhooks.deliver_due(store=store, now=now + timedelta(seconds=12)) == 0  # nothing new

    with store.begin() as conn:  # a new placement of A's, by hand, and its change as the allocation writes it
        conn.execute(
            sa.insert(Placement.__table__).values(claim_id=4, agency_id="A", placed_on=TODAY, recalled_on=None)
        )
    recall_on_demand(store, TODAY, [4], None, "on_demand")
    assert webhooks.deliver_due(store=store, now=now + timedelta(seconds=13)) == 1
    assert _changes(receiver.got[2]) == [("recalled", 4)]
    ids = [c["change_id"] for d in receiver.got[1:] for c in d["changes"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids))

    deliveries = client.get(f"/v1/agency/webhooks/{hook['webhook_id']}/deliveries", headers=book["A"]).json()
    assert [(d["attempt"], d["delivered"], d["status_code"]) for d in deliveries] == [
        (1, True, 200),
        (2, True, 200),
        (1, False, 500),
    ]
    listed = client.get("/v1/agency/webhooks", headers=book["A"]).json()[0]
    assert listed["failures"] == 0 and listed["delivered_through"] == ids[-1]


def test_a_receiver_that_does_not_answer_is_retried_later_and_later(client, book, store):
    hook = client.post("/v1/agency/webhooks", json={"url": "http://127.0.0.1:9/nothing"}, headers=book["A"]).json()
    client.post("/v1/agency/placements/1/return", json={"reason": "other"}, headers=book["A"])
    now = datetime.now(UTC)
    waits = []
    for _ in range(4):
        assert webhooks.deliver_due(store=store, now=now) == 1
        with store.connect() as conn:
            due = conn.execute(sa.text(f"SELECT next_attempt_at FROM webhooks WHERE webhook_id = {hook['webhook_id']}"))
            due = due.scalar()
        due = datetime.fromisoformat(str(due)).replace(tzinfo=UTC) if not isinstance(due, datetime) else due
        due = due if due.tzinfo else due.replace(tzinfo=UTC)
        waits.append(round((due - now).total_seconds()))
        now = due
    assert waits == [10, 20, 40, 80]


def test_a_signature_is_checked_and_an_old_one_refused():
    body = b'{"changes":[]}'
    header = webhooks.signature(secret="s", body=body, at=1_000)
    assert webhooks.verify(secret="s", header=header, body=body, now=1_100)
    assert not webhooks.verify(secret="t", header=header, body=body, now=1_100)
    assert not webhooks.verify(secret="s", header=header, body=body + b" ", now=1_100)
    assert not webhooks.verify(secret="s", header=header, body=body, now=2_000)
    assert not webhooks.verify(secret="s", header="nonsense", body=body, now=1_100)


def test_a_webhook_takes_an_absolute_http_url_and_is_an_agencys(client, book):
    for url in ("ftp://example.com/x", "/relative/path", "example.com/hook"):
        is_problem(client.post("/v1/agency/webhooks", json={"url": url}, headers=book["A"]), 400)
    is_problem(client.post("/v1/agency/webhooks", json={"url": "https://93.184.216.34/h"}, headers=book["admin"]), 403)
    made = client.post("/v1/agency/webhooks", json={"url": "https://93.184.216.34/h"}, headers=book["A"]).json()
    is_problem(client.delete(f"/v1/agency/webhooks/{made['webhook_id']}", headers=book["B"]), 404)
    gone = client.delete(f"/v1/agency/webhooks/{made['webhook_id']}", headers=book["A"]).json()
    assert gone["active"] is False


def test_a_webhook_into_a_private_network_is_refused_unless_allowed(client, book, monkeypatch):
    monkeypatch.setenv("CESSION_WEBHOOKS_PRIVATE", "false")
    for url in ("http://127.0.0.1:8080/x", "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://[::1]/x"):
        body = is_problem(client.post("/v1/agency/webhooks", json={"url": url}, headers=book["A"]), 400)
        assert "private or reserved" in body["detail"], body
    assert (
        client.post("/v1/agency/webhooks", json={"url": "https://93.184.216.34/h"}, headers=book["A"]).status_code
        == 201
    )


def test_a_delivery_to_an_address_that_became_private_is_not_sent(client, book, store, receiver, monkeypatch):
    hook = client.post("/v1/agency/webhooks", json={"url": receiver.url}, headers=book["A"]).json()
    client.post("/v1/agency/placements/1/return", json={"reason": "other"}, headers=book["A"])
    monkeypatch.setenv("CESSION_WEBHOOKS_PRIVATE", "false")  # the rule tightened after registration
    assert webhooks.deliver_due(store=store) == 1
    assert receiver.got == []
    (delivery,) = client.get(f"/v1/agency/webhooks/{hook['webhook_id']}/deliveries", headers=book["A"]).json()
    assert not delivery["delivered"] and "private or reserved" in delivery["error"]
