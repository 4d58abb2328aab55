"""The fraud worker on live traffic, on SQLite and PostgreSQL: postbacks answered through the
real app are queued, assessed seconds later off the request path, held or rejected; the
queue empties, a crash leaves it intact, clicks are counted once from a cursor, a held
player stays held, and the affiliate's tracker never hears "sale" for a held conversion."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.ingest.conftest import Client, World, run_app, seed_world
from tests.outbound import seed

from clickledger.outbound.outbox_store import claim_due
from clickledger.runtime import Runtime
from clickledger.services import fraud_intake
from clickledger.store import tables as t
from clickledger.workers.fraud import FraudWorker
from fraud_builder import HEADLESS, FraudWorld

FLOOD_IP = "192.0.2.1"
SETTLE_S = 5.0


@dataclass
class Scene:
    runtime: Runtime
    world: World
    fraud: FraudWorld

    @property
    def engine(self) -> sa.Engine:
        return self.runtime.engine

    def click(self, minutes_ago: float, **options: Any) -> str:
        when = self.runtime.clock.now() - timedelta(minutes=minutes_ago)
        return self.fraud.click(self.world.affiliate_id, when, count=False, **options)

    def queued(self) -> int:
        return self.world.count(t.fraud_queue)

    def latest(self, player: str) -> Any:
        return self.fraud.latest(player)

    def player_id(self, operator_player_id: str) -> str:
        return str(self.world.player(operator_player_id).id)

    def counters(self, dimension: str) -> int:
        c = t.fraud_click_counts
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c.c.clicks), 0))
                                    .where(c.c.dimension == dimension)).scalar_one())


def _scene(runtime: Runtime, in_process: bool) -> Scene:
    settings = runtime.settings.model_copy(update={"fraud_in_process": in_process})
    rt = Runtime(settings=settings, engine=runtime.engine, clock=runtime.clock)
    world = seed_world(rt)
    fraud = FraudWorld(rt.engine)
    fraud.cpa_for(world.brand_id, world.affiliate_id, world.link_id, world.offer_id,
                  world.integration["id"])
    return Scene(rt, world, fraud)


@pytest.fixture
def scene(runtime: Runtime) -> Scene:
    """The ingest world with a CPA deal (100 EUR for a 10 EUR FTD); fraud run by hand."""
    return _scene(runtime, in_process=False)


def worker(scene: Scene, batch_events: int = 200) -> FraudWorker:
    return FraudWorker(scene.engine, scene.runtime.clock, batch_events=batch_events,
                       poll_interval_s=0.05)


def registration(player: str, click_id: str, **extra: str) -> dict[str, str]:
    return {"event": "registration", "txn_id": f"r-{player}", "user_id": player,
            "click_id": click_id, **extra}


def ftd(player: str, **extra: str) -> dict[str, str]:
    return {"event": "ftd", "txn_id": f"f-{player}", "user_id": player, "amount": "50",
            "currency": "EUR", **extra}


def post(scene: Scene, *requests: dict[str, str]) -> list[dict[str, Any]]:
    async def scenario(client: Client) -> list[dict[str, Any]]:
        answers = []
        for params in requests:
            response = await client.get(params)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        return answers

    return run_app(scene.runtime, scenario, scene.world)


def flooded_click(scene: Scene) -> str:
    """29 clicks from one IP in four minutes, then the converting click from it (30)."""
    for n in range(29):
        scene.click(7 - n * 8 / 60, ip=FLOOD_IP)
    return scene.click(3, ip=FLOOD_IP)


def entry_statuses(scene: Scene, player: str) -> dict[str, str]:
    return scene.fraud.entry_statuses(player)


def test_a_flooding_ips_postbacks_are_held_by_the_in_process_worker_within_seconds(
    runtime: Runtime,
) -> None:
    scene = _scene(runtime, in_process=True)
    click_id = flooded_click(scene)

    async def scenario(client: Client) -> float:
        for params in (registration("flood1", click_id), ftd("flood1")):
            assert (await client.get(params)).status_code == 200
        answered = time.monotonic()
        while time.monotonic() - answered < SETTLE_S:  # the worker runs inside the app
            if scene.queued() == 0 and scene.fraud.assessments():
                break
            await asyncio.sleep(0.05)
        return time.monotonic() - answered

    waited_s = run_app(scene.runtime, scenario, scene.world)
    assert waited_s < SETTLE_S
    player = scene.player_id("flood1")
    row = scene.latest(player)
    assert (row.action, row.status) == ("hold", "open")
    flood = next(r for r in row.reasons if r["family"] == "click_flooding")
    assert flood["evidence"]["ip_clicks"] == 30
    assert entry_statuses(scene, player) == {f"cpa:{player}": "on_hold"}
    assert scene.fraud.conversion(player).status == "on_hold"
    assert scene.queued() == 0


def test_the_postback_answer_does_not_wait_for_the_assessment(runtime: Runtime,
                                                              monkeypatch: Any) -> None:
    scene = _scene(runtime, in_process=True)
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    release = threading.Event()
    started = threading.Event()
    real = fraud_intake.fraud.assess_events

    def stuck(*args: Any, **kwargs: Any) -> Any:  # an assessment that takes ages
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(fraud_intake.fraud, "assess_events", stuck)

    async def scenario(client: Client) -> list[float]:
        took = []
        for params in (registration("slow1", click_id), ftd("slow1")):
            began = time.monotonic()
            assert (await client.get(params)).status_code == 200
            took.append(time.monotonic() - began)
            for _ in range(100):  # let the worker pick the first one up and get stuck
                if started.is_set():
                    break
                await asyncio.sleep(0.02)
        assert started.is_set() and scene.fraud.assessments() == []
        release.set()
        return took

    took = run_app(scene.runtime, scenario, scene.world)
    assert max(took) < 1.0  # answered while the worker sat in the assessment
    assert scene.latest(scene.player_id("slow1")).action == "hold"


def test_the_flusher_only_queues_the_events_and_the_worker_empties_the_queue(
    scene: Scene,
) -> None:
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    answers = post(scene, registration("bot1", click_id), ftd("bot1"))
    with scene.engine.connect() as conn:
        queued = {str(v) for v in conn.execute(sa.select(t.fraud_queue.c.event_id)).scalars()}
    assert queued == {a["event_id"] for a in answers}
    assert scene.fraud.assessments() == []
    player = scene.player_id("bot1")
    assert entry_statuses(scene, player) == {f"cpa:{player}": "approved"}  # not yet assessed
    worker(scene).drain()
    assert scene.queued() == 0
    assert scene.latest(player).action == "hold"
    assert entry_statuses(scene, player) == {f"cpa:{player}": "on_hold"}


def test_a_bot_registering_in_two_seconds_is_rejected_and_its_tracker_hears_rejected(
    scene: Scene,
) -> None:
    with scene.engine.begin() as conn:
        seed.template(conn, scene.world.affiliate_id,
                      "https://tracker.example/pb?tid={txn_id}&status={status}&payout={payout}")
    click_id = scene.click(2 / 60, ua=HEADLESS, browser="HeadlessChrome")  # CTIT 2 s
    post(scene, registration("bot2", click_id), ftd("bot2"))
    now = scene.runtime.clock.now()
    with scene.engine.begin() as conn:  # nothing is announced while the assessment is due
        assert claim_due(conn, "probe", now, now + timedelta(minutes=2), 10) == []
    worker(scene).drain()
    player = scene.player_id("bot2")
    assert (scene.latest(player).action, scene.fraud.conversion(player).status) == (
        "reject", "rejected")
    assert entry_statuses(scene, player) == {f"cpa:{player}": "approved",
                                             f"rev:cpa:{player}": "approved"}
    with scene.engine.connect() as conn:
        urls = sorted(conn.execute(sa.select(t.outbox.c.url)).scalars())
    assert len(urls) == 2
    assert all("status=sale" not in url for url in urls)
    assert any("status=rejected" in url and "payout=0.00" in url for url in urls)


def test_a_third_player_on_one_card_holds_all_three(scene: Scene) -> None:
    players = []
    for n in range(3):
        click_id = scene.click(10 + n, ip=f"203.0.113.{10 + n}")
        post(scene, registration(f"card{n}", click_id), ftd(f"card{n}", payment_hash="card-abc"))
        players.append(scene.player_id(f"card{n}"))
    worker(scene).drain()
    for player in players:
        assert scene.latest(player).action == "hold"
        assert entry_statuses(scene, player) == {f"cpa:{player}": "on_hold"}
    assert scene.queued() == 0


def test_an_assessment_that_fails_leaves_every_event_queued(scene: Scene,
                                                             monkeypatch: Any) -> None:
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    post(scene, registration("crash1", click_id), ftd("crash1"))

    def crash(*_args: Any, **_kwargs: Any) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(fraud_intake.fraud, "enforce_holds", crash)  # after assess_events
    with pytest.raises(RuntimeError):
        worker(scene).run_once()
    assert scene.queued() == 2
    assert scene.fraud.assessments() == []  # the assessment rolled back with the claim
    monkeypatch.undo()
    looping = worker(scene)
    looping.drain()
    assert scene.queued() == 0
    assert scene.latest(scene.player_id("crash1")).action == "hold"


def test_the_loop_survives_a_failing_round_and_retries(scene: Scene, monkeypatch: Any) -> None:
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    post(scene, registration("retry1", click_id))
    failures = iter([RuntimeError("flaky")])
    real = fraud_intake.fraud.enforce_holds

    def flaky(*args: Any, **kwargs: Any) -> int:
        error = next(failures, None)
        if error is not None:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(fraud_intake.fraud, "enforce_holds", flaky)
    looping = worker(scene)
    looping.start()
    try:
        deadline = time.monotonic() + SETTLE_S
        while scene.queued() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        looping.stop()
    assert looping.stats.failures == 1
    assert scene.queued() == 0
    assert scene.latest(scene.player_id("retry1")).action == "hold"


def test_the_click_cursor_counts_every_click_exactly_once(scene: Scene) -> None:
    clock = scene.runtime.clock
    now = clock.now()
    for n in range(5):  # five clicks in the same microsecond: the id breaks the tie
        scene.fraud.click(scene.world.affiliate_id, now - timedelta(minutes=5), count=False,
                          ip=f"198.51.100.{n}")
    for n in range(7):
        scene.click(4 - n / 2, ip="198.51.100.77")
    recent = scene.fraud.click(scene.world.affiliate_id, now - timedelta(seconds=1),
                               count=False)  # inside the 2 s lag: not yet
    small = FraudWorker(scene.engine, clock, click_batch_rows=3)
    small.drain()
    small.drain()
    assert scene.counters("link") == 12 + 3  # 12 from the test, 3 seeded by the ingest world
    assert small.stats.clicks == 15
    clock.advance(timedelta(seconds=5))
    small.drain()
    assert scene.counters("link") == 16
    with scene.engine.connect() as conn:
        last = conn.execute(sa.select(t.fraud_cursors.c.last_id)).scalar_one()
    assert str(last) == recent
    FraudWorker(scene.engine, clock).drain()  # a fresh worker resumes from the cursor
    assert scene.counters("link") == 16
    assert scene.counters("ip") == 16 - 3  # the ingest world's three clicks carry no IP


def test_a_held_player_stays_held_after_later_deposits_and_activity(scene: Scene) -> None:
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    post(scene, registration("held1", click_id), ftd("held1"))
    worker(scene).drain()
    player = scene.player_id("held1")
    assert scene.fraud.conversion(player).status == "on_hold"
    later = [  # activity is no fraud rule's input: only the re-asserted hold covers it
        {"event": "activity", "txn_id": "a-held1", "user_id": "held1", "bets": "30",
         "currency": "EUR"},
        {"event": "deposit", "txn_id": "d-held1", "user_id": "held1", "amount": "80",
         "currency": "EUR"}]
    for params in later:
        scene.runtime.clock.advance(timedelta(hours=2))
        post(scene, params)
        # the commission engine itself leaves a fraud hold alone, before any re-assessment
        assert scene.fraud.conversion(player).status == "on_hold"
        worker(scene).drain()
        assert scene.fraud.conversion(player).status == "on_hold"
        assert entry_statuses(scene, player) == {f"cpa:{player}": "on_hold"}
    assert scene.latest(player).action == "hold"
    assert scene.queued() == 0


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = {t.name for t in threading.enumerate()}
    yield
    assert "fraud-worker" not in {t.name for t in threading.enumerate()} - before
