"""The worker's delivery loop: due deliveries from the control plane, each sent in a task of
its own (bounded overall and per hook, so one slow or dead receiver holds only its own slots),
outcomes written back. Woken at once when new deliveries were recorded, else polls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from core.accounts.directory import CompanyDirectory
from core.clock import utc_now
from core.hooks.delivery import Due, Outcome, record_outcomes, render, take_due
from core.hooks.sender import Sender
from core.metrics import WEBHOOK_DELIVERIES, WEBHOOK_LATENCY
from core.number_crypto import decrypt_secret
from streams.pacing import Pace

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def observe_delivery(outcome: Outcome) -> None:
    WEBHOOK_DELIVERIES.labels(outcome.kind).inc()
    WEBHOOK_LATENCY.labels(outcome.kind).observe(outcome.duration_ms / 1000)


# an idle loop polls the database for due retries at most this many poll intervals apart
IDLE_POLLS = 5


class DeliveryLoop:
    def __init__(
        self,
        engine: Engine,
        companies: CompanyDirectory,
        sender: Sender,
        concurrency: int,
        per_hook: int,
        lease_s: float,
        poll_interval_s: float,
        retry_scale: float = 1.0,
        clock: Clock = utc_now,
        rand: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.companies = companies
        self.sender = sender
        self.concurrency = concurrency
        self.per_hook = per_hook
        self.lease_s = lease_s
        self.poll_interval_s = poll_interval_s
        self.retry_scale = retry_scale
        self.clock = clock
        self.rand = rand or random.Random()
        self.in_flight: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self.wake = asyncio.Event()
        self.outcomes: list[tuple[Due, Outcome]] = []
        self.recorder: asyncio.Task[None] | None = None
        # deliveries handed over by the fan-out (leased to this process), per hook, oldest first
        self.ready: dict[str, deque[Due]] = {}
        self.queued: set[tuple[str, str]] = set()
        self.polled_at = -float("inf")

    def submit(self, deliveries: list[Due]) -> None:
        """New deliveries to send at once, without reading them back from the database (their
        lease keeps other workers off them; a crash leaves them due when it ends)."""
        for due in deliveries:
            key = (due.hook_id, due.event_id)
            if key not in self.queued:
                self.queued.add(key)
                self.ready.setdefault(due.hook_id, deque()).append(due)
        if deliveries:
            self.wake.set()

    def take(self, limit: int) -> list[Due]:
        with self.engine.begin() as conn:
            return take_due(conn, self.clock(), self.lease_s, limit, self.in_flight, self.per_hook)

    def start(self, due: Due) -> None:
        self.in_flight[due.hook_id] += 1
        task = asyncio.create_task(self.deliver(due))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start_ready(self) -> int:
        """Handed-over deliveries, round robin over hooks, within both limits."""
        started = 0
        progress = True
        while progress and len(self.tasks) < self.concurrency:
            progress = False
            for hook_id in list(self.ready):
                if len(self.tasks) >= self.concurrency:
                    break
                if self.in_flight[hook_id] >= self.per_hook:
                    continue
                waiting = self.ready[hook_id]
                due = waiting.popleft()
                if not waiting:
                    del self.ready[hook_id]
                self.queued.discard((due.hook_id, due.event_id))
                self.start(due)
                started += 1
                progress = True
        return started

    async def run_once(self, poll: bool = True) -> int:
        """Start what there is room for: handed-over deliveries first, then (at most once per
        poll interval) due ones from the database -- retries, and leases of a worker that
        died. Returns how many started."""
        started = self.start_ready()
        room = self.concurrency - len(self.tasks)
        if room <= 0 or not poll:
            return started
        self.polled_at = time.monotonic()
        for due in await asyncio.to_thread(self.take, room):
            if (due.hook_id, due.event_id) not in self.queued:  # not already waiting here
                self.start(due)
                started += 1
        return started

    async def deliver(self, due: Due) -> None:
        try:
            keys = self.companies.cached_keys(due.company_id)
            if keys is None:
                keys = await asyncio.to_thread(self.companies.keys, due.company_id)
            body = render(due.event, due.numbers, keys)
            secret = decrypt_secret(keys, due.secret_enc)
            outcome = await self.sender.send(
                due.target_url, due.event_id, secret, body, pool=due.hook_id
            )
        except Exception as exc:  # never lose the attempt: it is recorded as failed
            log.exception("delivery %s of hook %s failed before sending", due.event_id, due.hook_id)
            outcome = Outcome(None, 0, f"not sent: {type(exc).__name__}")
        finally:
            self.in_flight[due.hook_id] -= 1
            if self.in_flight[due.hook_id] <= 0:
                del self.in_flight[due.hook_id]
        observe_delivery(outcome)
        # Outcomes are written in batches, one transaction each (a commit per delivery bounded
        # the loop at ~160/s on SQLite). Until then the delivery's lease keeps it from being
        # taken again; a crash before the write sends it again when the lease ends.
        self.outcomes.append((due, outcome))
        if self.recorder is None or self.recorder.done():
            self.recorder = asyncio.create_task(self.record_outcomes())

    async def record_outcomes(self) -> None:
        while self.outcomes:
            batch, self.outcomes = self.outcomes, []
            try:
                await asyncio.to_thread(self.record, batch)
            except Exception as exc:  # the control plane is down: keep them and try again
                log.warning("recording %d delivery outcomes: %r", len(batch), exc)
                self.outcomes = batch + self.outcomes
                await asyncio.sleep(1.0)
        self.wake.set()  # room for more

    def record(self, batch: list[tuple[Due, Outcome]]) -> None:
        with self.engine.begin() as conn:
            record_outcomes(conn, batch, self.clock(), self.rand, self.retry_scale)

    async def drain(self) -> None:
        """Wait for every delivery in flight and its outcome recorded (tests, shutdown)."""
        while self.tasks or (self.recorder is not None and not self.recorder.done()):
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
            if self.recorder is not None:
                await self.recorder

    async def run(self) -> None:
        """Forever: start what there is, then sleep until new deliveries arrive or the next
        poll; polls that find nothing stretch their interval up to IDLE_POLLS times."""
        pace = Pace(self.poll_interval_s, self.poll_interval_s * IDLE_POLLS)
        while True:
            polled = time.monotonic() - self.polled_at >= pace.wait_s
            try:
                started = await self.run_once(polled)
                if started or self.tasks:
                    pace.after(True)
                elif polled:
                    pace.after(False)
            except Exception as exc:  # the control plane is down: try again at the next tick
                log.warning("delivery loop: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), pace.wait_s)
            self.wake.clear()
