"""Dashboards stay equal to the ledger and the API when a manager remaps a player to another
affiliate, and a chargeback or refund takes the deposit it names off the deposit sum on the
day it is booked.  Traffic goes through the real click and postback paths."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from tests.web.conftest import Site

from clickledger.services import deals
from clickledger.store import tables as t

DAY_1 = "2026-01-01"
DAY_2 = "2026-01-02"


def _alice_cpa(site: Site) -> None:
    """Alice earns EUR 150 per player whose FTD is at least EUR 50; Bob has no deal."""
    runtime = site.world.runtime
    now = runtime.clock.now()
    with runtime.engine.begin() as conn:
        deal = deals.create_deal(
            conn,
            name="Alice CPA",
            brand_id=site.world.brand_id,
            kind="cpa",
            currency="EUR",
            terms={"amount": "150", "qualification": {"min_ftd": "50"}},
            effective_from=None,
            actor="test",
            now=now,
        )
        deals.assign(
            conn,
            deal_id=str(deal["id"]),
            affiliate_id=site.world.affiliate_a,
            overrides=None,
            effective_from=None,
            actor="test",
            now=now,
        )


def _totals(site: Site, affiliate_id: str, start: str = DAY_1, end: str = DAY_2) -> dict[str, Any]:
    answer = site.client.get(
        f"/api/v1/reports/dashboard?period=range&start={start}&end={end}"
        f"&affiliate_id={affiliate_id}",
        headers=site.world.headers("manager"),
    )
    assert answer.status_code == 200, answer.text
    totals: dict[str, Any] = answer.json()["totals"]
    return totals


def _ledger_total(site: Site, affiliate_id: str) -> Decimal:
    """What the ledger API says the affiliate earned (commission and reversals)."""
    items = site.client.get(
        f"/api/v1/ledger?affiliate_id={affiliate_id}", headers=site.world.headers("manager")
    ).json()["items"]
    return sum((Decimal(i["amount"]) for i in items if i["kind"] != "payout"), Decimal(0))


def _queued(site: Site) -> set[str]:
    with site.world.runtime.engine.connect() as conn:
        return {str(i) for i in conn.execute(sa.select(t.fraud_queue.c.event_id)).scalars()}


def _pat_plays_through_alices_link(site: Site) -> dict[str, str]:
    """Pat clicks Alice's link (sub1 spring), registers, deposits EUR 100 (FTD, qualifies
    Alice's EUR 150 CPA) and EUR 40, and plays: bets 500, wins 300, bonus 20 (NGR 180)."""
    _alice_cpa(site)
    click = site.click("alice-1", sub1="spring")
    site.click("bob-1", sub1="bob")  # Bob's own click, which stays his
    events = {
        "reg": site.postback(event="registration", txn_id="r1", player_id="pat", click_id=click),
        "ftd": site.postback(
            event="ftd", txn_id="f1", player_id="pat", amount="100", currency="EUR"
        ),
        "dep": site.postback(
            event="deposit", txn_id="d1", player_id="pat", amount="40", currency="EUR"
        ),
        "act": site.postback(
            event="activity",
            txn_id="a1",
            player_id="pat",
            bets="500",
            wins="300",
            bonus="20",
            currency="EUR",
        ),
    }
    return {name: body["event_id"] for name, body in events.items()} | {
        "player": events["reg"]["player_id"]
    }


