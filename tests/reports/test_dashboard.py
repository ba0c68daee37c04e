"""The dashboard's pages and its sign-in, over the HTTP API's app (the browser test drives them in
Chromium; these check what each answers to whom)."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.keys import service as keys
from engine.store.models import AuditEntry


def _client(generated) -> TestClient:
    return TestClient(create_app(generated["store"]), follow_redirects=False)


def _signed_in(generated, role: str = "analyst") -> TestClient:
    client = _client(generated)
    done = client.post("/dashboard/login", data={"key": generated["keys"][role], "next": "/dashboard"})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    return client


def test_without_a_key_every_page_sends_to_the_login_form(generated):
    client = _client(generated)
    for path in ("/dashboard", "/dashboard/portfolios/X", "/dashboard/claims?q=abc", "/dashboard/claims/1"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/dashboard/login?next=/dashboard")
    form = client.get("/dashboard/login")
    assert form.status_code == 200 and 'name="key"' in form.text
    assert "default-src 'none'" in form.headers["content-security-policy"]


def test_the_login_takes_analyst_and_admin_keys_into_an_httponly_cookie(generated):
    client = _client(generated)
    for role in ("legal", "agency"):
        refused = client.post("/dashboard/login", data={"key": generated["keys"][role]})
        assert refused.status_code == 401 and "analyst and admin keys" in refused.text
    unknown = client.post("/dashboard/login", data={"key": "cession_k0000000000000000_nothing"})
    assert unknown.status_code == 401 and "unknown or revoked" in unknown.text
    for role in ("analyst", "admin"):
        done = _client(generated).post("/dashboard/login", data={"key": generated["keys"][role]})
        cookie = done.headers["set-cookie"]
        assert done.status_code == 303
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    # no open redirect: only the dashboard's own paths
    away = _client(generated).post(
        "/dashboard/login", data={"key": generated["keys"]["analyst"], "next": "//evil.example"}
    )
    assert away.headers["location"] == "/dashboard"


def test_a_bearer_key_works_too_and_another_roles_key_is_forbidden(generated):
    client = _client(generated)
    ok = client.get("/dashboard", headers={"Authorization": f"Bearer {generated['keys']['analyst']}"})
    assert ok.status_code == 200 and "Portfolios" in ok.text
    legal = client.get("/dashboard", headers={"Authorization": f"Bearer {generated['keys']['legal']}"})
    assert legal.status_code == 403


def test_a_revoked_key_ends_the_session(generated):
    own = keys.create(store=generated["store"], role="analyst", label="revoked in a test")
    client = _signed_in(generated | {"keys": {"analyst": own.key}})
    assert client.get("/dashboard").status_code == 200
    keys.revoke(store=generated["store"], key_id=own.key_id)
    again = client.get("/dashboard")
    assert again.status_code == 303 and "note=expired" in again.headers["location"]
    assert client.post("/dashboard/logout").status_code == 303


def test_the_pages(generated):
    client = _signed_in(generated, "admin")
    claims = generated["claims"]
    portfolio = claims.group_by("portfolio_id").len().sort("len", descending=True)["portfolio_id"][0]
    listing = client.get("/dashboard")
    assert listing.status_code == 200
    for p in claims["portfolio_id"].unique():
        assert f"/dashboard/portfolios/{p}" in listing.text
    page = client.get(f"/dashboard/portfolios/{portfolio}")
    assert page.status_code == 200 and page.text.count('<svg class="chart"') >= 5
    assert "stored run" in page.text  # the current run's day by default
    other = client.get(f"/dashboard/portfolios/{portfolio}?as_of=2025-09-30&discount_rate=8")
    assert other.status_code == 200 and "computed for this report" in other.text and "8,00%" in other.text
    assert client.get("/dashboard/portfolios/NOPE").status_code == 404
    assert client.get(f"/dashboard/portfolios/{portfolio}?discount_rate=abc").status_code == 400

    claim = claims.filter(pl.col("portfolio_id") == portfolio).row(0, named=True)
    detail = client.get(f"/dashboard/claims/{claim['claim_id']}")
    assert detail.status_code == 200
    for part in ('id="limitation-steps"', 'id="events"', 'id="state"', claim["seller_ref"]):
        assert part in detail.text
    assert client.get("/dashboard/claims/999999999").status_code == 404

    # the claim's contact history (issue 21): a letter sent and returned, a text held by a rule
    from datetime import date

    from engine.store.models import Contact, ContactEvent

    other = claims.filter(pl.col("portfolio_id") == portfolio).row(1, named=True)
    assert "No contacts yet." in client.get(f"/dashboard/claims/{other['claim_id']}").text
    common = {"claim_id": other["claim_id"], "debtor_id": other["debtor_id"], "rules_sha256": "0" * 64}
    with generated["store"].begin() as conn:
        sent = conn.execute(
            sa.insert(Contact.__table__)
            .values(
                day=date(2026, 3, 2),
                step="notice",
                template="notice",
                channel="letter",
                status="returned",
                address="ul. Testowa 1, 00-001 Warszawa",
                **common,
            )
            .returning(Contact.__table__.c.contact_id)
        ).scalar_one()
        conn.execute(
            sa.insert(ContactEvent.__table__).values(contact_id=sent, result="returned", day=date(2026, 3, 20))
        )
        conn.execute(
            sa.insert(Contact.__table__).values(
                day=date(2026, 3, 3),
                step="reminder",
                template="reminder",
                channel="sms",
                status="held",
                rule="flag",
                detail="gdpr_restricted",
                **common,
            )
        )
    page = client.get(f"/dashboard/claims/{other['claim_id']}").text
    assert 'id="contacts"' in page and "ul. Testowa 1, 00-001 Warszawa" in page and "returned 2026-03-20" in page
    assert "flag: gdpr_restricted" in page


def test_search_by_seller_ref_national_id_and_name_is_audited(generated):
    client = _signed_in(generated)
    store = generated["store"]
    claim = generated["claims"].row(5, named=True)
    found = client.get("/dashboard/claims", params={"q": claim["seller_ref"]})
    assert found.status_code == 200 and f"/dashboard/claims/{claim['claim_id']}" in found.text
    with store.connect() as conn:
        debtor = conn.execute(
            sa.text("SELECT name, national_id FROM debtors WHERE debtor_id = :d"), {"d": claim["debtor_id"]}
        ).one()
    if debtor.national_id:
        by_id = client.get("/dashboard/claims", params={"q": debtor.national_id})
        assert f"/dashboard/claims/{claim['claim_id']}" in by_id.text
    # the generated debtors are named "Dłużnik N": a name with a digit is searched as a name when no seller_ref matches
    by_name = client.get("/dashboard/claims", params={"q": debtor.name})
    assert by_name.status_code == 200 and "by name" in by_name.text
    assert f"/dashboard/claims/{claim['claim_id']}" in by_name.text
    part = client.get("/dashboard/claims", params={"q": "DŁUŻNIK"[:1] + "łużnik"})
    assert "by name" in part.text and "the first of more" in part.text  # at most 50 shown
    assert client.get("/dashboard/claims", params={"q": "ab"}).status_code == 400
    with store.connect() as conn:
        searches = conn.execute(
            sa.select(AuditEntry.actor, AuditEntry.details).where(AuditEntry.subject == "search")
        ).all()
    assert len(searches) >= 3
    assert all(row.actor.startswith("key:") for row in searches)


def test_a_report_is_kept_until_what_it_reads_changes(generated):
    from datetime import date

    from api.reports import service
    from engine.store import records
    from tests.builders import event, frames

    store, claims = generated["store"], generated["claims"]
    portfolio = claims["portfolio_id"][0]
    day = date(2025, 12, 31)
    first = service.kept_report(store=store, portfolio_id=portfolio, as_of=day, rate=0.12)
    assert service.kept_report(store=store, portfolio_id=portfolio, as_of=day, rate=0.12) is first
    assert service.kept_report(store=store, portfolio_id=portfolio, as_of=day, rate=0.10) is not first
    claim = claims.filter(pl.col("portfolio_id") == portfolio).row(0, named=True)
    newest = int(generated["events"]["event_id"].max())
    paid = event(newest + 1, "payment", date(2025, 12, 30), 12_345, claim_id=claim["claim_id"])
    records.load(store, *frames([], [paid | {"source": "direct"}]))
    again = service.kept_report(store=store, portfolio_id=portfolio, as_of=day, rate=0.12)
    assert again is not first
    assert again["collections"]["collected"] == first["collections"]["collected"] + 12_345
