"""Bad input gets a clear 4xx with a machine-readable code and changes nothing, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.http.conftest import World

from clickledger.runtime import Runtime


def _detail_types(response: Any) -> set[str]:
    return {detail["type"] for detail in response.json()["error"]["details"] or []}


def _offer(w: World, **changes: Any) -> dict[str, Any]:
    return {"brand_id": w.brand_id, "name": "Spring", "allowed_domains": ["lucky.example"],
            "landing_url": "https://lucky.example/?c={click_id}&a={affiliate_id}", **changes}


def test_unknown_fields_are_refused_not_ignored(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/brands", headers=world.headers("manager"),
        json={"name": "X", "kind": "casino", "default_currency": "EUR", "owner": "me"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    assert "extra_forbidden" in _detail_types(response)


def test_an_affiliate_cannot_set_its_own_status_or_parent(client: TestClient, world: World) -> None:
    alice = world.headers("affiliate_a")
    for field, value in (("status", "active"), ("parent_id", world.affiliate_b),
                         ("email", "x@example.com"), ("payment_details", {"method": "bank"})):
        response = client.patch("/api/v1/me/affiliate", headers=alice, json={field: value})
        assert response.status_code == 422
        assert "extra_forbidden" in _detail_types(response)
    own = client.patch("/api/v1/me/affiliate", headers=alice, json={"name": "Alice Ltd"})
    assert own.status_code == 200
    assert (own.json()["name"], own.json()["status"]) == ("Alice Ltd", "active")


def test_payment_details_set_by_a_manager_are_checked(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    bad = client.patch(f"/api/v1/affiliates/{world.affiliate_b}", headers=manager, json={
        "payment_details": {"method": "bank", "account_holder": "Bob",
                            "iban": "DE00000000000000000000", "bic": "COBADEFFXXX"}})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_iban")
    good = client.patch(f"/api/v1/affiliates/{world.affiliate_b}", headers=manager, json={
        "payment_details": {"method": "ewallet", "provider": "skrill",
                            "account_id": "bob@example.com"}})
    assert good.status_code == 200, good.text
    assert good.json()["payment_method"] == "ewallet"


def test_an_unknown_currency_is_refused(client: TestClient, world: World) -> None:
    for currency in ("XXX", "euro", "", "E1"):
        response = client.post(
            "/api/v1/affiliates", headers=world.headers("manager"),
            json={"name": "C", "email": "c@example.com", "payout_currency": currency},
        )
        assert response.status_code == 422
        assert "unknown_currency" in _detail_types(response)


def test_a_currency_is_normalised_to_upper_case(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/brands", headers=world.headers("manager"),
        json={"name": "FX One", "kind": "forex", "default_currency": " usd ",
              "ngr_admin_fee_pct": "2.50"},
    )
    assert response.status_code == 201
    assert response.json()["default_currency"] == "USD"
    assert response.json()["ngr_admin_fee_pct"] == "2.5"


def test_an_admin_fee_outside_0_to_100_percent_is_refused(
    client: TestClient, world: World
) -> None:
    for fee in ("101", "-1", "abc", "NaN", "1.23456"):
        response = client.patch(f"/api/v1/brands/{world.brand_id}",
                                headers=world.headers("manager"), json={"ngr_admin_fee_pct": fee})
        assert response.status_code == 422
        assert "invalid_percent" in _detail_types(response)


def test_an_admin_fee_sent_as_a_json_number_is_a_type_error(
    client: TestClient, world: World
) -> None:
    response = client.patch(f"/api/v1/brands/{world.brand_id}",
                            headers=world.headers("manager"), json={"ngr_admin_fee_pct": 2.5})
    assert response.status_code == 422
    assert "string_type" in _detail_types(response)


def test_a_landing_url_outside_the_allowed_domains_is_refused(
    client: TestClient, world: World
) -> None:
    manager = world.headers("manager")
    off_domain = client.post("/api/v1/offers", headers=manager,
                             json=_offer(world, landing_url="https://evil.example/?c={click_id}"))
    assert off_domain.status_code == 422
    assert off_domain.json()["error"]["code"] == "domain_not_allowed"
    narrowed = client.patch(f"/api/v1/offers/{world.offer_id}", headers=manager,
                            json={"allowed_domains": ["other.example"]})
    assert narrowed.status_code == 422
    assert narrowed.json()["error"]["code"] == "domain_not_allowed"
    sub = client.post("/api/v1/offers", headers=manager, json=_offer(
        world, landing_url="https://m.lucky.example/", allowed_domains=["*.lucky.example"]))
    assert sub.status_code == 201


BAD_LANDING_URLS = [
        ("javascript:alert(1)", "url_scheme_not_allowed"),
        ("ftp://lucky.example/file", "url_scheme_not_allowed"),
        ("//lucky.example/", "url_scheme_not_allowed"),
        ("https://lucky.example/?c={cookie}", "unknown_macro"),
        ("https://{sub1}.example/", "invalid_url"),
        ("https://user@lucky.example/", "invalid_url"),
        ("https://lucky.example/ space", "invalid_url"),
        ("https://lucky.example:99999/", "invalid_url"),
]


def test_a_malformed_landing_url_is_refused_with_its_reason(
    client: TestClient, world: World
) -> None:
    for url, code in BAD_LANDING_URLS:
        response = client.post("/api/v1/offers", headers=world.headers("manager"),
                               json=_offer(world, landing_url=url))
        assert response.status_code == 422
        assert code in _detail_types(response), url


def test_a_fallback_url_must_be_http_and_macro_free(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    for url in ("data:text/html,hi", "https://lucky.example/{click_id}"):
        response = client.patch(f"/api/v1/brands/{world.brand_id}", headers=manager,
                                json={"fallback_url": url})
        assert response.status_code == 422


def test_unknown_foreign_keys_name_what_is_missing(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    ghost = "01900000-0000-7000-8000-000000000000"
    cases = [
        ("/api/v1/offers", _offer(world, brand_id=ghost), "unknown_brand"),
        ("/api/v1/affiliates", {"name": "N", "email": "n@example.com", "payout_currency": "EUR",
                                "parent_id": ghost}, "unknown_parent"),
        ("/api/v1/tracking-links", {"affiliate_id": ghost, "offer_id": world.offer_id},
         "unknown_affiliate"),
        ("/api/v1/tracking-links", {"affiliate_id": world.affiliate_a, "offer_id": ghost},
         "unknown_offer"),
        ("/api/v1/promo-codes", {"code": "GHOST", "affiliate_id": world.affiliate_a,
                                 "brand_id": ghost}, "unknown_brand"),
        ("/api/v1/api-keys", {"role": "affiliate", "name": "k", "affiliate_id": ghost},
         "unknown_affiliate"),
        ("/api/v1/api-keys", {"role": "integration", "name": "k", "integration_id": ghost},
         "unknown_integration"),
    ]
    for path, body, code in cases:
        response = client.post(path, headers=manager, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code), path


def test_a_key_scope_must_fit_its_role(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    cases = [
        ({"role": "affiliate", "name": "k"}, "affiliate_id_required"),
        ({"role": "finance", "name": "k", "affiliate_id": world.affiliate_a},
         "affiliate_id_not_allowed"),
        ({"role": "integration", "name": "k"}, "integration_id_required"),
    ]
    for body, code in cases:
        response = client.post("/api/v1/api-keys", headers=manager, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (422, code)


def test_a_cycle_in_the_affiliate_tree_is_refused(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    onto_own_sub = client.patch(f"/api/v1/affiliates/{world.affiliate_a}", headers=manager,
                                json={"parent_id": world.affiliate_a_sub})
    assert onto_own_sub.status_code == 422
    assert onto_own_sub.json()["error"]["code"] == "affiliate_cycle"
    onto_itself = client.patch(f"/api/v1/affiliates/{world.affiliate_a}", headers=manager,
                               json={"parent_id": world.affiliate_a})
    assert onto_itself.json()["error"]["code"] == "affiliate_cycle"
    allowed = client.patch(f"/api/v1/affiliates/{world.affiliate_b}", headers=manager,
                           json={"parent_id": world.affiliate_a_sub})
    assert allowed.status_code == 200
    back = client.patch(f"/api/v1/affiliates/{world.affiliate_a}", headers=manager,
                        json={"parent_id": world.affiliate_b})
    assert back.json()["error"]["code"] == "affiliate_cycle"


def test_an_affiliate_tree_deeper_than_ten_levels_is_refused(
    client: TestClient, world: World
) -> None:
    manager = world.headers("manager")
    parent = world.affiliate_a_sub  # level 1 under A
    for level in range(2, 11):
        response = client.post("/api/v1/affiliates", headers=manager, json={
            "name": f"L{level}", "email": f"l{level}@example.com", "payout_currency": "EUR",
            "parent_id": parent})
        assert response.status_code == 201, response.text
        parent = response.json()["id"]
    too_deep = client.post("/api/v1/affiliates", headers=manager, json={
        "name": "L11", "email": "l11@example.com", "payout_currency": "EUR", "parent_id": parent})
    assert too_deep.status_code == 422
    assert too_deep.json()["error"]["code"] == "tree_too_deep"


def test_duplicate_codes_names_and_emails_are_409(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    cases = [
        ("/api/v1/tracking-links", {"affiliate_id": world.affiliate_a,
                                    "offer_id": world.offer_id, "code": "alice-1"}),
        ("/api/v1/promo-codes", {"code": "alice100", "affiliate_id": world.affiliate_b,
                                 "brand_id": world.brand_id}),
        ("/api/v1/brands", {"name": "Lucky Casino", "kind": "casino", "default_currency": "EUR"}),
        ("/api/v1/affiliates", {"name": "A2", "email": "ALICE@example.com",
                                "payout_currency": "EUR"}),
    ]
    for path, body in cases:
        response = client.post(path, headers=manager, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (409, "conflict"), path
    rename = client.patch(f"/api/v1/affiliates/{world.affiliate_b}", headers=manager,
                          json={"email": "alice@example.com"})
    assert rename.status_code == 409


def test_generated_link_codes_are_url_safe_and_unique(client: TestClient, world: World) -> None:
    codes = set()
    for _ in range(20):
        response = client.post("/api/v1/tracking-links", headers=world.headers("affiliate_a"),
                               json={"affiliate_id": world.affiliate_a, "offer_id": world.offer_id})
        assert response.status_code == 201
        code = response.json()["code"]
        assert code.replace("-", "").replace("_", "").isalnum()
        codes.add(code)
    assert len(codes) == 20


def test_promo_codes_are_stored_upper_case(client: TestClient, world: World) -> None:
    response = client.post("/api/v1/promo-codes", headers=world.headers("manager"), json={
        "code": "summer-25", "affiliate_id": world.affiliate_b, "brand_id": world.brand_id,
        "offer_id": world.offer_id})
    assert response.status_code == 201
    assert response.json()["code"] == "SUMMER-25"


def test_a_malformed_id_in_a_path_is_a_plain_404(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    for bad_id in ("not-a-uuid", "1", "' or 1=1 --", "0" * 300):
        for path in ("brands", "offers", "affiliates", "tracking-links", "promo-codes"):
            response = client.get(f"/api/v1/{path}/{bad_id}", headers=manager)
            assert response.status_code == 404, path
            patched = client.patch(f"/api/v1/{path}/{bad_id}", headers=manager, json={})
            assert patched.status_code == 404, path
        revoke = client.post(f"/api/v1/api-keys/{bad_id}/revoke", headers=manager)
        assert revoke.status_code == 404


def test_a_malformed_id_in_a_body_or_filter_is_422(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    body = client.post("/api/v1/offers", headers=manager, json=_offer(world, brand_id="nope"))
    assert body.status_code == 422
    assert "invalid_id" in _detail_types(body)
    query = client.get("/api/v1/offers?brand_id=nope", headers=manager)
    assert query.status_code == 422


def test_oversize_strings_and_wrong_types_are_refused(client: TestClient, world: World) -> None:
    manager = world.headers("manager")
    cases = [
        ("/api/v1/brands", {"name": "x" * 201, "kind": "casino", "default_currency": "EUR"},
         "string_too_long"),
        ("/api/v1/brands", {"name": "", "kind": "casino", "default_currency": "EUR"},
         "string_too_short"),
        ("/api/v1/brands", {"name": "K", "kind": "bingo", "default_currency": "EUR"},
         "literal_error"),
        ("/api/v1/brands", {"name": 7, "kind": "casino", "default_currency": "EUR"},
         "string_type"),
        ("/api/v1/brands", {"name": "K", "kind": "casino", "default_currency": "EUR",
                            "ngr_deduct_bonuses": "maybe"}, "bool_parsing"),
        ("/api/v1/tracking-links", {"affiliate_id": world.affiliate_a,
                                    "offer_id": world.offer_id, "sub1": "s" * 256},
         "string_too_long"),
        ("/api/v1/tracking-links", {"affiliate_id": world.affiliate_a,
                                    "offer_id": world.offer_id, "code": "has space"},
         "string_pattern_mismatch"),
        ("/api/v1/offers", _offer(world, landing_url="https://lucky.example/" + "a" * 2000),
         "string_too_long"),
    ]
    for path, body, kind in cases:
        response = client.post(path, headers=manager, json=body)
        assert response.status_code == 422, (path, body)
        assert kind in _detail_types(response), (kind, response.json())
    not_json = client.post("/api/v1/brands", headers={**manager, "content-type":
                           "application/json"}, content=b"{not json")
    assert not_json.status_code == 422
    as_list = client.post("/api/v1/brands", headers=manager, json=[1, 2])
    assert as_list.status_code == 422


def test_null_is_refused_for_a_field_that_cannot_be_empty(client: TestClient, world: World) -> None:
    response = client.patch(f"/api/v1/brands/{world.brand_id}",
                            headers=world.headers("manager"), json={"name": None})
    assert response.status_code == 422
    assert "null_not_allowed" in _detail_types(response)


def test_an_affiliate_may_link_only_active_offers_for_its_own_tree(
    client: TestClient, world: World
) -> None:
    alice = world.headers("affiliate_a")
    paused = client.post(
        "/api/v1/tracking-links", headers=alice,
        json={"affiliate_id": world.affiliate_a, "offer_id": world.paused_offer_id})
    assert paused.json()["error"]["code"] == "offer_not_active"
    for_sub = client.post("/api/v1/tracking-links", headers=alice,
                          json={"affiliate_id": world.affiliate_a_sub, "offer_id": world.offer_id})
    assert for_sub.status_code == 201
    for_bob = client.post("/api/v1/tracking-links", headers=alice,
                          json={"affiliate_id": world.affiliate_b, "offer_id": world.offer_id})
    assert for_bob.json()["error"]["code"] == "unknown_affiliate"


def test_page_size_is_bounded_and_cursors_walk_every_row_once(
    client: TestClient, world: World, runtime: Runtime
) -> None:
    manager = world.headers("manager")
    maximum = runtime.settings.api_page_size_max
    too_big = client.get(f"/api/v1/affiliates?limit={maximum + 1}", headers=manager)
    assert (too_big.status_code, too_big.json()["error"]["code"]) == (422, "limit_too_large")
    assert client.get("/api/v1/affiliates?limit=0", headers=manager).status_code == 422
    assert client.get("/api/v1/affiliates?limit=abc", headers=manager).status_code == 422
    bad_cursor = client.get("/api/v1/affiliates?cursor=zzz", headers=manager)
    assert bad_cursor.json()["error"]["code"] == "invalid_cursor"
    for n in range(4):
        client.post("/api/v1/affiliates", headers=manager,
                    json={"name": f"P{n}", "email": f"p{n}@example.com", "payout_currency": "EUR"})
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = f"/api/v1/affiliates?limit=2{f'&cursor={cursor}' if cursor else ''}"
        page = client.get(query, headers=manager).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7  # A, A's sub, B and the four new ones
    assert pages == 4
    active = client.get("/api/v1/affiliates?status=pending", headers=manager).json()
    assert {item["name"] for item in active["items"]} == {"P0", "P1", "P2", "P3"}
