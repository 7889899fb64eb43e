"""Time-driven rounds that sleep while there is nothing to do: a round that found work runs
again after `base_s`; each one that found none doubles the wait, up to `max_s`. An idle stack
then asks its database every few seconds instead of every second (BENCHMARKS.md "Idle"),
and a round never waits longer than `max_s` for work that arrives in another process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import faust

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Pace:
    base_s: float
    max_s: float
    wait_s: float = 0.0

    def __post_init__(self) -> None:
        self.wait_s = self.base_s

    def after(self, found_work: bool) -> float:
        """The wait before the next round."""
        self.wait_s = self.base_s if found_work else min(self.max_s, self.wait_s * 2)
        return self.wait_s


async def in_thread(job: Callable[[], object], what: str) -> bool:
    """A round in a thread of the loop's pool: whether it found work. A failed round is
    logged and counts as work (the next tick, at the base pace, runs it again: every job a
    round runs is idempotent)."""
    try:
        return bool(await asyncio.get_running_loop().run_in_executor(None, job))
    except Exception as exc:
        log.warning("%s failed (retried): %r", what, exc)
        return True


def paced(
    app: faust.App, base_s: float, max_s: float, what: str
) -> Callable[[Callable[[], object]], None]:
    """Register `job` (blocking; truthy when it found work) as a task of `app` run in rounds at
    a Pace."""

    def register(job: Callable[[], object]) -> None:
        async def rounds() -> None:
            await run_rounds(lambda: in_thread(job, what), Pace(base_s, max_s), what)

        rounds.__name__ = rounds.__qualname__ = job.__name__
        app.task(rounds)

    return register


async def run_rounds(round_: Callable[[], Awaitable[bool]], pace: Pace, what: str) -> None:
    """`round_` (truthy when it found work) forever at `pace`; a failed round is logged and
    counts as work (the next one comes at the base pace)."""
    while True:
        await asyncio.sleep(pace.wait_s)
        try:
            found = await round_()
        except Exception as exc:
            log.warning("%s failed (retried): %r", what, exc)
            found = True
        pace.after(found)
