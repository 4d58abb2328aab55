"""The two upload endpoints — an operator file (``POST /api/v1/imports``) and an operator
statement (``POST /api/v1/reconciliation/runs``) — refuse a body over the upload limit with
413 and spend the uploader's per-key API budget: over it, 429 with ``Retry-After`` before the
body is read.  Either way nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.ingest.batch.seed import Seeded, count, seed

from clickledger.domain.roles import Role
from clickledger.http.api.endpoints import imports as import_routes
from clickledger.http.api.endpoints import reconciliation as reconciliation_routes
from clickledger.http.app import create_app
from clickledger.ingest.batch.limits import ImportLimits
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key

LIMIT_BYTES = 4096
REQUESTS_PER_MINUTE = 3
DEPOSITS = b"txn_id,player_id,occurred_at,amount,currency\nD1,p1,2025-12-01 10:00:00,20.00,EUR\n"


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime.engine, runtime.clock.now())


@pytest.fixture
def client(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    limits = ImportLimits(max_upload_body_bytes=LIMIT_BYTES, upload_dir=tmp_path / "uploads")
    monkeypatch.setattr(import_routes, "get_limits", lambda: limits)
    monkeypatch.setattr(reconciliation_routes, "get_limits", lambda: limits)
    budget = runtime.settings.model_copy(update={"api_rate_per_minute": REQUESTS_PER_MINUTE})
    with TestClient(create_app(Runtime(budget, runtime.engine, runtime.clock))) as test_client:
        yield test_client


def bearer(runtime: Runtime, role: Role, seeded: Seeded) -> dict[str, str]:
    with runtime.engine.begin() as conn:
        issued = issue_key(
            conn,
            role=role,
            name=role.value,
            now=runtime.clock.now(),
            integration_id=seeded.integration_id if role is Role.INTEGRATION else None,
        )
    return {"Authorization": f"Bearer {issued.token}"}


def statement(affiliate_id: str, lines: int) -> bytes:
    return b"affiliate,amount,currency\n" + f"{affiliate_id},10.00,EUR\n".encode() * lines


def test_an_upload_over_the_body_limit_is_413_and_stores_nothing(
    client: TestClient, runtime: Runtime, seeded: Seeded
) -> None:
    big_file = DEPOSITS + b"D2,p2,2025-12-02 10:00:00,1,EUR\n" * 200  # about 6.5 kB
    big_statement = statement(seeded.affiliate_id, 100)  # about 5 kB
    assert len(big_file) > LIMIT_BYTES and len(big_statement) > LIMIT_BYTES
    file_answer = client.post(
        "/api/v1/imports?kind=deposits",
        content=big_file,
        headers=bearer(runtime, Role.INTEGRATION, seeded),
    )
    statement_answer = client.post(
        "/api/v1/reconciliation/runs?kind=affiliates&brand=acme-casino brand"
        "&from=2025-12-01&to=2026-01-01",
        content=big_statement,
        headers=bearer(runtime, Role.FINANCE, seeded),
    )
    for answer in (file_answer, statement_answer):
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "body_too_large"
    assert count(runtime.engine, t.import_jobs) == 0
    assert count(runtime.engine, t.reconciliation_runs) == 0


def test_uploads_spend_the_key_budget_and_over_it_get_429_before_the_body_is_read(
    client: TestClient, runtime: Runtime, seeded: Seeded
) -> None:
    """Budget 3 requests a minute per key: finance's three statements are matched, the fourth
    is 429; the integration spent its three on empty uploads (422, nothing queued), so its
    next file is 429 (not 413: the body is not even read) and no job is queued; finance and
    the integration do not share a budget."""
    finance = bearer(runtime, Role.FINANCE, seeded)
    integration = bearer(runtime, Role.INTEGRATION, seeded)
    runs_url = (
        "/api/v1/reconciliation/runs?kind=affiliates&brand=acme-casino brand"
        "&from=2025-12-01&to=2026-01-01"
    )
    matched = [
        client.post(runs_url, content=statement(seeded.affiliate_id, 1), headers=finance)
        for _ in range(REQUESTS_PER_MINUTE)
    ]
    assert [r.status_code for r in matched] == [201] * REQUESTS_PER_MINUTE
    over = client.post(runs_url, content=statement(seeded.affiliate_id, 1), headers=finance)
    empty = [
        client.post("/api/v1/imports?kind=deposits", content=b"", headers=integration)
        for _ in range(REQUESTS_PER_MINUTE)
    ]
    assert [r.json()["error"]["code"] for r in empty] == ["empty_file"] * REQUESTS_PER_MINUTE
    big_file = DEPOSITS * 200  # over the upload limit too: 429, not 413, as it is never read
    file_over = client.post("/api/v1/imports?kind=deposits", content=big_file, headers=integration)
    for refused in (over, file_over):
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
    assert count(runtime.engine, t.reconciliation_runs) == REQUESTS_PER_MINUTE
    assert count(runtime.engine, t.import_jobs) == 0
