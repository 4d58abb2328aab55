"""An operator uploads a file over HTTP, gets a job id at once and reads the job's progress
and result; oversize bodies, other integrations' jobs and the wrong roles are refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.ingest.batch.seed import Seeded, count, seed

from clickledger.domain.roles import Role
from clickledger.http.api.endpoints import imports as import_routes
from clickledger.http.app import create_app
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key

DEPOSITS = ("txn_id,player_id,occurred_at,amount,currency\n"
            "D1,p1,2025-12-01 10:00:00,20.00,EUR\nD2,p2,2025-12-02 10:00:00,abc,EUR\n")
LIMIT_BYTES = 4096


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime.engine, runtime.clock.now())


@pytest.fixture
def tokens(runtime: Runtime, seeded: Seeded) -> dict[str, str]:
    other = seed(runtime.engine, runtime.clock.now(), name="other-casino")
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        return {
            "manager": issue_key(conn, role=Role.MANAGER, name="m", now=now).token,
            "finance": issue_key(conn, role=Role.FINANCE, name="f", now=now).token,
            "integration": issue_key(conn, role=Role.INTEGRATION, name="i", now=now,
                                     integration_id=seeded.integration_id).token,
            "other": issue_key(conn, role=Role.INTEGRATION, name="o", now=now,
                               integration_id=other.integration_id).token,
        }


@pytest.fixture
def client(runtime: Runtime, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    limits = ImportLimits(max_upload_body_bytes=LIMIT_BYTES, upload_dir=tmp_path / "uploads")
    monkeypatch.setattr(import_routes, "get_limits", lambda: limits)
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wait_for(client: TestClient, job_id: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/imports/{job_id}", headers=auth(token)).json()
        if job["status"] not in ("queued", "running"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_an_integration_uploads_and_reads_its_job_result(
    client: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    answer = client.post("/api/v1/imports?kind=deposits&policy=skip-invalid&file_name=dec.csv",
                         content=DEPOSITS.encode(), headers=auth(tokens["integration"]))
    assert answer.status_code == 202
    job = wait_for(client, answer.json()["job_id"], tokens["integration"])
    assert (job["status"], job["rows_total"], job["rows_inserted"], job["rows_invalid"]) == (
        "succeeded", 2, 1, 1)
    assert job["errors"][0]["code"] == "invalid_amount"
    assert "file_path" not in job
    report = client.get(f"/api/v1/imports/{job['id']}/errors.csv",
                        headers=auth(tokens["integration"]))
    assert report.status_code == 200
    assert report.text.splitlines()[1].startswith("3,amount,invalid_amount,")
    assert count(runtime.engine, t.player_events) == 1


def test_reject_file_over_http_reports_rejected_and_stores_nothing(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    answer = client.post(f"/api/v1/imports?kind=deposits&integration={seeded.integration_name}",
                         content=DEPOSITS.encode(), headers=auth(tokens["manager"]))
    job = wait_for(client, answer.json()["job_id"], tokens["manager"])
    assert (job["status"], job["rows_inserted"]) == ("rejected", 0)


def test_oversize_bodies_other_integrations_and_other_roles_are_refused(
    client: TestClient, tokens: dict[str, str]
) -> None:
    big = DEPOSITS.encode() + b"D3,p3,2025-12-02 10:00:00,1,EUR\n" * 200
    too_big = client.post("/api/v1/imports?kind=deposits", content=big,
                          headers=auth(tokens["integration"]))
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "body_too_large"
    answer = client.post("/api/v1/imports?kind=deposits", content=DEPOSITS.encode(),
                         headers=auth(tokens["integration"]))
    job_id = answer.json()["job_id"]
    wait_for(client, job_id, tokens["integration"])
    assert client.get(f"/api/v1/imports/{job_id}", headers=auth(tokens["other"])).status_code == 404
    as_finance = auth(tokens["finance"])
    assert client.get(f"/api/v1/imports/{job_id}", headers=as_finance).status_code == 404
    assert client.post("/api/v1/imports?kind=deposits", content=DEPOSITS.encode(),
                       headers=auth(tokens["finance"])).status_code == 404
    assert client.post("/api/v1/imports?kind=deposits",
                       content=DEPOSITS.encode()).status_code == 401


def test_managers_keep_mapping_profiles_and_uploads_use_them(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    manager = auth(tokens["manager"])
    saved = client.put("/api/v1/import-profiles/acme", headers=manager, json={
        "delimiter": ";", "decimal_comma": True, "fixed_currency": "EUR",
        "columns": {"txn_id": "ID", "player_id": "Spieler", "occurred_at": "Datum",
                    "amount": "Betrag"}, "date_formats": ["%d.%m.%Y"]})
    assert saved.status_code == 200
    bad = client.put("/api/v1/import-profiles/bad", headers=manager,
                     json={"columns": {"nonsense": "x"}})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_field")
    answer = client.post(
        f"/api/v1/imports?kind=deposits&profile=acme&integration={seeded.integration_id}",
        content=b"ID;Spieler;Datum;Betrag\nA1;p1;01.12.2025;12,50\n", headers=manager)
    job = wait_for(client, answer.json()["job_id"], tokens["manager"])
    assert (job["status"], job["rows_inserted"]) == ("succeeded", 1)
    assert [p["name"] for p in client.get("/api/v1/import-profiles",
                                          headers=manager).json()["items"]] == ["acme"]
