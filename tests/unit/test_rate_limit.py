"""The per-device token bucket."""

from __future__ import annotations

from core.rate_limit import RateLimiter


def test_bursts_then_sustained_rate_with_retry_after() -> None:
    now = [100.0]
    limiter = RateLimiter(rate_per_s=0.5, burst=3, clock=lambda: now[0])
    assert [limiter.take("d1") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("d1") == 2  # one token every 2 s
    assert limiter.take("d2") == 0  # devices are limited separately
    now[0] += 2.0
    assert limiter.take("d1") == 0
    assert limiter.take("d1") == 2
    now[0] += 100.0  # a long pause refills only up to the burst
    assert [limiter.take("d1") for _ in range(4)] == [0, 0, 0, 2]


def test_idle_keys_are_forgotten_past_the_cap() -> None:
    now = [0.0]
    limiter = RateLimiter(rate_per_s=1.0, burst=2, clock=lambda: now[0], max_keys=3)
    for key in ("a", "b", "c"):
        limiter.take(key)
    now[0] = 10.0  # every bucket is full again: idle
    limiter.take("d")
    assert limiter.take("a") == 0 and limiter.take("a") == 0 and limiter.take("a") == 1
