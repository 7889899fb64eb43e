"""The hooks worker (faust, a process of its own beside the calls worker, which starts it):
integration events -> the delivery log -> signed deliveries; and the report API's outbox
(lead events) onto the integration topic.

Its own process because one process cannot do both at 500 calls/s on two cores: the calls
worker's faust and Kafka work took most of a core, and each delivery costs ~1 ms of httpx
(BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import faust
from sqlalchemy.engine import Engine

from core.accounts.directory import CompanyDirectory
from core.clock import utc_now
from core.hooks.delivery import Due
from core.hooks.events import record_events
from core.hooks.sender import Sender
from core.number_crypto import MasterKey
from core.settings import Settings
from schemas.events import IntegrationEvents
from streams.consumer_lag import report_lag
from streams.decoding import decode_event
from streams.faust_app import Publisher, faust_app, raw_topic
from streams.hooks.deliveries import DeliveryLoop
from streams.hooks.outbox import relay_outbox
from streams.sink import Event, Sink

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryRecorder:
    """Integration events -> one delivery per subscribed hook in the control plane (an event
    seen before makes none), each handed to the delivery loop at once (the control plane has
    it: no need to read it back)."""

    engine: Engine
    lease_s: float
    deliveries: DeliveryLoop
    name: str = "deliveries"
    store_step: str = "recording deliveries"

    async def decode(self, value: bytes) -> IntegrationEvents:
        return decode_event(IntegrationEvents, value)

    async def store(
        self, batch: Sequence[tuple[Event, IntegrationEvents]]
    ) -> list[tuple[Event, str]]:
        records = [record for _event, record in batch]
        made = await asyncio.get_running_loop().run_in_executor(None, self._record, records)
        self.deliveries.submit(made)
        return []

    async def after_store(self, stored: Sequence[tuple[Event, IntegrationEvents]]) -> None:
        return None

    def _record(self, records: list[IntegrationEvents]) -> list[Due]:
        with self.engine.begin() as conn:
            events = (event for record in records for event in record.events)
            return record_events(conn, events, utc_now(), self.lease_s)


def create_hooks_worker(settings: Settings, engine: Engine, master_key: MasterKey) -> faust.App:
    group = f"{settings.worker_group}-hooks"
    app = faust_app(
        settings,
        group,
        f"{settings.worker_instance_id}-hooks",
        "faust-hooks",
    )
    integration = raw_topic(app, settings.topic_integration_events)
    report_lag(app, settings.kafka_bootstrap, group, settings.lag_interval_s)
    publish = Publisher(integration)
    publish_dead_letters = Publisher(raw_topic(app, settings.topic_dead_letter))
    deliveries = DeliveryLoop(
        engine,
        CompanyDirectory(engine, master_key),
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

    sink: Sink[IntegrationEvents] = Sink(
        DeliveryRecorder(engine, settings.hook_lease_s, deliveries),
        publish_dead_letters.dead_letters,
        lambda: app.consumer.commit(),
    )

    @app.agent(integration, concurrency=1)
    async def record_deliveries(stream: faust.StreamT[bytes]) -> None:
        await sink.run(stream, settings.flush_max_records, settings.hook_flush_interval_ms / 1000)

    relay_outbox(app, engine, publish, settings.hook_poll_interval_s)

    @app.task
    async def deliver_hooks() -> None:
        await deliveries.run()

    return app
