"""Producing to Kafka with kafka-python and awaiting the broker's acknowledgement (acks=all)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing may be reported as accepted."""


class AckingProducer:
    """One kafka-python producer per process; `send_all` returns once every record is acked."""

    def __init__(self, bootstrap: str, ack_timeout_ms: int) -> None:
        self._bootstrap = bootstrap
        self._ack_timeout_ms = ack_timeout_ms
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = KafkaProducer(
                        bootstrap_servers=self._bootstrap,
                        acks="all",
                        linger_ms=2,
                        batch_size=256 * 1024,
                        max_request_size=4 * 1024 * 1024,
                        max_block_ms=self._ack_timeout_ms,
                        request_timeout_ms=self._ack_timeout_ms,
                        delivery_timeout_ms=self._ack_timeout_ms + 1_000,
                        retry_backoff_ms=100,
                        reconnect_backoff_max_ms=1_000,
                    )
                except KafkaError as exc:
                    raise BrokerUnavailable(
                        f"Kafka at {self._bootstrap} is unreachable ({exc}); is the broker up? "
                        "(CLOSECALL_KAFKA_BOOTSTRAP)"
                    ) from exc
            return self._producer

    def _enqueue(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> list[Any]:
        producer = self._get()
        return [producer.send(topic, key=key, value=value) for key, value in records]

    async def send_all(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Produce (key, value) records; raise BrokerUnavailable unless all were acknowledged."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        try:
            futures = await loop.run_in_executor(None, self._enqueue, topic, records)
        except KafkaError as exc:
            raise BrokerUnavailable(
                f"Kafka at {self._bootstrap} did not take the batch: {exc}"
            ) from exc
        acked = [self._bridge(loop, future) for future in futures]
        timeout_s = self._ack_timeout_ms / 1000 + 2
        try:
            await asyncio.wait_for(asyncio.gather(*acked), timeout_s)
        except (KafkaError, TimeoutError) as exc:
            raise BrokerUnavailable(
                f"Kafka at {self._bootstrap} did not acknowledge the batch: {exc!r}"
            ) from exc

    @staticmethod
    def _bridge(loop: asyncio.AbstractEventLoop, kafka_future: Any) -> asyncio.Future[Any]:
        done: asyncio.Future[Any] = loop.create_future()

        def resolve(value: Any) -> None:
            if not done.done():
                done.set_result(value)

        def fail(error: BaseException) -> None:
            if not done.done():
                done.set_exception(error)

        kafka_future.add_callback(lambda meta: loop.call_soon_threadsafe(resolve, meta))
        kafka_future.add_errback(lambda err: loop.call_soon_threadsafe(fail, err))
        return done

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=5)
                self._producer = None
