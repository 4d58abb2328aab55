"""Role matrix of batch import and reconciliation: managers and the integration's own key
upload files; managers keep the mapping profiles; finance and managers reconcile; only
finance approves or rejects an adjustment; affiliates get 404 everywhere here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.http.conftest import World
from tests.http.role_matrix import RouteCase

from clickledger.ids import new_id
from clickledger.store import tables as t

UPLOAD_DIR = "/tmp/clickledger-matrix-uploads"


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def _job(w: World) -> dict[str, str]:
    now = w.runtime.clock.now()
    job_id = new_id()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.import_jobs.insert().values(
            id=job_id, integration_id=w.integration_id, kind="deposits", policy="skip-invalid",
            file_name="x.csv", file_path=f"{UPLOAD_DIR}/{job_id}", size_bytes=10,
            status="succeeded", error_report="line,column,code,message\n2,amount,x,y\n",
            created_by="matrix", created_at=now, updated_at=now))
    return {"job_id": job_id}


def _profile(w: World) -> dict[str, str]:
    now = w.runtime.clock.now()
    name = f"matrix-{new_id()}"
    with w.runtime.engine.begin() as conn:
        conn.execute(t.import_profiles.insert().values(
            id=new_id(), name=name, columns={}, created_at=now, updated_at=now))
    return {"name": name}


def _run(w: World) -> dict[str, str]:
    now = w.runtime.clock.now()
    run_id, item_id = new_id(), new_id()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.reconciliation_runs.insert().values(
            id=run_id, brand_id=w.brand_id, statement_kind="affiliates", status="open",
            summary={"period": {"from": datetime(2031, 1, 1, tzinfo=UTC).isoformat()}},
            created_by="matrix", created_at=now))
        conn.execute(t.reconciliation_items.insert().values(
            id=item_id, run_id=run_id, line_no=2, match_key=w.affiliate_a,
            flag="amount_mismatch", affiliate_id=w.affiliate_a, ours_minor=100,
            theirs_minor=150, difference_minor=50, currency="EUR", theirs_currency="EUR",
            proposed_adjustment_minor=50))
    return {"run_id": run_id, "item_id": item_id}


def _profile_body(w: World, n: int) -> dict[str, Any]:
    return {"columns": {"txn_id": "Transaction"}, "fixed_currency": "EUR"}


MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/imports"): RouteCase(None, _ok("manager", "integration", status=422)),
    ("GET", "/api/v1/imports/{job_id}"): RouteCase(None, _ok("manager", "integration"), _job),
    ("GET", "/api/v1/imports/{job_id}/errors.csv"): RouteCase(
        None, _ok("manager", "integration"), _job),
    ("GET", "/api/v1/import-profiles"): RouteCase(None, _ok("manager")),
    ("PUT", "/api/v1/import-profiles/{name}"): RouteCase(_profile_body, _ok("manager"), _profile),
    ("DELETE", "/api/v1/import-profiles/{name}"): RouteCase(
        None, _ok("manager", status=204), _profile),
    ("POST", "/api/v1/reconciliation/runs"): RouteCase(
        None, _ok("manager", "finance", status=422)),
    ("GET", "/api/v1/reconciliation/runs"): RouteCase(None, _ok("manager", "finance")),
    ("GET", "/api/v1/reconciliation/runs/{run_id}"): RouteCase(
        None, _ok("manager", "finance"), _run),
    ("GET", "/api/v1/reconciliation/runs/{run_id}/items"): RouteCase(
        None, _ok("manager", "finance"), _run),
    ("GET", "/api/v1/reconciliation/runs/{run_id}/export.csv"): RouteCase(
        None, _ok("manager", "finance"), _run),
    ("POST", "/api/v1/reconciliation/items/{item_id}/approve"): RouteCase(
        None, _ok("finance"), _run),
    ("POST", "/api/v1/reconciliation/items/{item_id}/reject"): RouteCase(
        None, _ok("finance"), _run),
    ("POST", "/api/v1/reconciliation/runs/{run_id}/backfill"): RouteCase(
        None, _ok("manager", "finance", status=422), _run),
}
