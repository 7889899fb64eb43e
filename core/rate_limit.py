"""Request limits: a token bucket per key (a device at ingest, a client address at signup), in the
process's memory."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import TooManyRequests


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate_per_s` requests per second sustained, bursts of `burst`. `take` answers 0 when the
    request may go ahead, else the whole seconds to wait (for `Retry-After`). At most
    `max_keys` buckets are kept: past that, the full ones (idle keys) are dropped."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._rate = rate_per_s
        self._max_keys = max_keys
        self._burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # sync routes run in a thread pool: a bucket is read and written under the lock, so
        # parallel requests cannot take the same token
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        with self._lock:
            return self._take(key)

    def _take(self, key: str) -> int:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(tokens=self._burst, updated=now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0
        return max(1, math.ceil((1 - bucket.tokens) / self._rate))

    def _forget_idle(self, now: float) -> None:
        full_after = self._burst / self._rate
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if now - bucket.updated < full_after
        }


def enforce(limiter: RateLimiter, key: str, what: str) -> None:
    """429 with `Retry-After` when `key` has no token left; `what` says what was too frequent."""
    wait_s = limiter.take(key)
    if wait_s:
        raise TooManyRequests(
            "rate_limited",
            f"too many {what}; retry in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
