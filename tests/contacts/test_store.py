"""Contacts over the store, on SQLite and PostgreSQL: a day planned once and sent within its
windows through the channels (print house, SMTP to a local server, SMS files), the letters' amounts
equal to the engine's state of the day to the grosz, a sent letter reproduced byte for byte,
delivery results as contact events (a returned letter marks its address doubtful), objections, the
caps across days, and the history."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import sqlalchemy as sa

from api.contacts import service
from contacts import store as contact_store
from contacts.vocabulary import ContactStatus, HoldRule
from engine.kernel_run import compute_state
from engine.store import records
from engine.store.models import Placement
from tests.builders import claim, event, frames
from tests.contacts.test_letters import COURT, text_of

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY = date(2026, 12, 7)
TWO_WEEKS = MONDAY + timedelta(days=14)  # Monday 2026-12-21


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=WARSAW)


def _book():
    rows = [
        claim(
            i,
            due=date(2024, 1, 10),
            cutoff=date(2024, 6, 1),
            debtor_id=i,
            principal=100_000 * i,
            interest_basis="statutory_late",
        )
        for i in range(1, 6)
    ]
    # 6: a deceased debtor; 7: a time-barred consumer claim (periodic, due 2019); 8: a contractual rate
    rows.append(claim(6, due=date(2024, 1, 10), debtor_id=6, principal=50_000))
    rows.append(
        claim(
            7,
            due=date(2019, 2, 1),
            cutoff=date(2024, 6, 1),
            debtor_id=7,
            principal=80_000,
            limitation_kind="periodic",
            interest_basis="statutory_late",
        )
    )
    rows.append(
        claim(
            8,
            due=date(2024, 3, 1),
            cutoff=date(2024, 6, 1),
            debtor_id=8,
            principal=300_000,
            interest_basis="contractual",
            contractual_rate_bp=2500,
        )
    )
    events = [
        event(1, "payment", date(2025, 2, 3), 12_345, claim_id=1),
        event(2, "cost", date(2025, 3, 1), 4_000, claim_id=3),
    ]
    claims, events = frames(rows, events)
    n = 8
    debtors = pl.DataFrame(
        {
            "debtor_id": list(range(1, n + 1)),
            "debtor_kind": ["consumer"] * n,
            "national_id": [None] * n,
            "name": [f"Dłużnik Numer {i}" for i in range(1, n + 1)],
            "street": [f"ul. Polna {i}" for i in range(1, n + 1)],
            "postal_code": ["00-950"] * n,
            "city": ["Warszawa"] * n,
            "phone": [f"+4860000000{i}" for i in range(1, n + 1)],
            "email": [f"d{i}@example.com" for i in range(1, n + 1)],
            "flags": [["deceased"] if i == 6 else [] for i in range(1, n + 1)],
        },
        schema=records.DEBTOR_SCHEMA,
    )
    return claims, events, debtors


@pytest.fixture
def book(store):
    from api.runs import service as runs_service

    claims, events, debtors = _book()
    records.load(store, claims, events)
    records.load_debtors(store, debtors)
    runs_service.run(store=store, as_of=MONDAY, allow_stale_rates=True)
    return store, claims, events


def place(store, claim_id: int, queue: str, day: date) -> None:
    with store.begin() as conn:
        conn.execute(sa.insert(Placement.__table__).values(claim_id=claim_id, queue=queue, placed_on=day, rule="test"))


def send(store, day, moment, tmp_path, **outlets):
    outlets.setdefault("letters", tmp_path / "print")
    return service.send(store=store, as_of=day, at=moment, outlets=service.Outlets(**outlets), allow_stale_rates=True)


def manifest(tmp_path, batch) -> pl.DataFrame:
    return pl.read_parquet(tmp_path / "print" / batch / "manifest.parquet")


def test_notices_go_out_once_within_the_window_with_the_engines_amounts_of_the_day(book, tmp_path):
    store, claims, events = book
    assert send(store, MONDAY, at(MONDAY, 7, 59), tmp_path)["sent"] == {}  # before the letters' window
    done = send(store, MONDAY, at(MONDAY, 10), tmp_path)
    assert done["sent"] == {"letter": 7} and done["planned"] == 0  # planned by the first call
    plan = contact_store.stored_plan(store, MONDAY)
    held = plan.filter(pl.col("status") == "held")
    assert held["claim_id"].to_list() == [6] and held["rule"].to_list() == [HoldRule.FLAG.value]
    letters = manifest(tmp_path, done["batches"][0]).sort("claim_id")
    assert letters["claim_id"].to_list() == [1, 2, 3, 4, 5, 7, 8]
    state = pl.from_arrow(compute_state(claims, events, MONDAY, allow_stale_rates=True))
    expected = state.filter(pl.col("claim_id") != 6).sort("claim_id")
    from engine.money import pln

    for column, source in (
        ("principal", "principal_due"),
        ("interest", "interest_due"),
        ("costs", "costs_due"),
        ("total", "total_due"),
    ):
        assert letters[column].to_list() == [pln(v) for v in expected[source]], column
    # the PDF says the same, in Polish
    from contacts import polish

    for row in letters.iter_rows(named=True):
        pdf = (tmp_path / "print" / done["batches"][0] / row["file"]).read_bytes()
        text = text_of(pdf)
        total = expected.filter(pl.col("claim_id") == row["claim_id"])["total_due"][0]
        assert polish.amount(total).replace("\u00a0", " ") in text
        assert row["name"] in text and row["pages"] >= 1
    # again at noon: nothing new goes out; the day keeps its plan, and `contacts plan` shows it as stored
    again = send(store, MONDAY, at(MONDAY, 12), tmp_path)
    assert again["sent"] == {} and again["planned"] == 0
    shown = service.plan(store=store, as_of=MONDAY)
    assert shown.stored and shown.summary()["queued_by"] == [] and shown.summary()["held"] == 1


def test_a_sent_letter_is_reproduced_byte_for_byte_from_the_store(book, tmp_path):
    store, *_ = book
    done = send(store, MONDAY, at(MONDAY, 9), tmp_path)
    row = manifest(tmp_path, done["batches"][0]).row(0, named=True)
    out = tmp_path / "again.pdf"
    found = service.reproduce(store=store, letter_id=row["letter_id"], out=out)
    assert out.read_bytes() == (tmp_path / "print" / done["batches"][0] / row["file"]).read_bytes()
    assert found["sha256"] == row["sha256"]
    versions = contact_store.template_versions(store)
    assert [v["name"] for v in versions] == ["notice.typ.j2"] and versions[0]["version"] == 1


def test_a_window_that_closed_expires_its_contacts_never_sent_late(book, tmp_path):
    store, *_ = book
    done = send(store, MONDAY, at(MONDAY, 16, 1), tmp_path)
    assert done["sent"] == {} and done["expired"] == 7
    statuses = contact_store.stored_plan(store, MONDAY)["status"].value_counts().sort("status").rows()
    assert statuses == [("expired", 7), ("held", 1)]


def test_reminders_demands_email_sms_results_and_doubtful_addresses_across_days(book, tmp_path, smtp_server):
    store, *_ = book
    host, port, received = smtp_server
    send(store, MONDAY, at(MONDAY, 10), tmp_path)
    place(store, 2, "reminder", MONDAY)
    place(store, 3, "epu", MONDAY)
    place(store, 7, "reminder", MONDAY)  # time-barred consumer claim: voluntary reminders only
    place(store, 4, "reminder", MONDAY)
    assert service.object_to(store=store, debtor_id=4, channel="sms", since=MONDAY, note="letter of 2026-12-08")
    day = TWO_WEEKS
    done = send(
        store,
        day,
        at(day, 10),
        tmp_path,
        smtp_host=host,
        smtp_port=port,
        mail_from="kontakt@example.com",
        sms=tmp_path / "sms",
    )
    assert done["sent"] == {"letter": 1, "email": 1, "sms": 2}, done
    plan = contact_store.stored_plan(store, day).sort("claim_id")
    assert plan.select("claim_id", "step", "channel").rows() == [
        (2, "reminder", "sms"),
        (3, "demand", "letter"),
        (4, "reminder", "email"),
        (6, "notice", None),  # the deceased debtor's claim: held again, with its rule, every day it is asked for
        (7, "reminder", "sms"),
    ]
    # the e-mail reached the local SMTP server
    assert len(received) == 1 and received[0].rcpt_tos == ["d4@example.com"]
    mail = email.message_from_bytes(received[0].content, policy=email.policy.default)
    assert mail["Subject"] == "Przypomnienie o zaległej płatności" and mail["To"] == "d4@example.com"
    body = mail.get_content()
    assert "Dłużnik" not in body and "odsetki ustawowe za opóźnienie" in body
    # the texts are in the provider's file; the time-barred claim's never mentions a court
    sms = pl.read_csv(next((tmp_path / "sms").glob("*/sms.csv"))).sort("contact_id")
    assert sms["phone"].to_list() == ["+48600000002", "+48600000007"]
    assert not COURT.search(sms["text"][1]) and "przedawnione" in sms["text"][1]
    # the demand letter
    demand = next(b for b in done["batches"] if "letter" in b)
    assert manifest(tmp_path, demand)["template"].to_list() == ["demand"]
    # the print house returns claim 1's notice and delivers claim 3's demand; the SMS provider bounces one
    history_1 = service.history(store=store, claim_id=1)["contacts"]
    notice_1 = history_1[0]["contact_id"]
    demand_3 = plan.filter(pl.col("claim_id") == 3)["contact_id"][0]
    sms_2 = plan.filter(pl.col("claim_id") == 2)["contact_id"][0]
    results = tmp_path / "results.csv"
    results.write_text(
        "contact_id,result,day,detail\n"
        f"{notice_1},returned,2026-12-15,adresat nieznany\n"
        f"{demand_3},delivered,2026-12-23,\n"
        f"{sms_2},bounced,2026-12-21,\n"
        f"{notice_1},returned,2026-12-15,again\n"
        "999999,delivered,2026-12-23,\n"
        f"{demand_3},bounced,2026-12-23,\n"
        "x,delivered,2026-12-23,\n"
    )
    rejects = tmp_path / "rejects.csv"
    summary = service.results(store=store, path=results, rejects=rejects)
    assert (summary["stored"], summary["already_stored"], summary["rejected"], summary["doubtful_addresses"]) == (
        3,
        1,
        3,
        1,
    )
    assert pl.read_csv(rejects)["row"].to_list() == [6, 7, 8]
    assert service.results(store=store, path=results)["stored"] == 0  # read twice: stored once
    found = service.history(store=store, claim_id=1)
    assert found["contacts"][0]["status"] == ContactStatus.RETURNED.value
    assert found["contacts"][0]["results"][0]["result"] == "returned"
    assert found["doubtful_addresses"][0]["address"] == "ul. Polna 1\n00-950\nWarszawa"
    # a letter to the doubtful address is refused; claim 1 sued: its demand is held
    place(store, 1, "court", TWO_WEEKS)
    later = TWO_WEEKS + timedelta(days=7)
    planned = service.plan(store=store, as_of=later).plan
    row = planned.filter(pl.col("claim_id") == 1).row(0, named=True)
    assert (row["step"], row["status"], row["rule"]) == ("demand", "held", HoldRule.ADDRESS_DOUBTFUL.value)
    # the debtor's new address is not doubtful
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE debtors SET street = 'ul. Nowa 2' WHERE debtor_id = 1"))
    row = service.plan(store=store, as_of=later).plan.filter(pl.col("claim_id") == 1).row(0, named=True)
    assert (row["status"], row["channel"]) == ("queued", "letter")


def test_caps_count_the_stored_contacts_of_earlier_days(book, tmp_path):
    store, *_ = book
    place(store, 2, "reminder", MONDAY)
    with store.begin() as conn:  # a notice and two reminders of claim 2 stored before
        for i, (day, template) in enumerate(
            [
                (MONDAY - timedelta(days=30), "notice"),
                (MONDAY - timedelta(days=5), "reminder"),
                (MONDAY - timedelta(days=3), "reminder"),
            ]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO contacts (day, claim_id, debtor_id, step, template, channel, status, rules_sha256, created_at) "
                    "VALUES (:day, 2, 2, :step, :template, 'letter', 'delivered', 'x', :now)"
                ),
                {"day": day, "step": f"{template}{i}", "template": template, "now": datetime.now(UTC)},
            )
    row = service.plan(store=store, as_of=MONDAY).plan.filter(pl.col("claim_id") == 2).row(0, named=True)
    assert (row["step"], row["rule"]) == ("reminder", HoldRule.PER_WEEK.value)


def test_the_command_line_plans_and_explains(book, tmp_path, capsys):
    import json

    from tests.test_cli import run_here

    store, *_ = book
    url = store.url.render_as_string(hide_password=False)
    plan_csv = str(tmp_path / "plan.csv")
    code, out, _ = run_here(
        capsys, "contacts", "plan", "--as-of", "2026-12-07", "--database-url", url, "--json", "--out", plan_csv
    )
    assert code == 0, out
    summary = json.loads(out)
    assert (summary["queued"], summary["held"], summary["stored"]) == (7, 1, False)
    assert summary["held_by"] == [{"step": "notice", "rule": "flag", "contacts": 1}]
    assert pl.read_csv(plan_csv).height == 8
    code, out, _ = run_here(capsys, "contacts", "plan", "--as-of", "2026-12-07", "--database-url", url)
    assert code == 0 and "Held back" in out and "flag" in out
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "name: x\nvalid_from: 2026-01-01\nlast_value_still_valid_on: 2027-01-01\n"
        "channels: {letter: {weekdays: ['18:00', '08:00']}}\nsteps: []\n"
    )
    code, _, err = run_here(capsys, "contacts", "plan", "--rules", str(bad), "--database-url", url)
    assert code == 2 and "rules.yaml:4: channels.letter: weekdays: the window must start before it ends" in err
    send_dir = str(tmp_path / "print")
    code, out, err = run_here(
        capsys, "contacts", "send", "--as-of", "2026-12-07", "--at", "2026-12-07T09:30:00+01:00", "--letters", send_dir,
        "--allow-stale-rates", "--database-url", url, "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["sent"] == {"letter": 7}
    code, out, _ = run_here(capsys, "contacts", "history", "--claim", "6", "--database-url", url)
    assert code == 0 and "flag: flag deceased" in out
    code, out, _ = run_here(capsys, "explain", "1", "--as-of", "2026-12-07", "--database-url", url)
    assert code == 0 and "Contacts" in out and "notice" in out and "sent" in out
    code, out, _ = run_here(capsys, "explain", "1", "--as-of", "2026-12-07", "--database-url", url, "--json")
    assert code == 0 and json.loads(out)["contacts"]["contacts"][0]["status"] == "sent"
    preview = tmp_path / "preview.pdf"
    code, out, err = run_here(
        capsys, "letters", "preview", "7", "--template", "demand", "--as-of", "2026-12-07", "--out", str(preview),
        "--allow-stale-rates", "--database-url", url,
    )  # fmt: skip
    assert code == 0, err
    text = text_of(preview.read_bytes())
    assert "Dłużnik Numer 7" in text and "Prośba o dobrowolną zapłatę" in text and not COURT.search(text)
    code, out, _ = run_here(capsys, "letters", "templates", "--database-url", url, "--json")
    assert code == 0 and [v["name"] for v in json.loads(out)["stored"]] == ["notice.typ.j2"]


def test_the_claims_page_over_http_shows_its_contacts(book, tmp_path):
    from fastapi.testclient import TestClient

    from api.http.app import create_app
    from api.keys import service as keys

    store, *_ = book
    send(store, MONDAY, at(MONDAY, 10), tmp_path)
    service.object_to(store=store, debtor_id=1, channel="sms", since=MONDAY)
    analyst = {"Authorization": f"Bearer {keys.create(store=store, role='analyst').key}"}
    with TestClient(create_app(store), raise_server_exceptions=False) as client:
        body = client.get("/v1/claims/1", headers=analyst).json()
        held = client.get("/v1/claims/6", headers=analyst).json()
    [letter] = body["contacts"]["contacts"]
    assert (letter["step"], letter["channel"], letter["status"], letter["day"]) == (
        "notice",
        "letter",
        "sent",
        "2026-12-07",
    )
    assert letter["document_sha256"] and letter["pages"] == 1 and "data" not in letter
    assert body["contacts"]["objections"] == [{"channel": "sms", "since": "2026-12-07", "note": None}]
    assert held["contacts"]["contacts"][0]["rule"] == "flag"


def test_an_smtp_server_that_cannot_be_reached_fails_the_emails_and_sends_the_rest(book, tmp_path):
    import socket

    store, *_ = book
    send(store, MONDAY, at(MONDAY, 10), tmp_path)
    for claim_id in (2, 4):
        place(store, claim_id, "reminder", MONDAY)
    service.object_to(store=store, debtor_id=4, channel="sms", since=MONDAY)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = send(
        store,
        TWO_WEEKS,
        at(TWO_WEEKS, 10),
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from="k@example.com",
        sms=tmp_path / "sms",
    )
    assert done["sent"] == {"sms": 1} and done["failed"] == 1
    assert done["failures"][0]["channel"] == "email" and "SMTP 127.0.0.1" in done["failures"][0]["detail"]
    failed = service.history(store=store, claim_id=4)["contacts"][0]
    assert failed["status"] == ContactStatus.FAILED.value and "SMTP" in failed["detail"]


def test_letters_rendered_by_worker_processes_in_batches_are_the_same_bytes(book, tmp_path, monkeypatch):
    from contacts import dispatch

    store, *_ = book
    monkeypatch.setattr(dispatch, "PARALLEL_FROM", 2)
    done = service.send(
        store=store,
        as_of=MONDAY,
        at=at(MONDAY, 10),
        outlets=service.Outlets(letters=tmp_path / "print"),
        allow_stale_rates=True,
        workers=2,
    )
    assert done["sent"] == {"letter": 7}
    for letter in manifest(tmp_path, done["batches"][0]).iter_rows(named=True):
        out = tmp_path / f"{letter['letter_id']}.pdf"
        service.reproduce(store=store, letter_id=letter["letter_id"], out=out)  # refuses other bytes
        assert out.read_bytes() == (tmp_path / "print" / done["batches"][0] / letter["file"]).read_bytes()
