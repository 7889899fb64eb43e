"""The workers' one way from a topic to storage: batches of records -> decoded items -> stored
(what storage refuses set aside) -> after storing -> dead letters -> ack -> commit.

A `Processor` per topic says what a record means and where it goes (the shape of snuba's
processors and arroyo's steps); the `Sink` owns the order of the steps, which is the delivery
guarantee: a batch's offsets are committed only after its items are stored and its dead letters
are in Kafka, so a crash at any point reads the batch again (and the stores are idempotent:
replacing tables, deliveries keyed by event id). Every step is retried until it succeeds; only
records that can never be stored (undecodable, refused by ClickHouse) go to the dead letters.

`batches` takes records from a faust stream as faust's `noack_take` does, except that it waits
for the first record of a batch without a deadline: `noack_take` wakes every `within` seconds
while nothing arrives, and an idle stack paid that in every agent (BENCHMARKS.md "Idle")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import faust
from faust.types import EventT

from core.metrics import BATCH_RECORDS
from schemas.events import DeadLetter
from streams.decoding import UnprocessableRecord
from streams.faust_app import dead_letter
from streams.retry import until_success

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Event = EventT[bytes]


class Processor(Protocol[Item]):
    """What one topic's records mean and where they go."""

    @property
    def name(self) -> str:
        """What it stores (a metric label and the logs': no variable part)."""
        ...

    @property
    def store_step(self) -> str:
        """The retries' metric label of its store step."""
        ...

    async def decode(self, value: bytes) -> Item:
        """The record's item; UnprocessableRecord when it can never be one (a dead letter)."""
        ...

    async def store(self, batch: Sequence[tuple[Event, Item]]) -> list[tuple[Event, str]]:
        """Stores the items (idempotently: a batch can come again); answers the records that
        storage refused for good, with the reason. Raises on an outage (retried)."""
        ...

    async def after_store(self, stored: Sequence[tuple[Event, Item]]) -> None:
        """What follows once the items are stored, before the offsets are committed."""
        ...


@dataclass(frozen=True, slots=True)
class Sink(Generic[Item]):
    processor: Processor[Item]
    publish_dead_letters: Callable[[list[DeadLetter]], Awaitable[None]]
    commit: Callable[[], Awaitable[Any]]

    async def run(self, stream: faust.StreamT[bytes], max_records: int, within_s: float) -> None:
        async for events in batches(stream, max_records, within_s):
            await self.handle(events, stream.ack)

    async def handle(self, events: Sequence[Event], ack: Callable[[Event], Awaitable[Any]]) -> None:
        name = self.processor.name
        BATCH_RECORDS.labels(name).observe(len(events))
        decoded: list[tuple[Event, Item]] = []
        dead: list[DeadLetter] = []
        for event in events:
            try:
                decoded.append((event, await self.processor.decode(event.value)))
            except UnprocessableRecord as exc:
                dead.append(dead_letter(event, str(exc)))
        refused = await until_success(
            f"storing {name}", self.processor.store, decoded, step=self.processor.store_step
        )
        dead.extend(dead_letter(event, reason) for event, reason in refused)
        set_aside = {id(event) for event, _reason in refused}
        stored = [(event, item) for event, item in decoded if id(event) not in set_aside]
        if stored:
            await until_success(f"after storing {name}", self.processor.after_store, stored)
        await until_success("dead-letter publish", self.publish_dead_letters, dead)
        for event in events:
            await ack(event)
        await self.commit()
        log.debug("stored %d %s records, %d dead letters", len(stored), name, len(dead))


async def batches(
    stream: faust.StreamT[bytes], max_records: int, within_s: float
) -> AsyncIterator[list[Event]]:
    """Up to `max_records` events at a time, unacknowledged: the first waited for as long as it
    takes, the others for up to `within_s` after it. While a batch is being handled the stream
    fills the next one, up to `max_records` (then it waits: back-pressure)."""
    concrete: Any = stream  # the passive drain is faust's own (Stream.noack_take uses it)
    buffer: list[Event] = []
    arrived, full, room = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def add(value: bytes) -> bytes:
        while len(buffer) >= max_records:
            room.clear()
            await room.wait()
        event = concrete.current_event
        if event is None:
            raise RuntimeError("a faust stream processor ran without its event")
        buffer.append(event)
        arrived.set()
        if len(buffer) >= max_records:
            full.set()
        return value

    acks_were = concrete.enable_acks
    concrete.enable_acks = False  # the sink acknowledges each event once it is stored
    concrete.add_processor(add)
    concrete._enable_passive(aiter(concrete.channel))
    try:
        while not await concrete.wait_for_stopped(arrived):
            await concrete.wait_for_stopped(full, timeout=within_s)
            batch = buffer[:max_records]
            del buffer[: len(batch)]
            if len(buffer) < max_records:
                full.clear()
            if not buffer:
                arrived.clear()
            room.set()
            yield batch
    finally:
        concrete.enable_acks = acks_were
        concrete._processors.remove(add)