def test_a_remap_moves_the_players_history_to_the_new_affiliates_dashboard(site: Site) -> None:
    world = site.world
    pat = _pat_plays_through_alices_link(site)
    alice = _totals(site, world.affiliate_a)
    assert (alice["clicks"], alice["registrations"], alice["ftds"], alice["qualified_cpas"]) == (
        1,
        1,
        1,
        1,
    )
    assert alice["deposits"] == {"EUR": "140.00"} and alice["ngr"] == {"EUR": "180.00"}
    assert alice["commission"] == {"EUR": "150.00"}
    with world.runtime.engine.begin() as conn:  # the fraud worker has taken the queue
        conn.execute(t.fraud_queue.delete())

    moved = site.client.post(
        f"/api/v1/players/{pat['player']}/remap",
        headers=world.headers("manager"),
        json={"affiliate_id": world.affiliate_b, "reason": "operator confirmed Bob referred Pat"},
    )
    assert moved.status_code == 200, moved.text

    alice, bob = _totals(site, world.affiliate_a), _totals(site, world.affiliate_b)
    # Alice keeps her click and the CPA the ledger paid her; Pat's activity is Bob's now.
    assert (alice["clicks"], alice["registrations"], alice["ftds"], alice["qualified_cpas"]) == (
        1,
        0,
        0,
        1,
    )
    assert alice["deposits"] == {} and alice["ngr"] == {} and alice["lots"] == "0"
    assert alice["commission"] == {"EUR": "150.00"}
    assert (bob["clicks"], bob["registrations"], bob["ftds"], bob["qualified_cpas"]) == (1, 1, 1, 0)
    assert bob["deposits"] == {"EUR": "140.00"} and bob["ngr"] == {"EUR": "180.00"}
    assert bob["ftd_amount"] == {"EUR": "100.00"} and bob["bets"] == {"EUR": "500.00"}
    assert bob["commission"] == {"EUR": "0.00"}
    assert Decimal(alice["commission"]["EUR"]) == _ledger_total(site, world.affiliate_a)
    assert Decimal(bob["commission"]["EUR"]) == _ledger_total(site, world.affiliate_b)
    # Pat's events are queued for the fraud worker to assess again under Bob.
    assert _queued(site) == {pat["reg"], pat["ftd"], pat["dep"], pat["act"]}

    # Pat's traffic dimensions travel with him: Bob's sub1 "spring" row holds Pat.
    rows = site.client.get(
        f"/api/v1/reports/breakdown?by=sub1&period=range&start={DAY_1}&end={DAY_2}"
        f"&affiliate_id={world.affiliate_b}",
        headers=world.headers("manager"),
    ).json()["rows"]
    spring = next(r for r in rows if r["value"] == "spring")
    assert (spring["clicks"], spring["registrations"], spring["deposits"]) == (
        0,
        1,
        {"EUR": "140.00"},
    )

    # Later events follow the new binding; Bob's player list shows none of Alice's money.
    site.postback(event="deposit", txn_id="d2", player_id="pat", amount="10", currency="EUR")
    assert _totals(site, world.affiliate_b)["deposits"] == {"EUR": "150.00"}
    assert _totals(site, world.affiliate_a)["deposits"] == {}
    players = site.client.get(
        "/api/v1/reports/players", headers=world.headers("affiliate_b")
    ).json()["items"]
    assert [(p["status"], p["commission"], p["explanations"]) for p in players] == [
        ("cpa approved", {}, [])
    ]

    # Bob's portal shows the API's numbers.
    page = site.sign_in("affiliate_b").get(f"/portal?period=range&start={DAY_1}&end={DAY_2}").text
    assert _shown(page, "registrations") == "1" and _shown(page, "ftds") == "1"
    assert _shown(page, "deposits") == "EUR 150.00"


def test_a_remap_back_and_to_organic_leaves_no_figures_behind(site: Site) -> None:
    world = site.world
    pat = _pat_plays_through_alices_link(site)
    manager = world.headers("manager")
    for target in (world.affiliate_b, world.affiliate_a, None):
        answer = site.client.post(
            f"/api/v1/players/{pat['player']}/remap",
            headers=manager,
            json={"affiliate_id": target, "reason": "back and forth"},
        )
        assert answer.status_code == 200, answer.text
        if target == world.affiliate_a:  # round trip: Alice's figures are exactly as before
            alice = _totals(site, world.affiliate_a)
            assert (alice["registrations"], alice["deposits"], alice["ngr"]) == (
                1,
                {"EUR": "140.00"},
                {"EUR": "180.00"},
            )
    alice, bob = _totals(site, world.affiliate_a), _totals(site, world.affiliate_b)
    assert (alice["registrations"], alice["ftds"], alice["deposits"]) == (0, 0, {})
    assert (bob["registrations"], bob["ftds"], bob["deposits"]) == (0, 0, {})
    everyone = site.client.get(
        f"/api/v1/reports/dashboard?period=range&start={DAY_1}&end={DAY_2}", headers=manager
    ).json()["totals"]
    assert everyone["registrations"] == 0 and everyone["clicks"] == 2
    assert everyone["commission"] == {"EUR": "150.00"}  # Alice's CPA stays in the ledger


def test_a_player_remapped_before_registering_keeps_the_managers_binding(site: Site) -> None:
    world = site.world
    early = site.postback(
        event="deposit", txn_id="e1", player_id="early", amount="40", currency="EUR"
    )
    assert early["attribution"] == "pending"
    moved = site.client.post(
        f"/api/v1/players/{early['player_id']}/remap",
        headers=world.headers("manager"),
        json={"affiliate_id": world.affiliate_b, "reason": "known player"},
    )
    assert moved.status_code == 200, moved.text
    click = site.click("alice-1", sub1="late")
    registered = site.postback(event="registration", txn_id="e2", player_id="early", click_id=click)
    assert registered["affiliate_id"] == world.affiliate_b
    assert registered["note"] == "manager_binding_kept"
    bob, alice = _totals(site, world.affiliate_b), _totals(site, world.affiliate_a)
    assert (bob["registrations"], bob["deposits"]) == (1, {"EUR": "40.00"})  # counted once
    assert (alice["clicks"], alice["registrations"], alice["deposits"]) == (1, 0, {})


