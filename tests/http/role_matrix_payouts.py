"""Role matrix of the payout routes: finance moves money, managers read runs and confirm
payment details, an affiliate edits only its own details and reads its own statements."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.http.conftest import World
from tests.http.role_matrix import RouteCase

from clickledger.ids import new_id
from clickledger.services import payment_details, payout_deductions, payouts
from clickledger.store import tables as t

_weeks = itertools.count()
BASE = datetime(2031, 1, 6, tzinfo=UTC)
CRYPTO = {"method": "crypto", "network": "ERC20",
          "address": "0x52908400098527886E0F7030069857D2E4169EE7"}


def _period() -> tuple[datetime, datetime]:
    start = BASE + timedelta(weeks=next(_weeks))
    return start, start + timedelta(weeks=1)


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def _run(w: World, approve: bool) -> dict[str, str]:
    now = w.runtime.clock.now()
    start, end = _period()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.ledger_entries.insert().values(
            id=new_id(), entry_key=f"matrix:{new_id()}", kind="commission",
            affiliate_id=w.affiliate_a, amount_minor=1_000, currency="EUR",
            period_start=start, status="approved", source_event_ids=[], explanation="CPA",
            created_at=now))
        view = payouts.create_run(conn, period_start=start, period_end=end, actor="setup-1",
                                  now=now)
        if approve:
            view = payouts.approve_run(conn, str(view.run["id"]), actor="setup-2", now=now)
    return {"run_id": str(view.run["id"]), "payout_id": str(view.items[0]["id"])}


def _rule(w: World) -> dict[str, str]:
    with w.runtime.engine.begin() as conn:
        row = payout_deductions.create(conn, name="fee", kind="fee", percent="1",
                                       actor="setup", now=w.runtime.clock.now())
    return {"rule_id": str(row["id"])}


def _run_body(w: World, n: int) -> dict[str, Any]:
    start, end = _period()
    return {"period_start": start.isoformat(), "period_end": end.isoformat()}


def _submission(w: World, n: int) -> dict[str, Any]:
    with w.runtime.engine.begin() as conn:
        view = payment_details.submit(conn, w.affiliate_a, CRYPTO, actor="setup",
                                      now=w.runtime.clock.now())
    return {"submission_id": view["pending"]["submission_id"]}


def _paid(w: World, n: int) -> dict[str, Any]:
    return {"reference": "BANK-REF-1"}


def _failed(w: World, n: int) -> dict[str, Any]:
    return {"reason": "account closed"}


def _deduction(w: World, n: int) -> dict[str, Any]:
    return {"name": f"withholding {n}", "kind": "withholding", "percent": "5"}



STAFF = ("manager", "finance")
A_READERS = ("manager", "finance", "affiliate_a")

MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/payout-runs"): RouteCase(_run_body, _ok("finance", status=201)),
    ("GET", "/api/v1/payout-runs"): RouteCase(None, _ok(*STAFF)),
    ("GET", "/api/v1/payout-runs/{run_id}"): RouteCase(
        None, _ok(*STAFF), lambda w: _run(w, approve=False)),
    ("POST", "/api/v1/payout-runs/{run_id}/approve"): RouteCase(
        None, _ok("finance"), lambda w: _run(w, approve=False)),
    ("POST", "/api/v1/payout-runs/{run_id}/refresh"): RouteCase(
        None, _ok("finance"), lambda w: _run(w, approve=False)),
    ("GET", "/api/v1/payout-runs/{run_id}/payments.csv"): RouteCase(
        None, _ok("finance"), lambda w: _run(w, approve=True)),
    # No paying account is configured in the test world: finance is told so (422).
    ("GET", "/api/v1/payout-runs/{run_id}/pain001.xml"): RouteCase(
        None, _ok("finance", status=422), lambda w: _run(w, approve=True)),
    ("POST", "/api/v1/payouts/{payout_id}/paid"): RouteCase(
        _paid, _ok("finance"), lambda w: _run(w, approve=True)),
    ("POST", "/api/v1/payouts/{payout_id}/failed"): RouteCase(
        _failed, _ok("finance"), lambda w: _run(w, approve=True)),
    ("POST", "/api/v1/payout-deductions"): RouteCase(_deduction, _ok("finance", status=201)),
    ("GET", "/api/v1/payout-deductions"): RouteCase(None, _ok(*STAFF)),
    ("POST", "/api/v1/payout-deductions/{rule_id}/deactivate"): RouteCase(
        None, _ok("finance"), _rule),
    ("GET", "/api/v1/affiliates/{affiliate_id}/payment-details"): RouteCase(
        None, _ok(*A_READERS)),
    ("PUT", "/api/v1/affiliates/{affiliate_id}/payment-details"): RouteCase(
        lambda w, n: CRYPTO, _ok("affiliate_a")),
    ("POST", "/api/v1/affiliates/{affiliate_id}/payment-details/confirm"): RouteCase(
        _submission, _ok("manager")),
    ("POST", "/api/v1/affiliates/{affiliate_id}/payment-details/reject"): RouteCase(
        _submission, _ok("manager")),
    ("GET", "/api/v1/affiliates/{affiliate_id}/statement"): RouteCase(None, _ok(*A_READERS)),
    ("GET", "/api/v1/affiliates/{affiliate_id}/statement.html"): RouteCase(
        None, _ok(*A_READERS)),
    ("GET", "/api/v1/affiliates/{affiliate_id}/statement.pdf"): RouteCase(
        None, _ok(*A_READERS)),
}
