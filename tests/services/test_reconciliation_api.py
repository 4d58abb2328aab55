"""Finance reconciles over the API: uploads a statement, filters the items, approves one
adjustment (twice, posting once) and exports the run; affiliates see none of it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.ingest.batch.seed import seed

from clickledger.domain.roles import Role
from clickledger.http.app import create_app
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key


def test_finance_runs_filters_approves_and_exports(runtime: Runtime) -> None:
    now = runtime.clock.now()
    seeded = seed(runtime.engine, now)
    with runtime.engine.begin() as conn:
        conn.execute(t.ledger_entries.insert().values(
            id=new_id(), entry_key="cpa:1", kind="commission", affiliate_id=seeded.affiliate_id,
            amount_minor=20_000, currency="EUR", period_start=datetime(2025, 12, 1, tzinfo=UTC),
            status="approved", source_event_ids=[], explanation="CPA", created_at=now))
        finance = issue_key(conn, role=Role.FINANCE, name="f", now=now).token
        affiliate = issue_key(conn, role=Role.AFFILIATE, name="a", now=now,
                              affiliate_id=seeded.affiliate_id).token
    # ours are only player-bound lines: this one has no player, so the brand sees 0.00
    statement = f"affiliate,amount,currency\n{seeded.affiliate_id},200.00,EUR\nghost,5,EUR\n"
    with TestClient(create_app(runtime)) as client:
        as_finance = {"Authorization": f"Bearer {finance}"}
        created = client.post("/api/v1/reconciliation/runs?kind=affiliates&brand=acme-casino brand"
                              "&from=2025-12-01&to=2026-01-01", content=statement.encode(),
                              headers=as_finance)
        assert created.status_code == 201, created.text
        run_id = created.json()["run_id"]
        assert created.json()["summary"]["flags"] == {"missing_in_clickledger": 2}
        items = client.get(f"/api/v1/reconciliation/runs/{run_id}/items"
                           f"?affiliate_id={seeded.affiliate_id}", headers=as_finance).json()
        (item,) = items["items"]
        assert (item["theirs_minor"], item["proposed_adjustment_minor"]) == (20_000, 20_000)
        first = client.post(f"/api/v1/reconciliation/items/{item['id']}/approve",
                            headers=as_finance)
        again = client.post(f"/api/v1/reconciliation/items/{item['id']}/approve",
                            headers=as_finance)
        assert first.status_code == again.status_code == 200
        assert first.json()["ledger_entry_id"] == again.json()["ledger_entry_id"]
        exported = client.get(f"/api/v1/reconciliation/runs/{run_id}/export.csv",
                              headers=as_finance)
        assert exported.headers["content-type"].startswith("text/csv")
        assert "approved" in exported.text
        as_affiliate = {"Authorization": f"Bearer {affiliate}"}
        assert client.get(f"/api/v1/reconciliation/runs/{run_id}",
                          headers=as_affiliate).status_code == 404
    with runtime.engine.connect() as conn:
        adjustments = conn.execute(sa.select(sa.func.count()).select_from(t.ledger_entries)
                                   .where(t.ledger_entries.c.kind == "adjustment")).scalar_one()
    assert adjustments == 1
