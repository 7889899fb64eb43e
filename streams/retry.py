"""Retry-until-success with capped exponential backoff: the worker's backpressure."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from core.metrics import RETRIES

T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_DELAY_S = 10.0


async def until_success(
    what: str,
    attempt: Callable[..., Awaitable[T]],
    *args: Any,
    permanent: tuple[type[Exception], ...] = (),
    step: str | None = None,
) -> T:
    """Await `attempt(*args)` until it returns; log each failure with what failed (never the
    data) and count it under `step` (`what` unless given: a metric label, so no variable part).
    Errors of a `permanent` type are no outage: they propagate at once."""
    delay = 0.2
    failures = 0
    while True:
        try:
            return await attempt(*args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, permanent):
                raise
            failures += 1
            RETRIES.labels(step or what).inc()
            log.warning("%s failed (attempt %d, retrying in %.1fs): %r", what, failures, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
