"""Simulated traffic for the demo: visitors click links, then players register, deposit,
trade and play, sent through the same public endpoints a real operator uses."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx

from clickledger.cli.send_event import signed_url
from clickledger.demo.seed import DemoProgramme

log = logging.getLogger(__name__)

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
)
CAMPAIGNS = ("spring-promo", "search-brand", "tiktok-a", "newsletter")


MAX_WAITING_VISITORS = 500
MAX_PLAYERS_TRACKED = 2000
INSTRUMENTS = ("EURUSD.pro", "GBPUSD", "XAUUSD.m", "US30", "USDJPY")


@dataclass
class Player:
    kind: str  # casino | forex
    user_id: str
    depositor: bool = False


@dataclass
class TrafficStats:
    clicks: int = 0
    errors: int = 0
    events: dict[str, int] = field(default_factory=dict)
    waiting: list[tuple[str, str]] = field(default_factory=list)  # (brand kind, click id)
    players: list[Player] = field(default_factory=list)
    serial: int = 0

    def next_id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{int(time.time())}-{self.serial}"


Stage = Callable[[httpx.Client, DemoProgramme, random.Random, TrafficStats], None]


def click_stage(client: httpx.Client, demo: DemoProgramme, rng: random.Random,
                stats: TrafficStats) -> None:
    """A visitor clicks an affiliate link (the server redirects to the landing page)."""
    kind = rng.choice(("casino", "forex"))
    code = rng.choice(demo.link_codes[kind])
    response = client.get(
        f"/c/{code}", params={"sub1": rng.choice(CAMPAIGNS), "sub2": f"ad{rng.randint(1, 9)}"},
        headers={"user-agent": rng.choice(USER_AGENTS),
                 "x-forwarded-for": f"203.0.113.{rng.randint(1, 254)}"},
    )
    if response.status_code != 302:
        stats.errors += 1
        return
    stats.clicks += 1
    query = parse_qs(urlsplit(response.headers["location"]).query)
    click_id = (query.get("cid") or query.get("clickid") or [""])[0]
    if click_id and rng.random() < 0.3 and len(stats.waiting) < MAX_WAITING_VISITORS:
        stats.waiting.append((kind, click_id))


def _postback(client: httpx.Client, demo: DemoProgramme, kind: str, stats: TrafficStats,
              params: dict[str, str]) -> None:
    """One signed S2S postback from the brand's operator integration."""
    integration = demo.integrations[kind]
    url = signed_url(str(client.base_url), integration["key_id"], integration["signing_secret"],
                     params)
    answer = client.get(url)
    if answer.status_code == 200:
        stats.events[params["event"]] = stats.events.get(params["event"], 0) + 1
    else:
        stats.errors += 1


def registration_stage(client: httpx.Client, demo: DemoProgramme, rng: random.Random,
                       stats: TrafficStats) -> None:
    """A visitor who clicked earlier registers (now and then with a promo code only)."""
    if rng.random() < 0.05:
        kind = rng.choice(("casino", "forex"))
        link = {"promo": rng.choice(demo.promo_codes[kind])}
    elif stats.waiting:
        kind, click_id = stats.waiting.pop(0)
        link = {"click_id": click_id}
    else:
        return
    player = Player(kind, stats.next_id("player"))
    _postback(client, demo, kind, stats, {"event": "registration",
                                          "txn_id": stats.next_id("reg"),
                                          "user_id": player.user_id, "country": "DE", **link})
    if len(stats.players) >= MAX_PLAYERS_TRACKED:
        stats.players.pop(0)
    stats.players.append(player)


def money_stage(client: httpx.Client, demo: DemoProgramme, rng: random.Random,
                stats: TrafficStats) -> None:
    """Registered players deposit, play, trade, and once in a while charge back."""
    if not stats.players:
        return
    player = rng.choice(stats.players)
    currency = "EUR" if player.kind == "casino" else "USD"
    base = {"user_id": player.user_id, "currency": currency}
    if not player.depositor:
        if rng.random() < 0.6:
            player.depositor = True
            amount = f"{rng.choice((20, 25, 50, 100, 250))}.00"
            _postback(client, demo, player.kind, stats,
                      {**base, "event": "ftd", "txn_id": stats.next_id("dep"), "amount": amount})
        return
    if player.kind == "forex":
        lots = f"{rng.choice((0.1, 0.5, 1, 2.5)):.2f}"
        _postback(client, demo, "forex", stats, {
            **base, "event": "trade", "txn_id": stats.next_id("trade"), "lots": lots,
            "instrument": rng.choice(INSTRUMENTS), "spread": f"{rng.randint(5, 40)}.00"})
        return
    bets = rng.randint(20, 400)
    wins = rng.randint(0, bets + 100)
    _postback(client, demo, "casino", stats, {
        **base, "event": "activity", "txn_id": stats.next_id("act"), "bets": f"{bets}.00",
        "wins": f"{wins}.00", "bonus": f"{rng.choice((0, 0, 5, 10))}.00"})
    if rng.random() < 0.02:
        _postback(client, demo, "casino", stats, {
            **base, "event": "chargeback", "txn_id": stats.next_id("cb"), "amount": "20.00"})


STAGES: list[Stage] = [click_stage, registration_stage, money_stage]


class TrafficSimulator:
    """Runs every registered stage in a loop on a background thread until stopped."""

    def __init__(self, base_url: str, demo: DemoProgramme, rate_per_s: float = 5.0,
                 seed: int = 7) -> None:
        self.base_url = base_url
        self.demo = demo
        self.interval_s = 1.0 / rate_per_s
        self.rng = random.Random(seed)
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-traffic", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _wait_for_server(self, client: httpx.Client) -> bool:
        for _ in range(200):
            if self._stop.is_set():
                return False
            try:
                if client.get("/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
            if not self._wait_for_server(client):
                return
            while not self._stop.wait(self.interval_s):
                for stage in STAGES:
                    try:
                        stage(client, self.demo, self.rng, self.stats)
                    except httpx.HTTPError:
                        self.stats.errors += 1
                        log.debug("demo stage failed", exc_info=True)
