"""Role matrix of the ingestion admin routes: managers create and read operator
integrations and remap players; an integration key reads only its own health."""

from __future__ import annotations

from typing import Any

from tests.http.conftest import World
from tests.http.role_matrix import RouteCase

from clickledger.ids import new_id
from clickledger.store import tables as t


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


def _integration(w: World) -> dict[str, str]:
    return {"integration_id": w.integration_id}


def _player(w: World) -> dict[str, str]:
    player_id = new_id()
    now = w.runtime.clock.now()
    with w.runtime.engine.begin() as conn:
        conn.execute(t.players.insert().values(
            id=player_id, brand_id=w.brand_id, operator_player_id=f"p-{player_id}",
            registered_at=now, affiliate_id=w.affiliate_b, attribution="click",
            created_at=now, updated_at=now))
    return {"player_id": player_id}


def _integration_body(w: World, n: int) -> dict[str, Any]:
    return {"brand_id": w.brand_id, "name": f"Operator feed {n}"}


def _remap_body(w: World, n: int) -> dict[str, Any]:
    return {"affiliate_id": w.affiliate_a, "reason": "operator confirmed the referral"}


MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/integrations"): RouteCase(_integration_body, _ok("manager", status=201)),
    ("GET", "/api/v1/integrations"): RouteCase(None, _ok("manager")),
    ("GET", "/api/v1/integrations/{integration_id}"): RouteCase(
        None, _ok("manager"), params=_integration),
    ("GET", "/api/v1/integrations/{integration_id}/health"): RouteCase(
        None, _ok("manager", "integration"), params=_integration),
    ("POST", "/api/v1/players/{player_id}/remap"): RouteCase(
        _remap_body, _ok("manager"), params=_player),
}
