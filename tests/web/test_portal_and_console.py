"""People sign in and out, forms need their CSRF token, attacker-controlled text is escaped,
an affiliate never reaches another's pages, and every page shows the report API's numbers."""

from __future__ import annotations

import csv
import io
import re

import sqlalchemy as sa
from tests.web.conftest import EMAILS, PASSWORD, Site

from clickledger.services import deals
from clickledger.services import reports as report_service
from clickledger.store import tables as t

EVIL_SUB = "<script>alert('sub')</script>"
EVIL_UA = "<script>alert('ua')</script> Mozilla/5.0"
EVIL_REF = "https://x.example/<script>alert('ref')</script>"
EVIL_PLAYER = "<script>alert('player')</script>"


def _cpa_deal_for_alice(site: Site) -> None:
    runtime = site.world.runtime
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        deal = deals.create_deal(conn, name="Alice CPA", brand_id=site.world.brand_id,
                                 kind="cpa", currency="EUR",
                                 terms={"amount": "150", "qualification": {"min_ftd": "50"}},
                                 effective_from=None, actor="test", now=now)
        deals.assign(conn, deal_id=str(deal["id"]), affiliate_id=site.world.affiliate_a,
                     overrides=None, effective_from=None, actor="test", now=now)


def _traffic(site: Site) -> None:
    """Alice: 3 clicks (one carrying hostile text), 2 registrations, 1 FTD of EUR 100
    qualifying a EUR 150 CPA; Bob: 1 click."""
    _cpa_deal_for_alice(site)
    evil = site.click("alice-1", ua=EVIL_UA, referrer=EVIL_REF, sub1=EVIL_SUB, sub2=EVIL_SUB)
    plain = site.click("alice-1", sub1="spring", ip="1.1.1.1")
    site.click("alice-1", sub1="spring", ua="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac "
               "OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1")
    site.click("bob-1", sub1="bob")
    site.postback(event="registration", txn_id="r1", player_id=EVIL_PLAYER, click_id=evil)
    site.postback(event="registration", txn_id="r2", player_id="p2", click_id=plain)
    site.postback(event="ftd", txn_id="f1", player_id=EVIL_PLAYER, amount="100",
                  currency="EUR")


def test_signing_in_opens_the_right_area_and_signing_out_ends_the_session(site: Site) -> None:
    client = site.client
    assert client.get("/portal", follow_redirects=False).headers["location"].startswith(
        "/login")
    site.sign_in("affiliate_a")
    assert client.get("/").headers.get("content-type", "").startswith("text/html")
    assert client.get("/", follow_redirects=False).headers["location"] == "/portal"
    assert client.get("/portal").status_code == 200
    assert client.get("/console").status_code == 404  # the other area does not exist for her
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/portal").text)
    assert token is not None
    stolen = dict(client.cookies)
    out = client.post("/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.update(stolen)  # the old cookie is dead server-side, not just deleted
    assert client.get("/portal", follow_redirects=False).status_code == 303
    site.sign_in("manager")
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"
    assert client.get("/portal").status_code == 404


def test_a_wrong_password_or_a_missing_login_token_does_not_sign_in(site: Site) -> None:
    client = site.client
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    wrong = client.post("/login", data={"email": EMAILS["manager"], "password": "nope-nope-1",
                                        "csrf_token": token.group(1)}, follow_redirects=False)
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    client.cookies.clear()
    forged = client.post("/login", data={"email": EMAILS["manager"], "password": PASSWORD,
                                         "csrf_token": "made-up"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "cl_session" not in client.cookies


def test_a_form_post_without_its_csrf_token_changes_nothing(site: Site) -> None:
    client = site.sign_in("affiliate_a")
    before = _count_links(site)
    forged = client.post("/portal/links", data={"offer_id": site.world.offer_id, "sub1": "x",
                                                "csrf_token": "guess"}, follow_redirects=False)
    assert forged.status_code == 403
    assert _count_links(site) == before
    page = client.get("/portal/links").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    made = client.post("/portal/links", data={"offer_id": site.world.offer_id, "sub1": "x",
                                              "sub3": "<i>", "csrf_token": token.group(1)},
                       follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].startswith("/portal/links/")
    assert _count_links(site) == before + 1
    detail = client.get(made.headers["location"]).text
    assert "&lt;i&gt;" in detail and "<i>" not in detail
    assert 'class="copy"' in detail


def _count_links(site: Site) -> int:
    with site.world.runtime.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.tracking_links))
                   .scalar_one())


def test_sub_ids_user_agents_referrers_and_player_ids_are_escaped_everywhere(
        site: Site) -> None:
    _traffic(site)
    pages = []
    alice = site.sign_in("affiliate_a")
    for path in ("/portal", "/portal/breakdown?by=sub1", "/portal/breakdown?by=sub2",
                 "/portal/breakdown?by=device", "/portal/players", "/portal/links"):
        pages.append(alice.get(path).text)
    boss = site.sign_in("manager")
    for path in ("/console/players", "/console/breakdown?by=sub1", "/console/audit",
                 "/console/integrations"):
        pages.append(boss.get(path).text)
    joined = "\n".join(pages)
    assert "<script>alert" not in joined
    assert "&lt;script&gt;alert(&#39;sub&#39;)&lt;/script&gt;" in joined
    assert "&lt;script&gt;alert(&#39;player&#39;)&lt;/script&gt;" in joined  # manager's view


