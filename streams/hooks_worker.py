"""The hooks worker (faust, a process of its own beside the calls worker, which starts it):
integration events -> the delivery log -> signed deliveries; and the report API's outbox
(lead events) onto the integration topic.

Its own process because one process cannot do both at 500 calls/s on two cores: the calls
worker's faust and Kafka work took most of a core, and each delivery costs ~1 ms of httpx
(BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.types import EventT
from sqlalchemy.engine import Engine

from core.hook_delivery import Due
from core.hook_events import outbox_batch, record_events, relayed
from core.hook_sender import Sender
from core.number_crypto import MasterKey
from core.settings import Settings
from schemas.events import IntegrationEvents
from streams.consumer_lag import report_lag
from streams.decoding import UnprocessableRecord, decode_event
from streams.deliveries import IDLE_POLLS, DeliveryLoop
from streams.faust_app import Publisher, dead_letter, faust_app
from streams.pacing import Pace
from streams.retry import until_success

log = logging.getLogger(__name__)


def create_hooks_worker(settings: Settings, engine: Engine, master_key: MasterKey) -> faust.App:
    group = f"{settings.worker_group}-hooks"
    app = faust_app(
        settings,
        group,
        f"{settings.worker_instance_id}-hooks",
        "faust-hooks",
    )
    integration = app.topic(
        settings.topic_integration_events, value_type=bytes, value_serializer="raw"
    )
    report_lag(app, settings.kafka_bootstrap, group, settings.lag_interval_s)
    publish = Publisher(integration)
    publish_dead_letters = Publisher(
        app.topic(settings.topic_dead_letter, value_type=bytes, value_serializer="raw")
    )
    deliveries = DeliveryLoop(
        engine,
        master_key,
        Sender(
            settings.hook_timeout_s,
            settings.private_hooks_allowed,
            connections_per_target=settings.hook_per_target,
        ),
        concurrency=settings.hook_concurrency,
        per_hook=settings.hook_per_target,
        lease_s=settings.hook_lease_s,
        poll_interval_s=settings.hook_poll_interval_s,
        retry_scale=settings.hook_retry_scale,
    )

    def record(batch: list[IntegrationEvents]) -> list[Due]:
        with engine.begin() as conn:
            events = (event for record in batch for event in record.events)
            return record_events(conn, events, datetime.now(UTC), settings.hook_lease_s)

    @app.agent(integration, concurrency=1)
    async def record_deliveries(stream: faust.StreamT[bytes]) -> None:
        """Integration events -> one delivery per subscribed hook in the control plane (an
        event seen before makes none), handed to the delivery loop -> ack, commit."""
        batches = cast(faust.Stream[Any], stream).noack_take(
            settings.flush_max_records, within=settings.hook_flush_interval_ms / 1000
        )
        loop = asyncio.get_running_loop()
        async for batch in batches:
            events = cast(list[EventT[bytes]], batch)
            records, dead = [], []
            for event in events:
                try:
                    records.append(decode_event(IntegrationEvents, event.value))
                except UnprocessableRecord as exc:
                    dead.append(dead_letter(event, str(exc)))
            made = await until_success(
                "recording deliveries", loop.run_in_executor, None, record, records
            )
            await until_success("dead-letter publish", publish_dead_letters.dead_letters, dead)
            for event in events:
                await stream.ack(event)
            await app.consumer.commit()
            deliveries.submit(made)  # committed: sent now, without reading them back

    def outbox() -> list[IntegrationEvents]:
        with engine.connect() as conn:
            return outbox_batch(conn)

    def forget(records: list[IntegrationEvents]) -> None:
        with engine.begin() as conn:
            relayed(conn, records)

    @app.task
    async def relay_outbox() -> None:
        """The report API's events (leads), from its outbox onto the integration topic; each
        leaves the outbox once Kafka has it (a crash in between sends it again: same id). An
        empty outbox is read again less often, up to IDLE_POLLS poll intervals apart."""
        pace = Pace(settings.hook_poll_interval_s, settings.hook_poll_interval_s * IDLE_POLLS)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(pace.wait_s)
            try:
                records = await loop.run_in_executor(None, outbox)
                if records:
                    await publish.records(records)
                    await loop.run_in_executor(None, forget, records)
                pace.after(bool(records))
            except Exception as exc:  # tried again at the next tick
                log.warning("outbox relay failed: %r", exc)
                pace.after(True)

    @app.task
    async def deliver_hooks() -> None:
        await deliveries.run()

    return app
