"""A small programme on each database, with one API key per role, and a client for the app.

Affiliate A has a sub-affiliate; affiliate B is unrelated.  A's link and promo
code are the objects the role matrix and visibility tests probe.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from clickledger.domain.roles import Role
from clickledger.http.app import create_app
from clickledger.ids import new_id
from clickledger.runtime import Runtime
from clickledger.services import api_keys, programme
from clickledger.store import tables as t

ROLES = ("manager", "finance", "affiliate_a", "affiliate_b", "integration", "anonymous")
SETUP_ACTOR = "test-setup"


@dataclass
class World:
    runtime: Runtime
    brand_id: str
    offer_id: str
    paused_offer_id: str
    affiliate_a: str
    affiliate_a_sub: str
    affiliate_b: str
    link_a: str
    link_b: str
    promo_a: str
    integration_id: str
    spare_key_id: str
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}


def _affiliate(conn, runtime: Runtime, name: str, parent_id: str | None = None) -> str:  # type: ignore[no-untyped-def]
    row = programme.create_affiliate(
        conn, {"name": name, "email": f"{name.lower().replace(' ', '.')}@example.com",
               "parent_id": parent_id, "status": "active", "payout_currency": "EUR",
               "payment_details": {"method": "bank", "account_holder": name,
                                   "iban": "DE89370400440532013000", "bic": "COBADEFFXXX"}},
        SETUP_ACTOR, runtime.clock.now(),
    )
    return str(row["id"])


def build_world(runtime: Runtime) -> World:
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        brand = programme.create_brand(
            conn, {"name": "Lucky Casino", "kind": "casino", "default_currency": "EUR"},
            SETUP_ACTOR, now)
        offer_values = {"brand_id": brand["id"], "landing_url":
                        "https://lucky.example/welcome?btag={click_id}&s1={sub1}",
                        "allowed_domains": ["lucky.example"]}
        offer = programme.create_offer(conn, {**offer_values, "name": "Welcome"}, SETUP_ACTOR, now)
        paused = programme.create_offer(
            conn, {**offer_values, "name": "Old", "status": "paused"}, SETUP_ACTOR, now)
        a = _affiliate(conn, runtime, "Alice")
        a_sub = _affiliate(conn, runtime, "Alice Sub", parent_id=a)
        b = _affiliate(conn, runtime, "Bob")
        integration_id = new_id()
        conn.execute(t.integrations.insert().values(
            id=integration_id, brand_id=brand["id"], name="Lucky S2S", signing_secret="s" * 32,
            created_at=now, updated_at=now))
        keys = {
            "manager": api_keys.create_key(conn, role=Role.MANAGER, name="boss",
                                           actor=SETUP_ACTOR, now=now),
            "finance": api_keys.create_key(conn, role=Role.FINANCE, name="money",
                                           actor=SETUP_ACTOR, now=now),
            "affiliate_a": api_keys.create_key(conn, role=Role.AFFILIATE, name="alice",
                                               actor=SETUP_ACTOR, now=now, affiliate_id=a),
            "affiliate_b": api_keys.create_key(conn, role=Role.AFFILIATE, name="bob",
                                               actor=SETUP_ACTOR, now=now, affiliate_id=b),
            "integration": api_keys.create_key(conn, role=Role.INTEGRATION, name="s2s",
                                               actor=SETUP_ACTOR, now=now,
                                               integration_id=integration_id),
        }
        spare, _row = api_keys.create_key(conn, role=Role.FINANCE, name="spare",
                                          actor=SETUP_ACTOR, now=now)
    manager = _principal(runtime, keys["manager"][0].token)
    with runtime.engine.begin() as conn:
        link_a = programme.create_link(
            conn, {"affiliate_id": a, "offer_id": offer["id"], "code": "alice-1"}, manager, now)
        link_b = programme.create_link(
            conn, {"affiliate_id": b, "offer_id": offer["id"], "code": "bob-1"}, manager, now)
        promo = programme.create_promo_code(
            conn, {"code": "ALICE100", "affiliate_id": a, "brand_id": brand["id"]},
            SETUP_ACTOR, now)
    return World(
        runtime=runtime, brand_id=str(brand["id"]), offer_id=str(offer["id"]),
        paused_offer_id=str(paused["id"]),
        affiliate_a=a, affiliate_a_sub=a_sub, affiliate_b=b, link_a=str(link_a["id"]),
        link_b=str(link_b["id"]), promo_a=str(promo["id"]), integration_id=integration_id,
        spare_key_id=spare.key_id, tokens={role: key.token for role, (key, _r) in keys.items()},
    )


def _principal(runtime: Runtime, token: str):  # type: ignore[no-untyped-def]
    from clickledger.store.api_keys import authenticate  # noqa: PLC0415

    with runtime.engine.connect() as conn:
        principal = authenticate(conn, token)
    assert principal is not None
    return principal


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
