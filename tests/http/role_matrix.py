"""The expected answer of every ``/api/v1`` route to every role: the table the matrix test checks.

Objects in paths belong to affiliate A.  Each route lists its path (with
``{placeholders}`` filled from the ``World``), a body factory for writes, and
the status each role gets.  A route that is added to the app without an entry
makes ``test_every_api_route_is_in_the_role_matrix`` fail: classify it, either
here or in a module of your own named ``tests/http/role_matrix_<area>.py``
that defines ``MATRIX: dict[tuple[str, str], RouteCase]`` (all such modules
are merged by ``full_matrix()``).  ``RouteCase.params`` fills placeholders the
World does not know, e.g. by creating an object through ``world.runtime``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.http.conftest import World

Body = Callable[[World, int], dict[str, Any]] | None

DENIED = 404
UNAUTHENTICATED = 401


@dataclass(frozen=True)
class RouteCase:
    body: Body
    expected: dict[str, int]  # role -> status; roles left out get 404 (401 when anonymous)
    params: Callable[[World], dict[str, str]] | None = None  # extra path placeholders

    def status_for(self, role: str) -> int:
        if role == "anonymous":
            return self.expected.get(role, UNAUTHENTICATED)
        return self.expected.get(role, DENIED)


def _ok(*roles: str, status: int = 200) -> dict[str, int]:
    return dict.fromkeys(roles, status)


READERS = ("manager", "finance", "affiliate_a", "affiliate_b")
A_READERS = ("manager", "finance", "affiliate_a")  # B may not see A's objects
ALL_KEYS = (*READERS, "integration")


def _brand(w: World, n: int) -> dict[str, Any]:
    return {"name": f"Brand {n}", "kind": "forex", "default_currency": "USD"}


def _offer(w: World, n: int) -> dict[str, Any]:
    return {"brand_id": w.brand_id, "name": f"Offer {n}", "allowed_domains": ["lucky.example"],
            "landing_url": "https://lucky.example/?c={click_id}"}


def _affiliate(w: World, n: int) -> dict[str, Any]:
    return {"name": f"New {n}", "email": f"new{n}@example.com", "payout_currency": "EUR"}


def _link(w: World, n: int) -> dict[str, Any]:
    return {"affiliate_id": w.affiliate_a, "offer_id": w.offer_id, "sub1": f"campaign-{n}"}


def _promo(w: World, n: int) -> dict[str, Any]:
    return {"code": f"promo{n}", "affiliate_id": w.affiliate_a, "brand_id": w.brand_id}


def _key(w: World, n: int) -> dict[str, Any]:
    return {"role": "finance", "name": f"finance key {n}"}


def _rename(w: World, n: int) -> dict[str, Any]:
    return {"name": f"Renamed {n}"}


MATRIX: dict[tuple[str, str], RouteCase] = {
    ("POST", "/api/v1/brands"): RouteCase(_brand, _ok("manager", status=201)),
    ("GET", "/api/v1/brands"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/brands/{brand_id}"): RouteCase(None, _ok(*READERS)),
    ("PATCH", "/api/v1/brands/{brand_id}"): RouteCase(
        lambda w, n: {"fallback_url": f"https://lucky.example/{n}"}, _ok("manager")),
    ("POST", "/api/v1/offers"): RouteCase(_offer, _ok("manager", status=201)),
    ("GET", "/api/v1/offers"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/offers/{offer_id}"): RouteCase(None, _ok(*READERS)),
    ("PATCH", "/api/v1/offers/{offer_id}"): RouteCase(_rename, _ok("manager")),
    ("POST", "/api/v1/affiliates"): RouteCase(_affiliate, _ok("manager", status=201)),
    ("GET", "/api/v1/affiliates"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/affiliates/{affiliate_id}"): RouteCase(None, _ok(*A_READERS)),
    ("PATCH", "/api/v1/affiliates/{affiliate_id}"): RouteCase(_rename, _ok("manager")),
    # B may use the route but A's affiliate id is unknown to it: 422 unknown_affiliate.
    ("POST", "/api/v1/tracking-links"): RouteCase(
        _link, {**_ok("manager", "affiliate_a", status=201), "affiliate_b": 422}),
    ("GET", "/api/v1/tracking-links"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/tracking-links/{link_id}"): RouteCase(None, _ok(*A_READERS)),
    ("PATCH", "/api/v1/tracking-links/{link_id}"): RouteCase(
        lambda w, n: {"sub2": f"ad-{n}"}, _ok("manager", "affiliate_a")),
    ("POST", "/api/v1/promo-codes"): RouteCase(_promo, _ok("manager", status=201)),
    ("GET", "/api/v1/promo-codes"): RouteCase(None, _ok(*READERS)),
    ("GET", "/api/v1/promo-codes/{promo_id}"): RouteCase(None, _ok(*A_READERS)),
    ("PATCH", "/api/v1/promo-codes/{promo_id}"): RouteCase(
        lambda w, n: {"status": "active"}, _ok("manager")),
    ("POST", "/api/v1/api-keys"): RouteCase(_key, _ok("manager", status=201)),
    ("GET", "/api/v1/api-keys"): RouteCase(None, _ok("manager")),
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): RouteCase(None, _ok("manager")),
    # Any valid key may ask who it is, integration keys included (to check a set-up).
    ("GET", "/api/v1/me"): RouteCase(None, _ok(*ALL_KEYS)),
    ("PATCH", "/api/v1/me/affiliate"): RouteCase(_rename, _ok("affiliate_a", "affiliate_b")),
    ("GET", "/api/v1/audit-log"): RouteCase(None, _ok("manager", "finance")),
}


def fill_path(template: str, case: RouteCase, w: World) -> str:
    """The route's path with A's objects (and the case's own parameters) in it."""
    params = {
        "brand_id": w.brand_id, "offer_id": w.offer_id, "affiliate_id": w.affiliate_a,
        "link_id": w.link_a, "promo_id": w.promo_a, "key_id": w.spare_key_id,
    }
    if case.params is not None:
        params.update(case.params(w))
    return template.format(**params)


def full_matrix() -> dict[tuple[str, str], RouteCase]:
    """This module's MATRIX merged with every ``role_matrix_<area>.py`` beside it."""
    merged = dict(MATRIX)
    for path in sorted(Path(__file__).parent.glob("role_matrix_*.py")):
        module = importlib.import_module(f"tests.http.{path.stem}")
        extra: dict[tuple[str, str], RouteCase] = module.MATRIX
        clash = merged.keys() & extra.keys()
        assert not clash, f"{path.name} classifies routes already classified: {sorted(clash)}"
        merged.update(extra)
    return merged
