"""Per-API-key rate limiting for the admin API: one in-process token bucket per key.

Each key may make ``settings.api_rate_per_minute`` requests per minute, with a
burst of the same size (a full bucket).  A request over the limit answers
429 ``rate_limited`` with ``Retry-After`` (whole seconds) and
``details.retry_after_s``.  Memory is bounded: at most ``MAX_TRACKED_KEYS``
buckets are kept, the least recently used is forgotten first (a forgotten key
starts again with a full bucket).  The limit is per process: with N server
processes a key may make up to N times the rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from clickledger.http.api.errors import ApiError, error_body

MAX_TRACKED_KEYS = 10_000
SECONDS_PER_MINUTE = 60.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float


class KeyRateLimiter:
    """Token buckets by API key id: ``per_minute`` requests a minute, bursts up to the same."""

    def __init__(self, per_minute: int, max_keys: int = MAX_TRACKED_KEYS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1 or max_keys < 1:
            raise ValueError("per_minute and max_keys must be at least 1")
        self.capacity = float(per_minute)
        self.per_s = per_minute / SECONDS_PER_MINUTE
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key_id: str) -> float | None:
        """Spend one token of ``key_id``: ``None`` when allowed, else seconds until one is back."""
        now_s = self._monotonic()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(self.capacity, now_s)
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key_id)
                elapsed_s = max(0.0, now_s - bucket.at_s)
                bucket.tokens = min(self.capacity, bucket.tokens + elapsed_s * self.per_s)
                bucket.at_s = now_s
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.per_s


class RateLimited(ApiError):
    """429 with ``Retry-After``: the key spent its requests for now."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(429, "rate_limited", "too many requests for this API key",
                         {"retry_after_s": self.retry_after_s})


def install_rate_limit(api: FastAPI, per_minute: int) -> None:
    """Give ``api`` its limiter and render ``RateLimited`` with its ``Retry-After`` header."""
    api.state.key_rate_limiter = KeyRateLimiter(per_minute)

    @api.exception_handler(RateLimited)
    async def _rate_limited(_request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=429,
                            headers={"Retry-After": str(exc.retry_after_s)})


def enforce_rate_limit(request: Request, key_id: str) -> None:
    """Spend one request of ``key_id``; raise ``RateLimited`` when none is left."""
    limiter = getattr(request.app.state, "key_rate_limiter", None)
    if not isinstance(limiter, KeyRateLimiter):
        return
    wait_s = limiter.take(key_id)
    if wait_s is not None:
        raise RateLimited(wait_s)
