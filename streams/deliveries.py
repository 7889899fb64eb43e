"""The worker's delivery loop: due deliveries from the control plane, each sent in a task of
its own (bounded overall and per hook, so one slow or dead receiver holds only its own slots),
outcomes written back. Woken at once when new deliveries were recorded, else polls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from core.controlplane import load_company
from core.hook_delivery import Due, Outcome, record_outcome, render, take_due
from core.hook_sender import Sender
from core.number_crypto import CompanyKeys, decrypt_secret, unwrap_company_keys

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeliveryLoop:
    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
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
        self.master_key = master_key
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
        self.keys: dict[str, CompanyKeys] = {}

    def company_keys(self, company_id: str) -> CompanyKeys:
        found = self.keys.get(company_id)
        if found is None:
            with self.engine.connect() as conn:
                company = load_company(conn, company_id)
            assert company is not None  # hooks and events belong to existing companies
            found = unwrap_company_keys(self.master_key, company.id, company.wrapped_data_key)
            self.keys[company_id] = found
        return found

    def take(self, limit: int) -> list[Due]:
        with self.engine.begin() as conn:
            return take_due(conn, self.clock(), self.lease_s, limit, self.in_flight, self.per_hook)

    async def run_once(self) -> int:
        """Start the due deliveries there is room for; returns how many."""
        room = self.concurrency - len(self.tasks)
        if room <= 0:
            return 0
        taken = await asyncio.to_thread(self.take, room)
        for due in taken:
            self.in_flight[due.hook_id] += 1
            task = asyncio.create_task(self.deliver(due))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(taken)

    async def deliver(self, due: Due) -> None:
        try:
            keys = await asyncio.to_thread(self.company_keys, due.company_id)
            body = render(due.event, due.numbers, keys)
            secret = decrypt_secret(keys, due.secret_enc)
            outcome = await self.sender.send(due.target_url, due.event_id, secret, body)
        except Exception as exc:  # never lose the attempt: it is recorded as failed
            log.exception("delivery %s of hook %s failed before sending", due.event_id, due.hook_id)
            outcome = Outcome(None, 0, f"not sent: {type(exc).__name__}")
        try:
            await asyncio.to_thread(self.finish, due, outcome)
        except Exception:  # the lease ends and the delivery is due again
            log.exception("recording delivery %s of hook %s", due.event_id, due.hook_id)
        finally:
            self.in_flight[due.hook_id] -= 1
            if self.in_flight[due.hook_id] <= 0:
                del self.in_flight[due.hook_id]
            self.wake.set()  # room for another

    def finish(self, due: Due, outcome: Outcome) -> None:
        with self.engine.begin() as conn:
            state = record_outcome(conn, due, outcome, self.clock(), self.rand, self.retry_scale)
        log.debug("delivery %s of hook %s: %s (%s)", due.event_id, due.hook_id, state, outcome)

    async def drain(self) -> None:
        """Wait for every delivery in flight (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the control plane is down: try again at the next tick
                log.warning("delivery loop: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.poll_interval_s)
            self.wake.clear()
