"""What the two faust workers share: the app's settings, dead letters and publishing records
to a topic (each awaited until Kafka has it)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import faust
from faust.sensors import Monitor
from faust.types import EventT, TopicT
from mode import Service

from core.metrics import DEAD_LETTERS
from core.settings import Settings
from schemas.events import DeadLetter, IntegrationEvents
from streams import fetch_backoff

log = logging.getLogger(__name__)


class QuietMonitor(Monitor):
    """faust's monitor without its once-a-second sampler, whose rates only faust's web views
    show: the workers serve none (`web_enabled=False`; their metrics are core/metrics.py), and
    an idle worker's loop need not wake for it."""

    @Service.task
    async def _sampler(self) -> None:
        return None


def faust_app(settings: Settings, group: str, instance_id: str, datadir: str) -> faust.App:
    # idle consumers sleep on brokers that answer empty fetches at once
    fetch_backoff.install(settings.fetch_idle_pause_max_ms / 1000)
    return faust.App(
        group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        processing_guarantee="at_least_once",
        web_enabled=False,
        Monitor=QuietMonitor,
        store="memory://",
        datadir=str(settings.data_dir / datadir),  # not the working directory
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=2.0,  # a third of the session timeout, as Kafka advises
        # each batch commits its own offsets once ClickHouse has it (app.consumer.commit()):
        # faust's timer only commits what is left, and waking it 5 times a second cost an
        # idle stack more than its consumers did
        broker_commit_interval=2.0,
        broker_commit_every=100,
        # Static group membership: a restarted worker takes its partitions back at once.
        consumer_group_instance_id=instance_id,
        consumer_auto_offset_reset="earliest",
        # Do not wait for a batch in progress on stop or rebalance: one retrying an outage would
        # hold the worker forever (SIGTERM ignored). Its offsets are not committed, so the
        # next owner reads it again and the replacing tables absorb the repeat.
        stream_wait_empty=False,
    )


def raw_topic(app: faust.App, name: str) -> TopicT:
    """A topic whose records the workers decode themselves (bytes as Kafka has them)."""
    return app.topic(name, value_type=bytes, value_serializer="raw")


def dead_letter(event: EventT[bytes], reason: str) -> DeadLetter:
    message = event.message
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        reason=reason,
        record=bytes(event.value).decode("utf-8", "replace"),
    )


class Publisher:
    """Records onto one topic; each call returns once Kafka has acknowledged them all."""

    def __init__(self, topic: TopicT) -> None:
        self.topic = topic

    async def records(self, records: Iterable[IntegrationEvents]) -> None:
        """Integration events, keyed by company (one company's events stay in order)."""
        sent = [
            await self.topic.send(
                key=record.company_id.encode(), value=record.model_dump_json().encode()
            )
            for record in records
            if record.events
        ]
        for future in sent:
            await future

    async def dead_letters(self, dead: Iterable[DeadLetter]) -> None:
        for letter in dead:
            DEAD_LETTERS.labels(letter.topic).inc()
            log.warning(
                "dead letter %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )
            await (await self.topic.send(value=letter.model_dump_json().encode()))
