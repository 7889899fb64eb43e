"""Consumer lag as the broker sees it: for each partition a worker holds, the records after its
group's committed offset (what a restart would read again or has still to read). Read with
kafka-python's admin client, like a lag exporter would, so the figure
does not depend on faust's internals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import faust
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec

from core.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)
Partition = tuple[str, int]


class LagProbe:
    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self._admin: KafkaAdminClient | None = None

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap, client_id=f"{self.group}-lag"
            )
        return self._admin

    def measure(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Records after the committed offset of each partition (after the first, when the
        group committed none: it starts from the earliest)."""
        wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
        if not wanted:
            return {}
        admin = self._client()
        try:
            committed = admin.list_group_offsets({self.group: wanted}).get(self.group, {})
            ends = admin.list_partition_offsets(dict.fromkeys(wanted, OffsetSpec.LATEST))
            starts = admin.list_partition_offsets(dict.fromkeys(wanted, OffsetSpec.EARLIEST))
        except Exception:
            self.close()  # connect again next time
            raise
        lag = {}
        for tp in wanted:
            done = committed.get(tp)
            offset = done.offset if done is not None and done.offset >= 0 else starts[tp].offset
            lag[(tp.topic, tp.partition)] = max(0, ends[tp].offset - offset)
        return lag

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self._admin = None


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
