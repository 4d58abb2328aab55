"""The retry schedule, decided by a pure function with a fake clock and a fixed random source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickledger.domain.delivery import (
    MAX_ATTEMPTS,
    RETRY_AFTER_CAP,
    Outcome,
    ResponseFacts,
    decide,
    parse_retry_after,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FAIL = ResponseFacts(status_code=500)


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


MIDDLE = FixedRandom(0.5)  # no jitter


def test_failures_retry_after_5s_5min_30min_2h_5h_10h_10h_then_dead() -> None:
    delays = []
    for attempt in range(1, MAX_ATTEMPTS):
        decision = decide(attempt, NOW, FAIL, MIDDLE)
        assert decision.outcome is Outcome.RETRY
        assert decision.next_attempt_at is not None
        delays.append(decision.next_attempt_at - NOW)
    assert delays == [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                      timedelta(hours=2), timedelta(hours=5), timedelta(hours=10),
                      timedelta(hours=10)]
    assert decide(MAX_ATTEMPTS, NOW, FAIL, MIDDLE).outcome is Outcome.DEAD
    assert MAX_ATTEMPTS == 8


def test_jitter_stays_within_ten_percent() -> None:
    low = decide(4, NOW, FAIL, FixedRandom(0.0)).next_attempt_at
    high = decide(4, NOW, FAIL, FixedRandom(0.999999)).next_attempt_at
    assert low == NOW + timedelta(hours=1, minutes=48)
    assert high is not None and NOW + timedelta(hours=2) < high < NOW + timedelta(hours=2.2)


def test_2xx_delivers_3xx_fails_and_410_disables() -> None:
    assert decide(1, NOW, ResponseFacts(204), MIDDLE).outcome is Outcome.DELIVERED
    assert decide(1, NOW, ResponseFacts(302), MIDDLE).outcome is Outcome.RETRY
    assert decide(1, NOW, ResponseFacts(410), MIDDLE).outcome is Outcome.DISABLE
    assert decide(1, NOW, ResponseFacts(None, error="timeout"), MIDDLE).outcome is Outcome.RETRY


def test_retry_after_in_seconds_or_as_a_date_postpones_the_retry_up_to_a_cap() -> None:
    later = decide(1, NOW, ResponseFacts(503, retry_after="120"), MIDDLE)
    assert later.next_attempt_at == NOW + timedelta(seconds=120)
    dated = decide(1, NOW, ResponseFacts(429, retry_after="Thu, 01 Jan 2026 01:00:00 GMT"),
                   MIDDLE)
    assert dated.next_attempt_at == NOW + timedelta(hours=1)
    absurd = decide(1, NOW, ResponseFacts(429, retry_after=str(10**9)), MIDDLE)
    assert absurd.next_attempt_at == NOW + RETRY_AFTER_CAP
    shorter = decide(3, NOW, ResponseFacts(503, retry_after="1"), MIDDLE)
    assert shorter.next_attempt_at == NOW + timedelta(minutes=30)  # never sooner than planned
    assert parse_retry_after("soon", NOW) is None


def test_429_502_504_throttle_the_host_and_503_does_not() -> None:
    for code in (429, 502, 504):
        assert decide(1, NOW, ResponseFacts(code), MIDDLE).throttle_until == NOW + timedelta(
            seconds=5)
    assert decide(1, NOW, ResponseFacts(429, retry_after="60"), MIDDLE).throttle_until == (
        NOW + timedelta(seconds=60))
    assert decide(1, NOW, ResponseFacts(503), MIDDLE).throttle_until is None
