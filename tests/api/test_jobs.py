"""Work started over HTTP and done in the background, on SQLite and PostgreSQL: a seller's file
uploaded and ingested (its reject report downloadable), an engine run, an allocation, a job that
fails with its reason, and a job a stopped server left running found failed."""

from __future__ import annotations

import time
from datetime import date

import sqlalchemy as sa

from api.jobs import service as jobs
from engine.store.jobs import JOBS
from tests.api.test_http import is_problem


def _finished(client, headers, job: dict, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        found = client.get(f"/v1/jobs/{job['job_id']}", headers=headers).json()
        if found["status"] in ("succeeded", "failed"):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def test_an_uploaded_file_is_ingested_in_the_background_with_its_reject_report(client, book, tmp_path, monkeypatch):
    from synthetic.seller_export import PROFILE, PURCHASE_DATE, seller_file, write_seller_csv

    monkeypatch.setenv("CESSION_UPLOADS_DIR", str(tmp_path / "uploads"))
    frame, expected = seller_file(300, seed=5, bad_share=0.1)
    path = write_seller_csv(frame, tmp_path / "export.csv")
    with path.open("rb") as f:
        started = client.post(
            "/v1/portfolios/BANK-2024-06/uploads",
            files={"file": ("export.csv", f, "text/csv")},
            data={"purchase_date": PURCHASE_DATE.isoformat(), "price": "25000.00", "profile": PROFILE},
            headers=book["analyst"],
        )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued" and started.json()["kind"] == "ingest"
    done = _finished(client, book["analyst"], started.json())
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert result["rows_read"] == 300 and result["accepted"] + result["rejected"] == 300
    assert result["rejected"] == expected["row"].n_unique() > 0
    rejects = client.get(f"/v1/jobs/{done['job_id']}/files/rejects.csv", headers=book["analyst"])
    assert rejects.status_code == 200 and len(rejects.text.splitlines()) > result["rejected"] // 2
    is_problem(client.get(f"/v1/jobs/{done['job_id']}/files/passwd", headers=book["analyst"]), 404)
    portfolio = client.get("/v1/portfolios/BANK-2024-06", headers=book["analyst"]).json()
    assert portfolio["claims"] == result["accepted"] and portfolio["ingests"][0]["rows_read"] == 300
    assert [p["portfolio_id"] for p in client.get("/v1/portfolios", headers=book["legal"]).json()] == [
        "BANK-2024-06",
        "P1",
    ]
    is_problem(client.get("/v1/portfolios/NOPE", headers=book["analyst"]), 404)


def test_a_run_and_an_allocation_as_jobs(client, book, store):
    run = client.post("/v1/runs", json={"as_of": "2026-03-01", "allow_stale_rates": True}, headers=book["analyst"])
    assert run.status_code == 202, run.text
    done = _finished(client, book["analyst"], run.json())
    assert done["status"] == "succeeded", done
    assert done["result"]["status"] == "succeeded" and done["result"]["claims"] == 4
    request = {"json": {"as_of": "2026-03-01", "dry_run": True}, "headers": book["admin"]}
    done = _finished(client, book["admin"], client.post("/v1/allocations", **request).json())
    assert done["status"] == "failed" and "agency 'AG01' is not in the store" in done["error"]
    from api.agencies import service as agencies
    from api.allocation.service import EXAMPLES

    agencies.load(store=store, path=EXAMPLES / "agencies.yaml")
    done = _finished(client, book["admin"], client.post("/v1/allocations", **request).json())
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["dry_run"] is True and done["result"]["claims"] == 4
    listed = client.get("/v1/jobs", headers=book["analyst"]).json()
    assert [(j["kind"], j["status"]) for j in listed] == [
        ("allocate", "succeeded"),
        ("allocate", "failed"),
        ("run", "succeeded"),
    ]
    is_problem(client.post("/v1/runs", json={"as_of": "2026-03-01"}, headers=book["A"]), 403)


def test_a_job_that_cannot_be_done_fails_with_its_reason(client, book):
    # rate tables known valid only to an earlier day, and stale rates not allowed: bad input
    run = client.post("/v1/runs", json={"as_of": "2031-01-31"}, headers=book["analyst"])
    done = _finished(client, book["analyst"], run.json())
    assert done["status"] == "failed" and "allow" in done["error"].lower(), done


def test_a_job_left_running_by_a_stopped_server_is_found_failed(store, book):
    import socket

    with store.begin() as conn:
        conn.execute(
            sa.insert(JOBS).values(
                kind="run",
                status="running",
                params={},
                created_at=date(2026, 1, 1),
                created_by="key:x",
                worker=f"{socket.gethostname()}:999999",
            )
        )
    assert len(jobs.recover(store=store)) == 1
    with store.connect() as conn:
        (status, error) = conn.execute(sa.select(JOBS.c.status, JOBS.c.error)).one()
    assert status == "failed" and "stopped" in error


def test_a_strategy_uploaded_validated_and_named_by_an_allocation(client, book, store, tmp_path, monkeypatch):
    from api.agencies import service as agencies
    from api.allocation.service import EXAMPLES

    monkeypatch.setenv("CESSION_UPLOADS_DIR", str(tmp_path / "uploads"))
    names = ("strategy.yaml", "segments.yaml", "challenger.yaml")
    files = [("files", (n, (EXAMPLES / n).read_bytes(), "application/yaml")) for n in names]
    is_problem(
        client.post("/v1/strategies", files=files, data={"strategy": "strategy.yaml"}, headers=book["analyst"]), 403
    )
    made = client.post("/v1/strategies", files=files, data={"strategy": "strategy.yaml"}, headers=book["admin"])
    assert made.status_code == 201, made.text
    sha = made.json()["sha256"]
    assert len(sha) == 64 and made.json()["challenger"] and made.json()["rules"]
    again = client.post("/v1/strategies", files=files, data={"strategy": "strategy.yaml"}, headers=book["admin"])
    assert again.json()["sha256"] == sha  # the same files: the same strategy
    assert [s["sha256"] for s in client.get("/v1/strategies", headers=book["analyst"]).json()] == [sha]
    # a mistake is refused naming the file, the line and the field
    broken = (EXAMPLES / "strategy.yaml").read_text().replace("segments: segments.yaml", "segments: 12", 1)
    bad = [("files", ("strategy.yaml", broken.encode(), "application/yaml"))]
    refused = is_problem(
        client.post("/v1/strategies", files=bad, data={"strategy": "strategy.yaml"}, headers=book["admin"]), 400
    )
    assert "strategy.yaml:3" in refused["detail"] and "segments" in refused["detail"]
    missing = [files[0]]  # the segments file it names is not sent
    is_problem(
        client.post("/v1/strategies", files=missing, data={"strategy": "strategy.yaml"}, headers=book["admin"]), 400
    )
    # an allocation names it
    agencies.load(store=store, path=EXAMPLES / "agencies.yaml")
    client.post("/v1/runs", json={"as_of": "2026-03-01", "allow_stale_rates": True}, headers=book["admin"])
    body = {"as_of": "2026-03-01", "dry_run": True, "strategy": sha}
    done = _finished(client, book["admin"], client.post("/v1/allocations", json=body, headers=book["admin"]).json())
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["strategy"]["sha256"] == sha
    unknown = body | {"strategy": "0" * 64}
    is_problem(client.post("/v1/allocations", json=unknown, headers=book["admin"]), 404)
