"""Role matrix entries for ``/api/v1/fraud``: managers review, finance reads, affiliates see
only their own tree's holds."""

from __future__ import annotations

from typing import Any

from tests.http.fraud_setup import held_player
from tests.http.role_matrix import A_READERS, READERS, RouteCase, _ok

MATRIX: dict[tuple[str, str], RouteCase] = {
    ("GET", "/api/v1/fraud/assessments"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/fraud/assessments/{assessment_id}"): RouteCase(
        None, _ok(*A_READERS), params=held_player),
    ("POST", "/api/v1/fraud/assessments/{assessment_id}/confirm"): RouteCase(
        lambda _w, _n: {"note": "ring of cards"}, _ok("manager"), params=held_player),
    ("POST", "/api/v1/fraud/assessments/{assessment_id}/dismiss"): RouteCase(
        lambda _w, _n: {}, _ok("manager"), params=held_player),
    ("GET", "/api/v1/fraud/conversions/{conversion_id}"): RouteCase(
        None, _ok(*A_READERS), params=held_player),
}

__all__: list[Any] = ["MATRIX"]
