"""An affiliate's tracker hears a later fraud verdict about a conversion it was already told
about: postbacks go out through the real dispatcher (a fake tracker behind
httpx.MockTransport, a fake clock past the 60 s hold-back), then the fraud worker or a
manager holds, rejects or releases the player, and the tracker gets exactly one follow-up
per change, with the template's own status words (Affise: 1 approved, 5 hold, 3 declined)
and the same ``txn_id``; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from tests.outbound import seed
from tests.workers.test_fraud_worker import Scene, _scene, ftd, post, registration, worker

from clickledger.outbound.dispatcher import Dispatcher
from clickledger.outbound.templates import resolve_status_words
from clickledger.runtime import Runtime
from clickledger.services import fraud_postbacks, fraud_review
from clickledger.store import tables as t
from fraud_builder import HEADLESS

TRACKER = "https://tracker.example/pb?tid={txn_id}&status={status}&payout={payout}"
HOLD_BACK = timedelta(seconds=61)  # outbox_store.FRAUD_SETTLE_MAX is 60 s


@dataclass
class Tracker:
    """The affiliate's tracker: every postback it received, in order."""

    heard: list[dict[str, str]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        self.heard.append({key: values[0] for key, values in query.items()})
        return httpx.Response(200, text="ok")

    def about(self, event_id: str) -> list[tuple[str, str]]:
        """(status word, payout) of every postback about one event, in arrival order."""
        return [(hit["status"], hit["payout"]) for hit in self.heard if hit["tid"] == event_id]


def fake_dns(host: str) -> Sequence[str]:
    return {"tracker.example": ["93.184.216.34"]}[host]


class FixedRandom:
    def random(self) -> float:
        return 0.5


def deliver(scene: Scene, tracker: Tracker) -> int:
    """What the outbox worker sends now; returns the attempts made."""

    async def run() -> int:
        async with Dispatcher(
            scene.engine,
            scene.runtime.clock,
            transport=httpx.MockTransport(tracker.handle),
            resolver=fake_dns,
            rand=FixedRandom(),
        ) as dispatcher:
            return await dispatcher.run_until_idle()

    return asyncio.run(run())


@pytest.fixture
def scene(runtime: Runtime) -> Scene:
    """The ingest world with a CPA deal (100 EUR for a 10 EUR FTD) and an Affise tracker."""
    found = _scene(runtime, in_process=False)
    with found.engine.begin() as conn:
        seed.template(
            conn,
            found.world.affiliate_id,
            TRACKER,
            words=resolve_status_words("affise", None),
            now=runtime.clock.now(),
        )
    return found


def sent_before_the_verdict(
    scene: Scene, tracker: Tracker, player: str, click_id: str
) -> tuple[str, str]:
    """The player registers and deposits; the worker falls behind by more than the hold-back,
    so the tracker is told lead and approved first.  Returns the two event ids."""
    answers = post(scene, registration(player, click_id), ftd(player))
    scene.runtime.clock.advance(HOLD_BACK)
    assert deliver(scene, tracker) == 2
    return answers[0]["event_id"], answers[1]["event_id"]


def outbox_keys(scene: Scene) -> list[str]:
    with scene.engine.connect() as conn:
        return sorted(conn.execute(sa.select(t.outbox.c.dedupe_key)).scalars())


def test_a_hold_after_the_postback_went_out_is_announced_once_then_the_rejection_once(
    scene: Scene,
) -> None:
    tracker = Tracker()
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")  # headless: 60 points
    registration_id, ftd_id = sent_before_the_verdict(scene, tracker, "late1", click_id)
    assert tracker.about(ftd_id) == [("1", "100.00")]  # Affise 1 = approved

    worker(scene).drain()  # the verdict lands after the postback went out
    player = scene.player_id("late1")
    assert scene.latest(player).action == "hold"
    assert deliver(scene, tracker) == 1
    assert tracker.about(ftd_id) == [("1", "100.00"), ("5", "100.00")]  # 5 = hold
    assert tracker.about(registration_id) == [("2", "0")]  # a lead, no money: nothing to add

    scene.runtime.clock.advance(timedelta(hours=1))
    worker(scene).drain()  # nothing new: nothing more is said
    with scene.engine.begin() as conn:
        again = fraud_postbacks.announce(
            conn, fraud_postbacks.events_of_players(conn, [player]), scene.runtime.clock.now()
        )
    assert again.total == 0
    assert deliver(scene, tracker) == 0

    with scene.engine.begin() as conn:  # the manager confirms: rejected, commission reversed
        fraud_review.confirm(
            conn,
            str(scene.latest(player).id),
            actor="manager@op.example",
            note="bot farm",
            now=scene.runtime.clock.now(),
        )
    assert deliver(scene, tracker) == 1
    assert tracker.about(ftd_id) == [("1", "100.00"), ("5", "100.00"), ("3", "0.00")]
    assert len(outbox_keys(scene)) == 4  # two first postbacks, two follow-ups
    assert sum(":was:" in key for key in outbox_keys(scene)) == 2  # the superseded ones


def test_a_dismissed_hold_tells_the_tracker_the_conversion_is_approved_again(
    scene: Scene,
) -> None:
    tracker = Tracker()
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    _registration, ftd_id = sent_before_the_verdict(scene, tracker, "late2", click_id)
    worker(scene).drain()
    deliver(scene, tracker)
    player = scene.player_id("late2")
    with scene.engine.begin() as conn:
        fraud_review.dismiss(
            conn,
            str(scene.latest(player).id),
            actor="manager@op.example",
            note="a real customer on a kiosk",
            now=scene.runtime.clock.now(),
        )
    assert deliver(scene, tracker) == 1
    assert tracker.about(ftd_id) == [("1", "100.00"), ("5", "100.00"), ("1", "100.00")]


def test_a_hold_and_a_rejection_before_the_follow_up_goes_out_send_only_the_rejection(
    scene: Scene,
) -> None:
    tracker = Tracker()
    click_id = scene.click(3, ua=HEADLESS, browser="HeadlessChrome")
    _registration, ftd_id = sent_before_the_verdict(scene, tracker, "late3", click_id)
    worker(scene).drain()  # the hold's follow-up is queued, not yet sent...
    player = scene.player_id("late3")
    with scene.engine.begin() as conn:  # ...when the manager rejects: it is rendered again
        fraud_review.confirm(
            conn,
            str(scene.latest(player).id),
            actor="manager@op.example",
            note=None,
            now=scene.runtime.clock.now(),
        )
    assert deliver(scene, tracker) == 1
    assert tracker.about(ftd_id) == [("1", "100.00"), ("3", "0.00")]


def test_earlier_players_held_by_a_later_peer_on_the_same_card_get_a_follow_up(
    scene: Scene,
) -> None:
    tracker = Tracker()
    ftds = []
    for n in range(2):  # two players on one card: a couple, not yet suspicious enough
        click_id = scene.click(30 + n, ip=f"203.0.113.{20 + n}")
        answers = post(
            scene, registration(f"peer{n}", click_id), ftd(f"peer{n}", payment_hash="card-xyz")
        )
        ftds.append(answers[1]["event_id"])
        worker(scene).drain()
    assert all(scene.latest(scene.player_id(f"peer{n}")).action != "hold" for n in range(2))
    scene.runtime.clock.advance(HOLD_BACK)
    assert deliver(scene, tracker) == 4
    assert [tracker.about(event) for event in ftds] == [[("1", "100.00")]] * 2

    click_id = scene.click(3, ip="203.0.113.40")  # a third player on the same card
    answers = post(scene, registration("peer2", click_id), ftd("peer2", payment_hash="card-xyz"))
    worker(scene).drain()  # all three are held; the third's postbacks were not sent yet
    assert deliver(scene, tracker) == 4  # two follow-ups, and the third's lead and FTD
    assert [tracker.about(event) for event in ftds] == [[("1", "100.00"), ("5", "100.00")]] * 2
    assert tracker.about(answers[1]["event_id"]) == [("5", "100.00")]  # never "approved"
