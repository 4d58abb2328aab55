"""Affiliates see only their own tree; every change through the API leaves an audit row."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.http.conftest import World


def _ids(response_json: dict[str, object]) -> set[str]:
    return {item["id"] for item in response_json["items"]}  # type: ignore[attr-defined, index]


def test_an_affiliate_sees_itself_and_its_sub_but_not_another_affiliate(
    client: TestClient, world: World
) -> None:
    alice = world.headers("affiliate_a")
    listed = client.get("/api/v1/affiliates", headers=alice).json()
    assert _ids(listed) == {world.affiliate_a, world.affiliate_a_sub}
    sub = client.get(f"/api/v1/affiliates/{world.affiliate_a_sub}", headers=alice)
    assert sub.status_code == 200
    assert client.get(f"/api/v1/affiliates/{world.affiliate_b}", headers=alice).status_code == 404
    bob = client.get("/api/v1/affiliates", headers=world.headers("affiliate_b")).json()
    assert _ids(bob) == {world.affiliate_b}
    staff = client.get("/api/v1/affiliates", headers=world.headers("finance")).json()
    assert _ids(staff) == {world.affiliate_a, world.affiliate_a_sub, world.affiliate_b}


def test_a_parent_does_not_see_its_subs_payment_details(client: TestClient, world: World) -> None:
    alice = world.headers("affiliate_a")
    own = client.get(f"/api/v1/affiliates/{world.affiliate_a}", headers=alice).json()
    sub = client.get(f"/api/v1/affiliates/{world.affiliate_a_sub}", headers=alice).json()
    assert own["payment_details"]["iban"] == "DE89370400440532013000"
    assert sub["payment_details"] is None and sub["payment_method"] is None
    staff = client.get(f"/api/v1/affiliates/{world.affiliate_a_sub}",
                       headers=world.headers("finance")).json()
    assert staff["payment_method"] == "bank"


def test_links_and_promo_codes_are_listed_only_for_the_visible_tree(
    client: TestClient, world: World
) -> None:
    alice, bob = world.headers("affiliate_a"), world.headers("affiliate_b")
    assert _ids(client.get("/api/v1/tracking-links", headers=alice).json()) == {world.link_a}
    assert _ids(client.get("/api/v1/tracking-links", headers=bob).json()) == {world.link_b}
    filtered = client.get(f"/api/v1/tracking-links?affiliate_id={world.affiliate_b}",
                          headers=alice).json()
    assert filtered["items"] == []
    assert _ids(client.get("/api/v1/promo-codes", headers=alice).json()) == {world.promo_a}
    assert client.get("/api/v1/promo-codes", headers=bob).json()["items"] == []
    assert client.get(f"/api/v1/tracking-links/{world.link_b}", headers=alice).status_code == 404
    patch_other = client.patch(f"/api/v1/tracking-links/{world.link_b}", headers=alice,
                               json={"status": "paused"})
    assert patch_other.status_code == 404


def test_a_sub_affiliates_links_are_visible_to_its_parent_not_the_reverse(
    client: TestClient, world: World
) -> None:
    manager = world.headers("manager")
    sub_key = client.post("/api/v1/api-keys", headers=manager, json={
        "role": "affiliate", "name": "alice sub", "affiliate_id": world.affiliate_a_sub}).json()
    sub = {"Authorization": f"Bearer {sub_key['token']}"}
    created = client.post("/api/v1/tracking-links", headers=sub,
                          json={"affiliate_id": world.affiliate_a_sub, "offer_id": world.offer_id})
    assert created.status_code == 201
    link_id = created.json()["id"]
    alice = world.headers("affiliate_a")
    assert client.get(f"/api/v1/tracking-links/{link_id}", headers=alice).status_code == 200
    assert client.get(f"/api/v1/tracking-links/{world.link_a}", headers=sub).status_code == 404
    me = client.get("/api/v1/me", headers=sub).json()
    assert me["visible_affiliate_ids"] == [world.affiliate_a_sub]


def test_me_tells_the_caller_its_role_and_affiliate(client: TestClient, world: World) -> None:
    alice = client.get("/api/v1/me", headers=world.headers("affiliate_a")).json()
    assert (alice["role"], alice["affiliate_id"]) == ("affiliate", world.affiliate_a)
    assert set(alice["visible_affiliate_ids"]) == {world.affiliate_a, world.affiliate_a_sub}
    finance = client.get("/api/v1/me", headers=world.headers("finance")).json()
    assert (finance["role"], finance["affiliate_id"]) == ("finance", None)


def test_every_change_through_the_api_is_in_the_audit_log(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    manager_key = client.get("/api/v1/me", headers=manager).json()["key_id"]
    created = client.post("/api/v1/brands", headers=manager, json={
        "name": "FX Prime", "kind": "forex", "default_currency": "USD"}).json()
    client.patch(f"/api/v1/brands/{created['id']}", headers=manager,
                 json={"ngr_admin_fee_pct": "10"})
    client.patch(f"/api/v1/brands/{created['id']}", headers=manager,
                 json={"ngr_admin_fee_pct": "10"})  # no change: no second update row
    log = client.get(f"/api/v1/audit-log?entity=brand&entity_id={created['id']}",
                     headers=world.headers("finance")).json()["items"]
    assert [row["action"] for row in log] == ["create", "update"]
    assert all(row["actor"].startswith(f"api_key:{manager_key}") for row in log)
    assert log[0]["before"] is None and log[0]["after"]["name"] == "FX Prime"
    assert log[1]["before"]["ngr_admin_fee_pct"] == "0"
    assert log[1]["after"]["ngr_admin_fee_pct"] == "10"


def test_key_issue_and_revocation_are_audited_without_secrets(
    client: TestClient, world: World
) -> None:
    manager = world.headers("manager")
    issued = client.post("/api/v1/api-keys", headers=manager,
                         json={"role": "affiliate", "name": "bob's tracker",
                               "affiliate_id": world.affiliate_b}).json()
    assert issued["token"].startswith(f"cl_{issued['prefix']}_")
    client.post(f"/api/v1/api-keys/{issued['id']}/revoke", headers=manager)
    again = client.post(f"/api/v1/api-keys/{issued['id']}/revoke", headers=manager)
    assert again.status_code == 200 and again.json()["revoked_at"] is not None
    log = client.get(f"/api/v1/audit-log?entity=api_key&entity_id={issued['id']}",
                     headers=manager).json()["items"]
    assert [row["action"] for row in log] == ["create", "revoke"]
    listed = client.get("/api/v1/api-keys?revoked=true", headers=manager).json()["items"]
    assert [key["id"] for key in listed] == [issued["id"]]
    text = str(log) + str(client.get("/api/v1/api-keys", headers=manager).json())
    secret = issued["token"].split("_", 2)[2]
    assert secret not in text and "secret_hash" not in text and "token" not in text


def test_a_refused_change_writes_nothing(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    before = client.get("/api/v1/audit-log?limit=500", headers=manager).json()["items"]
    client.post("/api/v1/offers", headers=manager, json={
        "brand_id": world.brand_id, "name": "Bad", "landing_url": "https://evil.example/",
        "allowed_domains": ["lucky.example"]})
    client.patch(f"/api/v1/affiliates/{world.affiliate_a}", headers=manager,
                 json={"parent_id": world.affiliate_a_sub})
    after = client.get("/api/v1/audit-log?limit=500", headers=manager).json()["items"]
    assert after == before
    offers = client.get("/api/v1/offers", headers=manager).json()["items"]
    assert "Bad" not in {offer["name"] for offer in offers}


def test_the_openapi_document_lists_the_admin_api(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "/api/v1/brands" in document["paths"]
    assert "/api/v1/api-keys/{key_id}/revoke" in document["paths"]
    assert client.get("/docs").status_code == 200
