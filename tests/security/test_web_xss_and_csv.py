"""Hostile text from the outside — sub-ids, user agents, referrers, operator player ids —
is escaped on every HTML page of the portal and console, and defused (quote-prefixed) in
every CSV export, whatever formula character it starts with."""

from __future__ import annotations

import csv
import io
import re

import polars as pl
from tests.web.conftest import Site, site
from tests.web.test_portal_and_console import EVIL_PLAYER, _traffic

from clickledger.ingest.batch.report import csv_text, errors_csv
from clickledger.web import console, portal

__all__ = ["site"]
FORMULAS = ("=1+1", "+1+1", "-1+1", "@SUM(A1)")
RAW_SCRIPT = re.compile(r"<script>alert", re.I)


def _get_pages(router_prefix: str, routes: list[object], ids: dict[str, str]) -> list[str]:
    paths = []
    for route in routes:
        path: str = route.path  # type: ignore[attr-defined]
        if "GET" not in route.methods or path.endswith(".csv"):  # type: ignore[attr-defined]
            continue
        names = re.findall(r"{(\w+)}", path)
        if any(name not in ids for name in names):
            continue
        paths.append(path.format(**ids))
    return paths


def test_every_portal_and_console_page_escapes_hostile_text(site: Site) -> None:
    _traffic(site)
    ids = {"affiliate_id": site.world.affiliate_a, "link_id": site.world.link_a}
    checked = 0
    for role, router in (("affiliate_a", portal.router), ("manager", console.router)):
        http = site.sign_in(role)
        for path in _get_pages(router.prefix, router.routes, ids):
            for query in ("", "?by=sub1", "?by=sub2", "?by=device"):
                page = http.get(path + query)
                assert page.status_code < 500, (path, page.text[:300])
                assert not RAW_SCRIPT.search(page.text), f"unescaped script on {path}{query}"
                checked += 1
    assert checked >= 40
    boss = site.sign_in("manager")
    assert "&lt;script&gt;alert(&#39;player&#39;)&lt;/script&gt;" in boss.get(
        "/console/players").text
    assert EVIL_PLAYER not in boss.get("/console/players").text


def _first_cells(text: str) -> list[str]:
    return [row[0] for row in csv.reader(io.StringIO(text)) if row]


def test_every_breakdown_export_defuses_each_formula_prefix(site: Site) -> None:
    for formula in FORMULAS:
        site.click("alice-1", sub1=formula)
    alice, manager = site.world.headers("affiliate_a"), site.world.headers("manager")
    exports = {
        "api (affiliate)": site.client.get("/api/v1/reports/breakdown.csv?by=sub1",
                                           headers=alice).text,
        "api (manager)": site.client.get("/api/v1/reports/breakdown.csv?by=sub1",
                                         headers=manager).text,
        "portal": site.sign_in("affiliate_a").get("/portal/breakdown.csv?by=sub1").text,
        "console": site.sign_in("manager").get("/console/breakdown.csv?by=sub1").text,
    }
    for name, text in exports.items():
        cells = _first_cells(text)
        for formula in FORMULAS:
            assert "'" + formula in cells, (name, formula, cells)
        assert not any(cell[:1] in "=+-@" for cell in cells), (name, cells)


def test_import_error_reports_and_reconciliation_exports_defuse_each_formula_prefix() -> None:
    errors = pl.DataFrame({"line": list(range(len(FORMULAS))), "column": list(FORMULAS),
                           "code": ["invalid_amount"] * len(FORMULAS),
                           "message": list(FORMULAS)})
    report = list(csv.reader(io.StringIO(errors_csv(errors, 100))))[1:]
    assert [row[1] for row in report] == ["'" + f for f in FORMULAS]
    assert [row[3] for row in report] == ["'" + f for f in FORMULAS]
    exported = list(csv.reader(io.StringIO(csv_text(["operator_affiliate_id"],
                                                     [[f] for f in FORMULAS]))))[1:]
    assert [row[0] for row in exported] == ["'" + f for f in FORMULAS]
