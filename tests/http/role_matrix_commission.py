"""Role matrix of the commission routes: managers write deals, finance reads them and loads
FX rates, every reader sees the ledger of its own tree, affiliate B never sees A's lines."""

from __future__ import annotations

import itertools
from typing import Any

from tests.http.conftest import World
from tests.http.role_matrix import RouteCase

from clickledger.ids import new_id
from clickledger.services import deals
from clickledger.store import tables as t

_names = itertools.count()
CPA_TERMS = {"amount": "100", "qualification": {"min_first_deposit": "20"}}


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def _deal(w: World) -> dict[str, str]:
    with w.runtime.engine.begin() as conn:
        deal = deals.create_deal(
            conn, name=f"Matrix CPA {next(_names)}", brand_id=w.brand_id, kind="cpa",
            currency="EUR", terms=CPA_TERMS, effective_from=None, actor="setup",
            now=w.runtime.clock.now())
    return {"deal_id": str(deal["id"])}


def _entry(w: World) -> dict[str, str]:
    entry_id = new_id()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.ledger_entries.insert().values(
            id=entry_id, entry_key=f"matrix:{entry_id}", kind="commission",
            affiliate_id=w.affiliate_a, amount_minor=1_000, currency="EUR",
            period_start=w.runtime.clock.now(), status="approved", source_event_ids=[],
            explanation="CPA 10.00 EUR", created_at=w.runtime.clock.now()))
    return {"entry_id": entry_id}


def _deal_body(w: World, n: int) -> dict[str, Any]:
    return {"name": f"Matrix deal {n}", "brand_id": w.brand_id, "kind": "cpa",
            "currency": "EUR", "terms": CPA_TERMS}


def _version_body(w: World, n: int) -> dict[str, Any]:
    return {"terms": {"amount": str(100 + n)}}


def _assignment_body(w: World, n: int) -> dict[str, Any]:
    return {"affiliate_id": w.affiliate_a}


def _fx_body(w: World, n: int) -> dict[str, Any]:
    return {"source": f"ecb-{n}", "rates": [{"day": "2026-01-01", "base": "EUR",
                                              "quote": "USD", "rate": "1.0834"}]}


def _simulate_body(w: World, n: int) -> dict[str, Any]:
    return {"affiliate_id": w.affiliate_a, "period_start": "2025-11-01T00:00:00Z",
            "kind": "cpa", "terms": CPA_TERMS, "currency": "EUR", "brand_id": w.brand_id}


STAFF = ("manager", "finance")
A_READERS = ("manager", "finance", "affiliate_a")

MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/deals"): RouteCase(_deal_body, _ok("manager", status=201)),
    ("GET", "/api/v1/deals"): RouteCase(None, _ok(*STAFF)),
    ("GET", "/api/v1/deals/{deal_id}"): RouteCase(None, _ok(*STAFF), params=_deal),
    ("POST", "/api/v1/deals/{deal_id}/versions"): RouteCase(
        _version_body, _ok("manager", status=201), params=_deal),
    ("POST", "/api/v1/deals/{deal_id}/assignments"): RouteCase(
        _assignment_body, _ok("manager", status=201), params=_deal),
    ("POST", "/api/v1/fx-rates"): RouteCase(_fx_body, _ok(*STAFF, status=201)),
    ("GET", "/api/v1/ledger"): RouteCase(None, _ok(*STAFF, "affiliate_a", "affiliate_b")),
    ("GET", "/api/v1/ledger/{entry_id}"): RouteCase(None, _ok(*A_READERS), params=_entry),
    ("POST", "/api/v1/simulate"): RouteCase(_simulate_body, _ok(*A_READERS)),
}
