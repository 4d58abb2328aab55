"""Simulated traffic for the demo: visitors click links, then players register, deposit,
trade and play, sent through the same public endpoints a real operator uses."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from clickledger.demo.seed import DemoProgramme

log = logging.getLogger(__name__)

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537.36",
)
CAMPAIGNS = ("spring-promo", "search-brand", "tiktok-a", "newsletter")


@dataclass
class TrafficStats:
    clicks: int = 0
    errors: int = 0
    stages: dict[str, int] = field(default_factory=dict)


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
    if response.status_code == 302:
        stats.clicks += 1
    else:
        stats.errors += 1


STAGES: list[Stage] = [click_stage]


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
