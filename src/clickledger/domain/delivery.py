"""When to try an outbound delivery again: the retry schedule as a pure function.

The schedule follows Svix / Standard Webhooks practice: the first attempt is
made at once, then retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
(eight attempts in all), each delay with ±10 % jitter; after the eighth
failure the delivery is dead-lettered.  A 2xx answer delivers; 3xx is a
failure (redirects are not followed); 410 Gone disables the target; 429, 502
and 504 also throttle the target host; ``Retry-After`` (seconds or an HTTP
date) postpones the next attempt, capped at ``RETRY_AFTER_CAP``.

No clock and no I/O: callers pass ``now``, the response facts and a random
source, so tests run the whole schedule with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

# Delay before attempt n+1 after attempt n failed (n = 1..7); attempt 1 is made at once.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER_FRACTION = 0.1
RETRY_AFTER_CAP = timedelta(hours=24)
THROTTLE_PAUSE_DEFAULT = timedelta(seconds=5)
THROTTLE_STATUS_CODES = frozenset({429, 502, 504})
GONE_STATUS_CODE = 410


class RandomSource(Protocol):
    def random(self) -> float: ...


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    DISABLE = "disabled"


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What one attempt produced: a status code, or an error (timeout, refused, blocked)."""

    status_code: int | None
    retry_after: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with the delivery after an attempt."""

    outcome: Outcome
    next_attempt_at: datetime | None = None
    throttle_until: datetime | None = None  # pause the target host until then


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as a delay from ``now``: delta-seconds or an HTTP date; None if unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment - now, timedelta(0))


def jittered(delay: timedelta, rand: RandomSource) -> timedelta:
    """``delay`` scaled by a factor in [1 - JITTER_FRACTION, 1 + JITTER_FRACTION)."""
    factor = 1 + JITTER_FRACTION * (2 * rand.random() - 1)
    return timedelta(microseconds=int(delay / timedelta(microseconds=1) * factor))


def retry_delay(attempt: int, rand: RandomSource) -> timedelta | None:
    """Delay before the next attempt after attempt number ``attempt`` failed; None = give up."""
    if attempt < 1 or attempt >= MAX_ATTEMPTS:
        return None
    return jittered(RETRY_DELAYS[attempt - 1], rand)


def decide(attempt: int, now: datetime, facts: ResponseFacts, rand: RandomSource) -> Decision:
    """The decision after attempt number ``attempt`` (1-based) ended at ``now`` with ``facts``."""
    if is_success(facts.status_code):
        return Decision(Outcome.DELIVERED)
    if facts.status_code == GONE_STATUS_CODE:
        return Decision(Outcome.DISABLE)
    wait = parse_retry_after(facts.retry_after, now)
    capped_wait = min(wait, RETRY_AFTER_CAP) if wait is not None else None
    throttle_until = None
    if facts.status_code in THROTTLE_STATUS_CODES:
        throttle_until = now + (capped_wait if capped_wait is not None else THROTTLE_PAUSE_DEFAULT)
    delay = retry_delay(attempt, rand)
    if delay is None:
        return Decision(Outcome.DEAD, throttle_until=throttle_until)
    if capped_wait is not None:
        delay = max(delay, capped_wait)
    return Decision(Outcome.RETRY, next_attempt_at=now + delay, throttle_until=throttle_until)
