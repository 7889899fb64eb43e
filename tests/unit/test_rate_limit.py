"""The per-device token bucket."""

from __future__ import annotations

from ingest.rate_limit import DeviceRateLimiter


def test_bursts_then_sustained_rate_with_retry_after() -> None:
    now = [100.0]
    limiter = DeviceRateLimiter(rate_per_s=0.5, burst=3, clock=lambda: now[0])
    assert [limiter.take("d1") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("d1") == 2  # one token every 2 s
    assert limiter.take("d2") == 0  # devices are limited separately
    now[0] += 2.0
    assert limiter.take("d1") == 0
    assert limiter.take("d1") == 2
    now[0] += 100.0  # a long pause refills only up to the burst
    assert [limiter.take("d1") for _ in range(4)] == [0, 0, 0, 2]
