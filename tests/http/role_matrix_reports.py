"""Role matrix of the report routes: staff and affiliates read reports (an affiliate only
its own tree: without a filter that is simply its own numbers); integrations get 404."""

from __future__ import annotations

from tests.http.role_matrix import READERS, RouteCase


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


MATRIX: dict[tuple[str, str], RouteCase] = {
    ("GET", "/api/v1/reports/dashboard"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/reports/breakdown"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/reports/breakdown.csv"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/reports/players"): RouteCase(None, _ok(*READERS)),
}
