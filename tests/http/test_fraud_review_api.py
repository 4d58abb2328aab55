"""The fraud review queue over HTTP: managers see the evidence and decide; affiliates see why
their own conversion was held; another affiliate gets 404."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.http.conftest import World
from tests.http.fraud_setup import held_player

from clickledger.store import tables as t


def _entries(w: World, player_id: str) -> dict[str, object]:
    e = t.ledger_entries
    with w.runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(e).where(e.c.player_id == player_id))
        return {r.entry_key: r for r in rows}


def test_the_manager_queue_lists_the_hold_with_its_evidence(client: TestClient,
                                                            world: World) -> None:
    held = held_player(world)
    page = client.get("/api/v1/fraud/assessments", headers=world.headers("manager")).json()
    item = next(i for i in page["items"] if i["id"] == held["assessment_id"])
    assert (item["action"], item["status"], item["score"]) == ("hold", "open", 80)
    assert item["reasons"][0]["check"] == "automation"
    assert "HeadlessChrome" in item["reasons"][0]["evidence"]["user_agent"]
    assert item["held"]["entries"]  # staff see what was held


def test_affiliate_a_sees_why_its_conversion_is_held_and_b_gets_404(client: TestClient,
                                                                    world: World) -> None:
    held = held_player(world)
    path = f"/api/v1/fraud/conversions/{held['conversion_id']}"
    mine = client.get(path, headers=world.headers("affiliate_a"))
    assert mine.status_code == 200
    body = mine.json()
    assert body["conversion_status"] == "on_hold"
    assert "headless" in body["assessment"]["reasons"][0]["reason"]
    assert "held" not in body["assessment"] and "reviewed_by" not in body["assessment"]
    other = client.get(path, headers=world.headers("affiliate_b"))
    assert other.status_code == 404
    assert client.get(f"/api/v1/fraud/assessments/{held['assessment_id']}",
                      headers=world.headers("affiliate_b")).status_code == 404
    listed = client.get("/api/v1/fraud/assessments", headers=world.headers("affiliate_b")).json()
    assert listed["items"] == []
    own = client.get("/api/v1/fraud/assessments", headers=world.headers("affiliate_a")).json()
    assert [i["id"] for i in own["items"]] == [held["assessment_id"]]


def test_dismiss_releases_the_hold_and_is_audited(client: TestClient, world: World) -> None:
    held = held_player(world)
    player = held["player_id"]
    assert {k: r.status for k, r in _entries(world, player).items()} == {
        f"cpa:{player}": "on_hold"}
    answer = client.post(f"/api/v1/fraud/assessments/{held['assessment_id']}/dismiss",
                         json={"note": "known player, VPN at work"},
                         headers=world.headers("manager"))
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["review_note"]) == (
        "dismissed", "known player, VPN at work")
    assert {k: r.status for k, r in _entries(world, player).items()} == {
        f"cpa:{player}": "approved"}
    with world.runtime.engine.connect() as conn:
        status = conn.execute(sa.select(t.conversions.c.status).where(
            t.conversions.c.player_id == player)).scalar_one()
        audit = conn.execute(sa.select(t.audit_log).where(
            t.audit_log.c.entity_id == held["assessment_id"])).one()
    assert status == "approved"
    assert (audit.action, audit.after["status"]) == ("fraud.dismissed", "dismissed")
    again = client.post(f"/api/v1/fraud/assessments/{held['assessment_id']}/confirm",
                        headers=world.headers("manager"))
    assert again.status_code == 409


def test_confirm_rejects_and_reverses_with_a_reference_to_the_original(
    client: TestClient, world: World,
) -> None:
    held = held_player(world)
    player = held["player_id"]
    answer = client.post(f"/api/v1/fraud/assessments/{held['assessment_id']}/confirm",
                         headers=world.headers("manager"))
    assert answer.status_code == 200
    assert answer.json()["held"]["reversals"] == [f"rev:cpa:{player}"]
    lines = _entries(world, player)
    original, reversal = lines[f"cpa:{player}"], lines[f"rev:cpa:{player}"]
    assert reversal.reverses_entry_id == original.id  # type: ignore[attr-defined]
    assert reversal.amount_minor == -original.amount_minor  # type: ignore[attr-defined]
    seen = client.get(f"/api/v1/fraud/conversions/{held['conversion_id']}",
                      headers=world.headers("affiliate_a")).json()
    assert seen["conversion_status"] == "rejected"
    assert seen["assessment"]["status"] == "confirmed"


def test_an_unknown_or_malformed_assessment_is_404(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    assert client.get("/api/v1/fraud/assessments/nope", headers=manager).status_code == 404
    assert client.post("/api/v1/fraud/assessments/0190d2d0-0000-7000-8000-000000000000/dismiss",
                       headers=manager).status_code == 404
