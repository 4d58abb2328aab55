"""A visitor clicks a tracking link: the click is stored, then the visitor lands on the offer."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from starlette.testclient import TestClient

from clickledger.runtime import Runtime
from clickledger.store import tables as t

from .conftest import ClientFactory, Programme, click_rows, seed_programme


def test_a_click_is_recorded_and_redirected_with_its_click_id_and_subs(
    runtime: Runtime, programme: Programme, client: TestClient
) -> None:
    response = client.get(
        "/c/spring?sub1=fb%20ads&sub2=creative-7&gclid=abc&utm_source=x",
        headers={"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
                 "referer": "https://news.example/article", "accept-language": "de-DE,de;q=0.9"},
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.hostname, location.path) == (
        "https", "www.brand.example", "/welcome")
    query = parse_qs(location.query)
    (row,) = click_rows(runtime.engine)
    assert query == {"cid": [row.id], "s1": ["fb ads"], "aff": [programme.affiliate_id]}
    assert (row.link_id, row.affiliate_id, row.offer_id) == (
        programme.link_id, programme.affiliate_id, programme.offer_id)
    assert (row.sub1, row.sub2, row.sub3) == ("fb ads", "creative-7", None)
    assert row.extra == {"gclid": "abc", "utm_source": "x"}
    assert row.ip == "8.8.8.8" and row.country == "US"
    assert row.referrer == "https://news.example/article"
    assert row.accept_language == "de-DE,de;q=0.9"
    assert row.browser == "Chrome" and row.os == "Windows" and row.is_bot is False
    assert row.is_unique is True and row.enriched_at is not None
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"cl_vid={row.visitor_key};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=2592000" in cookie
    assert response.headers["cache-control"] == "no-store"


def test_the_link_default_subs_fill_in_what_the_query_leaves_out(
    runtime: Runtime, app_client: ClientFactory
) -> None:
    seed_programme(runtime.engine, code="withsubs",
                   link_subs={"sub1": "newsletter", "sub2": "jan"})
    response = app_client().get("/c/withsubs?sub2=override")
    assert response.status_code == 302
    assert "s1=newsletter" in response.headers["location"]
    (row,) = click_rows(runtime.engine)
    assert (row.sub1, row.sub2) == ("newsletter", "override")


def test_macro_values_are_url_encoded_so_they_cannot_add_parameters(
    runtime: Runtime, client: TestClient
) -> None:
    response = client.get("/c/spring", params={"sub1": "a&b=c#frag /?x"})
    location = response.headers["location"]
    assert "s1=a%26b%3Dc%23frag%20%2F%3Fx" in location
    assert parse_qs(urlsplit(location).query)["s1"] == ["a&b=c#frag /?x"]


def test_an_unknown_link_answers_404_and_records_nothing(
    runtime: Runtime, client: TestClient
) -> None:
    response = client.get("/c/nope")
    assert response.status_code == 404
    assert client.get("/c/" + "x" * 5000).status_code == 404
    assert click_rows(runtime.engine) == []


def test_a_paused_link_sends_the_visitor_to_the_brand_fallback(
    runtime: Runtime, app_client: ClientFactory
) -> None:
    seed_programme(runtime.engine, code="paused", link_status="paused",
                   fallback_url="https://brand.example/")
    seed_programme(runtime.engine, code="pausednofb", link_status="paused")
    client = app_client()
    response = client.get("/c/paused?sub1=x")
    assert response.status_code == 302
    assert response.headers["location"] == "https://brand.example/"
    assert client.get("/c/pausednofb").status_code == 404
    assert click_rows(runtime.engine) == []


def test_a_landing_outside_the_allowed_domains_is_never_redirected_to(
    runtime: Runtime, app_client: ClientFactory
) -> None:
    seed_programme(runtime.engine, code="evil", landing="https://evil.example/?c={click_id}",
                   allowed_domains=["brand.example"])
    seed_programme(runtime.engine, code="userinfo",
                   landing="https://brand.example@evil.example/", allowed_domains=["brand.example"])
    seed_programme(runtime.engine, code="lookalike", landing="https://notbrand.example/",
                   allowed_domains=["brand.example"])
    seed_programme(runtime.engine, code="js", landing="javascript:alert(1)//brand.example/",
                   allowed_domains=["brand.example"])
    client = app_client()
    for code in ("evil", "userinfo", "lookalike", "js"):
        assert client.get(f"/c/{code}").status_code == 404, code
    assert click_rows(runtime.engine) == []


def test_a_sub_id_in_the_landing_host_cannot_move_it_off_the_allowed_domain(
    runtime: Runtime, app_client: ClientFactory
) -> None:
    seed_programme(runtime.engine, code="geo", landing="https://{sub1}.brand.example/x",
                   allowed_domains=["brand.example"])
    client = app_client()
    assert client.get("/c/geo?sub1=de").headers["location"] == "https://de.brand.example/x"
    response = client.get("/c/geo", params={"sub1": "evil.example/"})
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert urlsplit(response.headers["location"]).hostname.endswith(".brand.example")
    response = client.get("/c/geo", params={"sub1": "evil.example#"})
    assert urlsplit(response.headers.get("location", "https://x.brand.example")).hostname.endswith(
        "brand.example")


def test_only_get_and_head_are_allowed(runtime: Runtime, client: TestClient) -> None:
    response = client.post("/c/spring")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_head_shows_the_target_without_recording_a_click(
    runtime: Runtime, client: TestClient
) -> None:
    response = client.head("/c/spring?sub1=preview")
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://www.brand.example/welcome?cid=&s1=preview")
    assert click_rows(runtime.engine) == []


def test_a_returning_visitor_counts_as_a_click_but_not_a_unique_click(
    runtime: Runtime, client: TestClient
) -> None:
    first = client.get("/c/spring?sub1=a", headers={"user-agent": "Firefox/1"})
    visitor = first.cookies["cl_vid"]
    # The cookie comes back (the client's jar) with the same IP and user agent: the fingerprint
    # recognises the visitor, and from now on its cookie is remembered too.
    second = client.get("/c/spring?sub1=a", headers={"user-agent": "Firefox/1"})
    assert second.headers["set-cookie"].startswith(f"cl_vid={visitor};")
    # Same cookie, another user agent: the cookie recognises it.
    client.get("/c/spring?sub1=a", headers={"user-agent": "Firefox/2"})
    # No cookie, same IP and user agent as the last click: the fingerprint recognises it.
    client.cookies.clear()
    fourth = client.get("/c/spring?sub1=a", headers={"user-agent": "Firefox/2"})
    assert not fourth.headers["set-cookie"].startswith(f"cl_vid={visitor};")
    # A new visitor.
    client.cookies.clear()
    client.get("/c/spring?sub1=a", headers={"user-agent": "Safari/3"})
    rows = click_rows(runtime.engine)
    assert [row.is_unique for row in rows] == [True, False, False, False, True]
    with runtime.engine.connect() as conn:
        counts = conn.execute(sa.select(
            t.click_rollups_hourly.c.clicks, t.click_rollups_hourly.c.unique_clicks)).all()
    assert counts == [(5, 2)]


def test_a_paused_link_stops_redirecting_after_the_cache_refresh(
    runtime: Runtime, programme: Programme, app_client: ClientFactory
) -> None:
    client = app_client()
    assert client.get("/c/spring").status_code == 302
    with runtime.engine.begin() as conn:
        conn.execute(sa.update(t.tracking_links).values(status="paused"))
    tracking_cache = _link_cache(client)
    client.portal.call(tracking_cache.refresh)  # type: ignore[union-attr]
    assert client.get("/c/spring").status_code == 404
    assert len(click_rows(runtime.engine)) == 1


def _link_cache(client: TestClient):  # type: ignore[no-untyped-def]
    handler = client.app.hot.match("/c/x")  # type: ignore[attr-defined]
    return handler.app._links  # the click handler, behind its per-address limit (ClickLimit)