def test_chargebacks_and_refunds_take_the_deposit_off_on_the_day_they_are_booked(
    site: Site,
) -> None:
    """Day 1: Pat deposits EUR 100 (FTD, Alice's EUR 150 CPA), 40 and 25.
    Day 2: a chargeback of the FTD (EUR 100), a refund of the 25, a refund naming a
    deposit "d3" that only arrives afterwards (EUR 30, dated day 1), and a chargeback of
    EUR 15 naming no deposit.
    Deposits: day 1 = 100 + 40 + 25 + 30 = 195; day 2 = −100 − 25 − 30 − 15 = −170;
    both days 25.  Chargebacks on day 2: 100 + 15 = 115, so NGR −115 (no play).
    The ledger reverses the CPA: commission 150 − 150 = 0, qualified CPAs 1 − 1 = 0."""
    world = site.world
    _alice_cpa(site)
    click = site.click("alice-1", sub1="spring")
    site.postback(event="registration", txn_id="r1", player_id="pat", click_id=click)
    for txn, amount, kind in (
        ("f1", "100", "ftd"),
        ("d1", "40", "deposit"),
        ("d2", "25", "deposit"),
    ):
        site.postback(event=kind, txn_id=txn, player_id="pat", amount=amount, currency="EUR")
    day_1_time = site.world.runtime.clock.now().isoformat()
    site.world.runtime.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
    site.postback(
        event="chargeback",
        txn_id="cb1",
        player_id="pat",
        amount="100",
        currency="EUR",
        reverses_txn_id="f1",
    )
    site.postback(event="reversal", txn_id="rv1", player_id="pat", reverses_txn_id="d2")
    site.postback(event="reversal", txn_id="rv2", player_id="pat", reverses_txn_id="d3")
    site.postback(
        event="deposit", txn_id="d3", player_id="pat", amount="30", currency="EUR", ts=day_1_time
    )
    site.postback(event="chargeback", txn_id="cb3", player_id="pat", amount="15", currency="EUR")

    alice = world.affiliate_a
    day_1, day_2 = _totals(site, alice, DAY_1, DAY_1), _totals(site, alice, DAY_2, DAY_2)
    both = _totals(site, alice)
    assert day_1["deposits"] == {"EUR": "195.00"} and day_1["chargebacks"] == {}
    assert day_2["deposits"] == {"EUR": "-170.00"}
    assert day_2["chargebacks"] == {"EUR": "115.00"} and day_2["ngr"] == {"EUR": "-115.00"}
    assert both["deposits"] == {"EUR": "25.00"} and both["ftds"] == 1
    assert both["ftd_amount"] == {"EUR": "100.00"}  # the FTD happened; its CPA is reversed
    assert both["commission"] == {"EUR": "0.00"} and both["qualified_cpas"] == 0
    assert Decimal(both["commission"]["EUR"]) == _ledger_total(site, alice)
    by_day = site.client.get(
        f"/api/v1/reports/breakdown?by=day&period=range&start={DAY_1}&end={DAY_2}"
        f"&affiliate_id={alice}",
        headers=world.headers("manager"),
    ).json()["rows"]
    assert {r["value"]: r["deposits"] for r in by_day} == {
        DAY_1: {"EUR": "195.00"},
        DAY_2: {"EUR": "-170.00"},
    }

    # A second chargeback of the same FTD takes nothing more off (the ledger reverses once).
    site.postback(
        event="chargeback",
        txn_id="cb2",
        player_id="pat",
        amount="100",
        currency="EUR",
        reverses_txn_id="f1",
    )
    again = _totals(site, alice)
    assert again["deposits"] == {"EUR": "25.00"}
    assert Decimal(again["commission"]["EUR"]) == _ledger_total(site, alice) == 0

    # Moving Pat to Bob moves the net figures, reversals included.
    player = site.postback(
        event="deposit", txn_id="d4", player_id="pat", amount="5", currency="EUR"
    )["player_id"]
    site.client.post(
        f"/api/v1/players/{player}/remap",
        headers=world.headers("manager"),
        json={"affiliate_id": world.affiliate_b, "reason": "moved"},
    )
    bob = _totals(site, world.affiliate_b)
    assert bob["deposits"] == {"EUR": "30.00"} and bob["chargebacks"] == {"EUR": "215.00"}
    assert _totals(site, alice)["deposits"] == {}


def _shown(html: str, metric: str) -> str:
    found = re.search(rf'data-metric="{metric}">([^<]*)<', html)
    assert found is not None, metric
    return found.group(1)
