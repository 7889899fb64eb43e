"""The calls worker (faust): raw call events in batches -> rows -> ClickHouse, then ack and commit.

At-least-once with idempotent writes: a batch is acknowledged only after ClickHouse has its rows
and its dead letters are in Kafka; the ReplacingMergeTree table absorbs the replays a crash causes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import faust
from faust.types import EventT
from sqlalchemy.engine import Engine

from schemas.clickhouse import ClickHouse
from schemas.events import DeadLetter
from schemas.settings import Settings
from streams.call_rows import (
    CALL_COLUMNS,
    UnprocessableRecord,
    call_rows,
    decode_calls_event,
)
from streams.companies import CompanyDirectory
from streams.retry import until_success

log = logging.getLogger(__name__)


def create_worker(
    settings: Settings, engine: Engine, clickhouse: ClickHouse, master_key: bytes
) -> faust.App:
    app = faust.App(
        settings.worker_group,
        broker=f"kafka://{settings.kafka_bootstrap}",
        processing_guarantee="at_least_once",
        web_enabled=False,
        store="memory://",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.2,
        broker_commit_every=100,
        consumer_group_instance_id=settings.worker_instance_id,
        consumer_auto_offset_reset="earliest",
    )
    raw_calls = app.topic(settings.topic_calls_raw, value_type=bytes, value_serializer="raw")
    dead_letters = app.topic(settings.topic_dead_letter, value_type=bytes, value_serializer="raw")
    directory = CompanyDirectory(engine, master_key)

    async def rows_of(
        events: list[EventT[bytes]],
    ) -> tuple[list[tuple[Any, ...]], list[DeadLetter]]:
        rows, dead = [], []
        for event in events:
            try:
                calls = decode_calls_event(event.value)
                company = await until_success(
                    "control-plane lookup",
                    directory.get,
                    calls.company_id,
                    permanent=(UnprocessableRecord,),
                )
                rows.extend(call_rows(calls, company))
            except UnprocessableRecord as exc:
                message = event.message
                dead.append(
                    DeadLetter(
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                        reason=str(exc),
                        record=bytes(event.value).decode("utf-8", "replace"),
                    )
                )
        return rows, dead

    async def insert(rows: list[tuple[Any, ...]]) -> None:
        await asyncio.get_running_loop().run_in_executor(
            None, clickhouse.insert, "calls", CALL_COLUMNS, rows
        )

    async def publish_dead_letters(dead: list[DeadLetter]) -> None:
        for letter in dead:
            log.warning(
                "dead letter %s[%d]@%d: %s",
                letter.topic,
                letter.partition,
                letter.offset,
                letter.reason,
            )
            sent = await dead_letters.send(value=letter.model_dump_json().encode())
            await sent

    @app.agent(raw_calls, concurrency=1)
    async def store_calls(stream: faust.StreamT[bytes]) -> None:
        # noack_take lives on the concrete Stream and yields events (its annotation says values)
        batches = cast(faust.Stream[Any], stream).noack_take(
            settings.flush_max_records, within=settings.flush_interval_ms / 1000
        )
        async for batch in batches:
            events = cast(list[EventT[bytes]], batch)
            rows, dead = await rows_of(events)
            await until_success(f"ClickHouse insert into {clickhouse.url}", insert, rows)
            await until_success("dead-letter publish", publish_dead_letters, dead)
            for event in events:
                await stream.ack(event)
            await app.consumer.commit()
            log.debug("stored %d calls, %d dead letters", len(rows), len(dead))

    return app
