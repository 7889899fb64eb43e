"""Idle consumers that sleep: a long poll for brokers that do not hold an empty fetch.

A Kafka broker holds a fetch that finds nothing for up to `fetch.max.wait.ms` (faust asks for
1.5 s), so an idle consumer sends about one request a second. noida-db, the broker of the local
stack and the tests, answers at once: an idle aiokafka consumer then sends ~5,000 fetches a
second and the worker, the hooks worker and the broker burn a core between them while nothing
happens (BENCHMARKS.md "Idle"). aiokafka has no setting for it, so its fetcher's request step
is wrapped (aiokafka is pinned, 0.14.0): a fetch that brought nothing back sooner than
EARLY_EMPTY_S is followed by a pause that doubles from 5 ms up to the longest pause (the setting
CLOSECALL_FETCH_IDLE_PAUSE_MAX_MS, 1 s by default; install() takes it) while fetches stay
empty, and starts over with the first records. On a broker that does hold empty fetches (Apache
Kafka, Tansu) an empty answer takes the full wait, so the pause never happens; under load every
fetch brings records, so it never happens either. What it costs: the first records after an
idle spell wait up to that pause more.

aiokafka's fetch routine also wakes every `consumer_timeout_ms` (200 ms) while its fetches
are out, though every event it waits for (a fetch's answer, records consumed, a rebalance, a
resumed partition) is a future it is woken by; faust cannot pass that setting, so the Fetcher
is built with FETCHER_TIMEOUT_S instead."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka.consumer import fetcher

EARLY_EMPTY_S = 0.1
FIRST_PAUSE_S = 0.005
FETCHER_TIMEOUT_S = 1.0
_longest_pause_s = 1.0  # install() sets it from the settings

_original = fetcher.Fetcher._proc_fetch_request
_original_init = fetcher.Fetcher.__init__


def _init_with_timeout(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **{**kwargs, "fetcher_timeout": FETCHER_TIMEOUT_S})


async def _fetch_with_backoff(self: Any, assignment: Any, node_id: int, request: Any) -> bool:
    started = time.monotonic()
    found: bool = await _original(self, assignment, node_id, request)
    pauses: dict[int, float] = self.__dict__.setdefault("_closecall_pauses", {})
    if found or time.monotonic() - started >= EARLY_EMPTY_S:
        pauses.pop(node_id, None)
        return found
    pause = pauses[node_id] = min(_longest_pause_s, pauses.get(node_id, FIRST_PAUSE_S / 2) * 2)
    # the node stays "in flight" meanwhile: no other fetch to it. A closing fetcher cancels
    # each pending fetch and awaits it unguarded, so a pause must end quietly (its answer is
    # already in), or the consumer's stop is cut short and the worker hangs ~8 s on its way out
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(pause)
    return found


def install(longest_pause_s: float) -> None:
    """Wrap aiokafka's fetch step and build its fetchers with FETCHER_TIMEOUT_S (once per
    process; the workers call it on start); an idle spell's pauses grow up to longest_pause_s."""
    global _longest_pause_s
    _longest_pause_s = longest_pause_s
    if fetcher.Fetcher._proc_fetch_request is _original:
        fetcher.Fetcher._proc_fetch_request = _fetch_with_backoff
        fetcher.Fetcher.__init__ = _init_with_timeout
