"""In headless Chromium against a real ``clickledger serve``: an affiliate and a manager sign
in, follow the main paths, see the report API's numbers, and the affiliate cannot reach
another affiliate's pages."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from tests.http.conftest import World, build_world
from tests.web.conftest import EMAILS, PASSWORD, add_users

from clickledger.clock import SystemClock
from clickledger.ingest import signatures
from clickledger.runtime import Runtime
from clickledger.settings import Settings

CHROMIUM = "/usr/bin/chromium"
SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmn"  # 40 characters
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"Chromium is not installed at {CHROMIUM} (apt install chromium)"),
]


@dataclass
class Server:
    base: str
    world: World


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("clickledger serve exited early")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("clickledger serve did not start")


def _traffic(base: str, world: World) -> None:
    """Two clicks and a registration with an FTD for Alice, one click for Bob."""
    with httpx.Client(base_url=base, follow_redirects=False) as http:
        landing = http.get("/c/alice-1?sub1=%3Cscript%3Ex%3C%2Fscript%3E",
                           headers={"user-agent": "Mozilla/5.0 Firefox/120.0"})
        click_id = parse_qs(urlsplit(landing.headers["location"]).query)["btag"][0]
        http.get("/c/alice-1?sub1=spring", headers={"user-agent": "Mozilla/5.0 Safari/604.1"})
        http.get("/c/bob-1", headers={"user-agent": "Mozilla/5.0 Chrome/120.0"})
        for params in ({"event": "registration", "txn_id": "r1", "player_id": "e2e-1",
                        "click_id": click_id},
                       {"event": "ftd", "txn_id": "f1", "player_id": "e2e-1", "amount": "80",
                        "currency": "EUR"}):
            ts = str(int(time.time()))
            query = urlencode({**params, "cl_key": world.integration_id, "cl_ts": ts})
            sig = signatures.sign("s" * 32, ts, "GET", "/postback", query, b"")
            answer = http.get(f"/postback?{query}&cl_sig={sig}")
            assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("e2e") / "e2e.db"
    url = f"sqlite:///{db}"
    runtime = Runtime.open(Settings(database_url=url, secret_key=SECRET_KEY),
                           clock=SystemClock())
    world = build_world(runtime)
    add_users(runtime, world)
    runtime.engine.dispose()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CLICKLEDGER_SECRET_KEY": SECRET_KEY, "CLICKLEDGER_DATABASE_URL": url,
           "CLICKLEDGER_PUBLIC_BASE_URL": base}
    process = subprocess.Popen([sys.executable, "-m", "clickledger", "serve", "--port",
                                str(port)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        _wait(base, process)
        world.runtime = runtime
        _traffic(base, world)
        yield Server(base, world)
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only browser tests

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


def _sign_in(browser: object, server: Server, role: str) -> object:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{server.base}/login")
    page.fill("input[name=email]", EMAILS[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def _api(server: Server, role: str, path: str) -> dict[str, object]:
    answer = httpx.get(f"{server.base}{path}", headers=server.world.headers(role))
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def _metric(page: object, name: str) -> str:
    return str(page.text_content(f"#totals [data-metric={name}]")).strip()  # type: ignore[attr-defined]


def test_an_affiliate_signs_in_sees_the_apis_numbers_and_follows_the_main_paths(
        browser: object, server: Server) -> None:
    page = _sign_in(browser, server, "affiliate_a")
    assert page.url.endswith("/portal")  # type: ignore[attr-defined]
    totals = _api(server, "affiliate_a", "/api/v1/reports/dashboard")["totals"]
    assert isinstance(totals, dict) and totals["clicks"] == 2 and totals["ftds"] == 1
    for metric in ("clicks", "unique_clicks", "registrations", "ftds"):
        assert _metric(page, metric) == str(totals[metric]), metric
    assert _metric(page, "deposits") == "EUR 80.00"
    assert page.locator("svg.chart rect").count() > 0  # type: ignore[attr-defined]
    page.click("text=Reports")  # type: ignore[attr-defined]
    page.click(".tabs >> text=Sub1")  # type: ignore[attr-defined]
    rows = _api(server, "affiliate_a", "/api/v1/reports/breakdown?by=sub1")["rows"]
    assert isinstance(rows, list)
    shown = page.locator("#breakdown tbody tr")  # type: ignore[attr-defined]
    assert shown.count() == len(rows) == 2
    body = str(page.content())  # type: ignore[attr-defined]
    assert "<script>x</script>" not in body and "&lt;script&gt;x&lt;/script&gt;" in body
    page.click("text=Links")  # type: ignore[attr-defined]
    page.fill("#new-link input[name=sub1]", "from-browser")  # type: ignore[attr-defined]
    page.click("#new-link button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    assert re.search(r"/portal/links/[0-9a-f-]{36}$", page.url)  # type: ignore[attr-defined]
    assert "/c/" in str(page.text_content("#link-url"))  # type: ignore[attr-defined]
    for link_text in ("Players", "Postbacks", "Sub-affiliates", "Payouts"):
        page.click(f"header nav >> text={link_text}")  # type: ignore[attr-defined]
        assert page.locator("h1").count() == 1  # type: ignore[attr-defined]


def test_an_affiliate_cannot_reach_another_affiliates_pages(
        browser: object, server: Server) -> None:
    page = _sign_in(browser, server, "affiliate_b")
    world = server.world
    for path in (f"/portal/affiliates/{world.affiliate_a}", f"/portal/links/{world.link_a}",
                 f"/portal/breakdown?affiliate_id={world.affiliate_a}", "/console"):
        answer = page.goto(f"{server.base}{path}")  # type: ignore[attr-defined]
        assert answer.status == 404, path
        assert "Not found" in str(page.text_content("h1"))  # type: ignore[attr-defined]
    page.goto(f"{server.base}/portal")  # type: ignore[attr-defined]
    assert _metric(page, "clicks") == "1"  # only Bob's own click


def test_a_manager_sees_every_affiliate_and_the_console_pages(
        browser: object, server: Server) -> None:
    page = _sign_in(browser, server, "manager")
    assert page.url.endswith("/console")  # type: ignore[attr-defined]
    totals = _api(server, "manager", "/api/v1/reports/dashboard")["totals"]
    assert isinstance(totals, dict)
    assert _metric(page, "clicks") == str(totals["clicks"]) == "3"
    for link_text in ("Affiliates", "Fraud", "Reconciliation", "Payouts", "Integrations",
                      "Audit", "Players"):
        page.click(f"header nav >> text={link_text}")  # type: ignore[attr-defined]
        assert page.locator("h1").count() == 1, link_text  # type: ignore[attr-defined]
    assert "e2e-1" in str(page.content())  # the manager sees operator player ids
    page.click("header form.logout button")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
