"""The per-employee aggregates of the calls ClickHouse has just stored (the calls worker's first
after-store step, core/calls/aggregates.py): the quarters each batch touched, recomputed from
`calls FINAL` before the batch's offsets are committed. A failure retries the whole after-store
step (streams/sink.py); recomputing is idempotent, so a repeat writes the same rows."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from core.calls.aggregates import Excluded, Touched, recompute, touched
from core.clickhouse import ClickHouse
from core.metrics import CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_ROWS
from streams.calls.rows import CALL_COLUMNS
from streams.tables import AfterStore, Lookups, Stored


@dataclass(frozen=True, slots=True)
class QuarterKeeper:
    clickhouse: ClickHouse
    lookups: Lookups

    async def __call__(self, stored: Stored) -> None:
        rows = [row for _event, batch in stored for row in batch]
        for scope in touched(rows, CALL_COLUMNS):
            # what erasures drop counts nowhere, although its calls are still in `calls`
            dropped = await self.lookups.dropped(scope.company_id)
            excluded = Excluded(dropped.numbers, dropped.devices)
            await asyncio.get_running_loop().run_in_executor(None, self._recompute, scope, excluded)

    def _recompute(self, scope: Touched, excluded: Excluded) -> None:
        started = time.perf_counter()
        written = recompute(self.clickhouse, scope, excluded)
        CLICKHOUSE_INSERT_LATENCY.labels("call_quarters").observe(time.perf_counter() - started)
        CLICKHOUSE_ROWS.labels("call_quarters").inc(written)


def in_order(*steps: AfterStore) -> AfterStore:
    """One after-store step running `steps` one after the other."""

    async def run(stored: Stored) -> None:
        for step in steps:
            await step(stored)

    return run
