"""Kafka topics of the pipeline, their partitions and retention, and creating them if missing."""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from core.settings import Settings

log = logging.getLogger(__name__)


def topic_specs(settings: Settings) -> list[NewTopic]:
    """The pipeline's topics, each `CLOSECALL_TOPIC_REPLICATION` times over (with one copy
    allowed to lag: the producer's acks=all then means two brokers have a record)."""
    copies = settings.topic_replication
    durable = {"min.insync.replicas": str(max(1, copies - 1))} if copies > 1 else {}

    def topic(name: str, partitions: int, retention_ms: int) -> NewTopic:
        configs = {"retention.ms": str(retention_ms), **durable}
        return NewTopic(name, partitions, copies, topic_configs=configs)

    # Raw and dead-letter topics hold plaintext numbers: keep them only as long as a worker
    # outage may last (CLOSECALL_RAW_RETENTION_MS, default 24 h).
    short, week = settings.raw_retention_ms, 7 * 24 * 3600 * 1000
    return [
        topic(settings.topic_calls_raw, settings.topic_partitions, short),
        topic(settings.topic_dead_letter, 1, short),
        topic(settings.topic_contacts_raw, settings.topic_partitions, short),
        topic(settings.topic_call_notes, settings.topic_partitions, short),
        # integration events: numbers masked and encrypted only; a week, like device health
        topic(settings.topic_integration_events, settings.topic_partitions, week),
        # device health: no client numbers; kept a week for replays
        topic(settings.topic_device_status, settings.topic_partitions, week),
    ]


def ensure_topics(settings: Settings, create: bool = True) -> list[str]:
    """Create the pipeline's topics that do not exist yet (or, with `create=False`, only name
    them); returns the names missing."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000
        )
    except KafkaError as exc:
        raise RuntimeError(
            f"Kafka at {settings.kafka_bootstrap} is unreachable ({exc}); start the broker or "
            "fix CLOSECALL_KAFKA_BOOTSTRAP"
        ) from exc
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        for spec in missing if create else []:
            try:
                admin.create_topics([spec])
                log.info("kafka: created topic %s (%d partitions)", spec.name, spec.num_partitions)
            except TopicAlreadyExistsError:
                pass
        return [spec.name for spec in missing]
    finally:
        admin.close()