def test_affiliate_b_gets_404_on_alices_pages(site: Site) -> None:
    world = site.world
    bob = site.sign_in("affiliate_b")
    for path in (f"/portal/affiliates/{world.affiliate_a}",
                 f"/portal/affiliates/{world.affiliate_a_sub}",
                 f"/portal?affiliate_id={world.affiliate_a}",
                 f"/portal/breakdown?by=sub1&affiliate_id={world.affiliate_a}",
                 f"/portal/breakdown.csv?affiliate_id={world.affiliate_a}",
                 f"/portal/players?affiliate_id={world.affiliate_a}",
                 f"/portal/links/{world.link_a}",
                 f"/portal/statement?affiliate_id={world.affiliate_a}&month=2026-01",
                 "/portal/affiliates/not-an-id"):
        assert bob.get(path).status_code == 404, path
    api = site.client.get(f"/api/v1/reports/dashboard?affiliate_id={world.affiliate_a}",
                          headers=world.headers("affiliate_b"))
    assert api.status_code == 404
    alice = site.sign_in("affiliate_a")
    assert alice.get(f"/portal/affiliates/{world.affiliate_a_sub}").status_code == 200
    assert alice.get(f"/portal/links/{world.link_a}").status_code == 200
    assert alice.get(f"/portal/links/{world.link_b}").status_code == 404


def _shown(html: str, metric: str) -> str:
    found = re.search(rf'data-metric="{metric}">([^<]*)<', html)
    assert found is not None, metric
    return found.group(1)


def test_dashboard_numbers_equal_the_report_api_and_the_hand_worked_figures(
        site: Site) -> None:
    _traffic(site)
    world = site.world
    api = site.client.get("/api/v1/reports/dashboard?period=today",
                          headers=world.headers("affiliate_a")).json()["totals"]
    # Alice's tree: 3 clicks (3 visitors), 2 registrations, 1 FTD EUR 100, 1 CPA EUR 150.
    assert (api["clicks"], api["unique_clicks"], api["registrations"], api["ftds"],
            api["qualified_cpas"]) == (3, 3, 2, 1, 1)
    assert api["deposits"] == {"EUR": "100.00"} and api["commission"] == {"EUR": "150.00"}
    assert api["registration_rate_pct"] == "66.67" and api["ftd_rate_pct"] == "50.00"
    page = site.sign_in("affiliate_a").get("/portal?period=today").text
    for metric in ("clicks", "unique_clicks", "registrations", "ftds", "qualified_cpas"):
        assert _shown(page, metric) == str(api[metric])
    assert _shown(page, "commission") == "EUR 150.00"
    assert _shown(page, "registration_rate_pct") == "66.67%"
    boss = site.client.get("/api/v1/reports/dashboard",
                           headers=world.headers("manager")).json()["totals"]
    assert boss["clicks"] == 4  # Bob's click too
    console = site.sign_in("manager").get("/console").text
    assert _shown(console, "clicks") == "4"


def test_breakdown_rows_sort_by_whitelisted_keys_and_export_safe_csv(site: Site) -> None:
    _traffic(site)
    world = site.world
    api = site.client.get("/api/v1/reports/breakdown?by=sub1&sort=clicks&order=desc",
                          headers=world.headers("affiliate_a")).json()
    assert [(r["value"], r["clicks"], r["registrations"]) for r in api["rows"]] == [
        ("spring", 2, 1), (EVIL_SUB, 1, 1)]
    bad = site.client.get("/api/v1/reports/breakdown?by=sub1&sort=clicks;drop",
                          headers=world.headers("affiliate_a"))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_sort_key"
    alice = site.sign_in("affiliate_a")
    html = alice.get("/portal/breakdown?by=sub1&sort=clicks&order=asc").text
    values = re.findall(r'<tr data-value="([^"]*)">', html)
    assert values == ["&lt;script&gt;alert(&#39;sub&#39;)&lt;/script&gt;", "spring"]
    exported = alice.get("/portal/breakdown.csv?by=sub1").text
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0][:3] == ["sub1", "label", "clicks"]
    site.click("alice-1", sub1="=HYPERLINK(\"http://evil\")")
    exported = alice.get("/portal/breakdown.csv?by=sub1").text
    cells = [row[0] for row in csv.reader(io.StringIO(exported))]
    assert "'=HYPERLINK(\"http://evil\")" in cells
    assert not any(cell.startswith("=") for cell in cells)


