"""Consumer lag as the broker sees it: for each partition a worker holds, the records after its
group's committed offset (what a restart would read again or has still to read). Read with
kafka-python's admin client and a group-less consumer, like a lag exporter would, so the figure
does not depend on faust's internals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import faust
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from core.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)
Partition = tuple[str, int]


class LagProbe:
    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def _clients(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        if self._admin is None or self._consumer is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap, client_id=f"{self.group}-lag"
            )
            self._consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, client_id=f"{self.group}-lag", group_id=None
            )
        return self._admin, self._consumer

    def measure(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Records after the committed offset of each partition (after the first, when the
        group committed none: it starts from the earliest)."""
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        if not wanted:
            return {}
        admin, consumer = self._clients()
        try:
            committed = admin.list_consumer_group_offsets(self.group, partitions=wanted)
            ends = consumer.end_offsets(wanted)
            starts = consumer.beginning_offsets(wanted)
        except Exception:
            self.close()  # connect again next time
            raise
        lag = {}
        for tp in wanted:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else starts[tp]
            lag[(tp.topic, tp.partition)] = max(0, ends[tp] - offset)
        return lag

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                client.close()
        self._admin = self._consumer = None


def report_lag(app: faust.App, bootstrap: str, group: str, interval_s: float) -> None:
    """A timer of `app` setting `closecall_consumer_lag_records` for the partitions it holds
    (so workers of one group never report a partition twice) and dropping those it gave up."""
    probe = LagProbe(bootstrap, group)
    shown: set[Partition] = set()

    @app.timer(interval_s)
    async def measure_lag() -> None:
        nonlocal shown
        held = {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        try:
            lag = await asyncio.get_running_loop().run_in_executor(None, probe.measure, held)
        except Exception as exc:  # the broker is down: the figures stay as they were
            log.warning("consumer lag not measured: %r", exc)
            return
        for topic, partition in shown - lag.keys():
            CONSUMER_LAG.remove(group, topic, str(partition))
        for (topic, partition), records in lag.items():
            CONSUMER_LAG.labels(group, topic, str(partition)).set(records)
        shown = set(lag)
