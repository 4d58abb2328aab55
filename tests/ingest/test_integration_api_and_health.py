"""Managers create integrations (secrets shown once) and watch their health; remaps are audited."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from clickledger.domain.roles import Role
from clickledger.store import tables as t
from clickledger.store.api_keys import issue_key

from .conftest import Client, World


def manager_token(world: World) -> str:
    with world.engine.begin() as conn:
        return issue_key(conn, role=Role.MANAGER, name="boss", now=world.runtime.clock.now()).token


def test_a_manager_creates_an_integration_and_its_first_postback_works(world: World, serve) -> None:
    token = manager_token(world)

    async def scenario(client: Client):
        auth = {"Authorization": f"Bearer {token}"}
        created = await client.http.post("/api/v1/integrations", headers=auth, json={
            "brand_id": world.brand_id, "name": "Operator Z", "status_map": {"sale": "ftd"}})
        integration = created.json()
        listed = await client.http.get("/api/v1/integrations", headers=auth)
        await asyncio.sleep(0.25)  # a new integration is picked up within 0.2 s
        event = await client.get({"status": "sale", "txn_id": "z1", "user_id": "z",
                                  "amount": "5", "currency": "EUR"}, integration=integration)
        as_affiliate = await client.http.get(
            f"/api/v1/integrations/{integration['id']}/health",
            headers={"Authorization": f"Bearer {integration['api_key']}"})
        return created, listed, event, as_affiliate

    created, listed, event, own_health = serve(scenario)
    assert created.status_code == 201, created.text
    secret = created.json()["signing_secret"]
    assert len(secret) >= 40 and created.json()["api_key"].startswith("cl_")
    assert secret not in listed.text
    # status= is not our field name: map it with parameter_map, else it is refused clearly
    assert event.status_code == 422 and event.json()["reason"] == "missing_event"
    assert own_health.status_code == 200 and own_health.json()["totals"]["rejected"] == 1


def test_health_shows_last_event_counts_and_lag_and_strangers_get_404(world: World, serve) -> None:
    token = manager_token(world)
    integration_id = world.integration["id"]
    other = world.add_integration()
    now = world.runtime.clock.now()

    async def scenario(client: Client):
        await client.get({"event": "deposit", "txn_id": "h1", "user_id": "h", "amount": "5",
                          "currency": "EUR", "ts": str(int(now.timestamp()) - 60)})
        await client.get({"event": "deposit", "txn_id": "h1", "user_id": "h", "amount": "5",
                          "currency": "EUR", "ts": str(int(now.timestamp()) - 60)})
        await client.get({"event": "deposit", "txn_id": "h2", "user_id": "h", "amount": "-5",
                          "currency": "EUR"})
        await client.app.hot.exact["/postback"].hub.flush_counters()  # type: ignore[attr-defined]
        health = await client.http.get(f"/api/v1/integrations/{integration_id}/health",
                                       headers={"Authorization": f"Bearer {token}"})
        stranger = await client.http.get(f"/api/v1/integrations/{integration_id}/health",
                                         headers={"Authorization": f"Bearer {other['api_key']}"})
        return health, stranger

    health, stranger = serve(scenario)
    body = health.json()
    assert body["totals"]["accepted"] == 1
    assert body["totals"]["duplicates"] == 1
    assert body["totals"]["rejected"] == 1
    assert body["totals"]["lag_ms_avg"] == 60_000
    assert body["last_event_at"] is not None
    assert body["recent_rejections"][0]["reason"] == "negative_amount"
    assert stranger.status_code == 404


def test_a_manager_remaps_a_player_and_the_change_is_audited(world: World, serve) -> None:
    token = manager_token(world)

    async def scenario(client: Client):
        registered = await client.get({"event": "registration", "txn_id": "rm",
                                       "user_id": "rm"})
        player_id = registered.json()["player_id"]
        return await client.http.post(
            f"/api/v1/players/{player_id}/remap", headers={"Authorization": f"Bearer {token}"},
            json={"affiliate_id": world.promo_affiliate_id, "reason": "operator confirmed"})

    response = serve(scenario)
    assert response.status_code == 200, response.text
    player = world.player("rm")
    assert player.affiliate_id == world.promo_affiliate_id and player.attribution == "manual"
    with world.engine.connect() as conn:
        audit = conn.execute(sa.select(t.audit_log).where(t.audit_log.c.action == "player.remap")
                             ).one()
    assert audit.before["attribution"] == "organic"
    assert audit.after["reason"] == "operator confirmed"