def test_breakdowns_by_brand_offer_link_country_and_device_add_up_to_the_dashboard(
        site: Site) -> None:
    _traffic(site)
    headers = site.world.headers("affiliate_a")
    totals = site.client.get("/api/v1/reports/dashboard", headers=headers).json()["totals"]
    for by in ("day", "hour", "brand", "offer", "link", "country", "sub1"):
        rows = site.client.get(f"/api/v1/reports/breakdown?by={by}",
                               headers=headers).json()["rows"]
        for metric in ("clicks", "registrations", "ftds", "qualified_cpas"):
            assert sum(r[metric] for r in rows) == totals[metric], (by, metric)
    for by in ("sub2", "device"):  # events carry every dimension of their click
        rows = site.client.get(f"/api/v1/reports/breakdown?by={by}",
                               headers=headers).json()["rows"]
        assert sum(r["registrations"] for r in rows) == totals["registrations"], by


def test_the_player_list_shows_pseudonyms_to_affiliates_and_explains_commission(
        site: Site) -> None:
    _traffic(site)
    items = site.client.get("/api/v1/reports/players",
                            headers=site.world.headers("affiliate_a")).json()["items"]
    assert len(items) == 2 and all("operator_player_id" not in i for i in items)
    paid = [i for i in items if i["commission"]]
    assert paid[0]["commission"] == {"EUR": "150.00"} and paid[0]["explanations"]
    assert paid[0]["pseudonym"].startswith("P-")
    html = site.sign_in("affiliate_a").get("/portal/players").text
    assert paid[0]["pseudonym"] in html and "p2" not in html


def test_console_pages_open_for_managers_and_finance(site: Site) -> None:
    _traffic(site)
    paths = ("/console", "/console/breakdown?by=country", "/console/players",
             "/console/affiliates", "/console/links", "/console/postbacks", "/console/fraud",
             "/console/reconciliation", "/console/payouts", "/console/integrations",
             "/console/audit", f"/console/affiliates/{site.world.affiliate_b}")
    for role in ("manager", "finance"):
        client = site.sign_in(role)
        for path in paths:
            assert client.get(path).status_code == 200, (role, path)
    alice = site.sign_in("affiliate_a")
    for path in ("/portal/postbacks", "/portal/sub-affiliates", "/portal/payouts",
                 "/portal/statement?month=2026-01", "/static/app.css"):
        assert alice.get(path).status_code == 200, path


def test_a_manager_approves_a_pending_affiliate_with_a_csrf_checked_form(site: Site) -> None:
    runtime = site.world.runtime
    with runtime.engine.begin() as conn:
        conn.execute(t.affiliates.update().where(t.affiliates.c.id == site.world.affiliate_b)
                     .values(status="pending"))
    boss = site.sign_in("manager")
    page = boss.get("/console/affiliates").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None and f"/console/affiliates/{site.world.affiliate_b}/approve" in page
    url = f"/console/affiliates/{site.world.affiliate_b}/approve"
    assert boss.post(url, data={"csrf_token": "x"}).status_code == 403
    done = boss.post(url, data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303
    with runtime.engine.connect() as conn:
        status = conn.execute(sa.select(t.affiliates.c.status).where(
            t.affiliates.c.id == site.world.affiliate_b)).scalar_one()
    assert status == "active"


def test_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    assert report_service.safe_cell("=1+1") == "'=1+1"
    assert report_service.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert report_service.safe_cell("spring") == "spring"


def test_closed_hours_are_folded_once_and_their_numbers_do_not_change(site: Site) -> None:
    from datetime import timedelta  # noqa: PLC0415

    from clickledger.store import reports as report_store  # noqa: PLC0415

    _traffic(site)
    headers = site.world.headers("manager")
    day = "period=range&start=2026-01-01&end=2026-01-01"
    before = site.client.get(f"/api/v1/reports/dashboard?{day}", headers=headers).json()
    by_sub = site.client.get(f"/api/v1/reports/breakdown?by=sub1&{day}", headers=headers).json()
    runtime = site.world.runtime
    runtime.clock.advance(timedelta(days=1, minutes=10))  # type: ignore[attr-defined]
    while True:  # a report request folds a few closed hours at a time
        with runtime.engine.begin() as conn:
            if not report_store.fold_closed_click_hours(conn, runtime.clock.now()):
                break
    after = site.client.get(f"/api/v1/reports/dashboard?{day}", headers=headers).json()
    again = site.client.get(f"/api/v1/reports/breakdown?by=sub1&{day}", headers=headers).json()
    assert after["totals"] == before["totals"] and after["totals"]["clicks"] == 4
    assert after["series"] == before["series"]
    assert again["rows"] == by_sub["rows"]
    with runtime.engine.connect() as conn:
        through = report_store.folded_through(conn)
    assert through is not None and through.isoformat() == "2026-01-01T23:00:00+00:00"


def test_re_evaluating_events_does_not_count_commission_twice(site: Site) -> None:
    from clickledger.services.conversion import evaluate_events  # noqa: PLC0415

    _traffic(site)
    headers = site.world.headers("affiliate_a")
    before = site.client.get("/api/v1/reports/dashboard", headers=headers).json()["totals"]
    runtime = site.world.runtime
    with runtime.engine.begin() as conn:
        ids = [str(i) for i in conn.execute(sa.select(t.player_events.c.id)).scalars()]
        evaluate_events(conn, ids, runtime.clock.now())
    after = site.client.get("/api/v1/reports/dashboard", headers=headers).json()["totals"]
    assert after == before and after["commission"] == {"EUR": "150.00"}
