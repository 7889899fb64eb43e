"""What the calls worker's processors (streams/sink.py) share: a raw topic's records -> rows of
one ClickHouse table (`TableProcessor`), ClickHouse's refusals isolated to the records that
caused them (streams/isolation.py), and the control-plane lookups each needs (`Lookups`: the
company, what its new rows must not hold). Each domain builds its own tables with them
(streams/calls/tables.py, streams/devices/tables.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.accounts.directory import CompanyDirectory, CompanyFacts, UnknownCompany
from core.clickhouse import ClickHouse
from core.metrics import CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_ROWS
from core.privacy.erasures import Dropped
from streams.companies import DroppedDirectory
from streams.decoding import UnprocessableRecord
from streams.isolation import Rows, insert_isolating
from streams.retry import until_success
from streams.sink import Event

Stored = Sequence[tuple[Event, Rows]]  # records ClickHouse has, each with its rows
AfterStore = Callable[[Stored], Awaitable[None]]


async def _nothing(_stored: Stored) -> None:
    return None


@dataclass(frozen=True, slots=True)
class TableProcessor:
    """Records -> rows of `name`, a ClickHouse table with `columns`."""

    name: str
    columns: tuple[str, ...]
    clickhouse: ClickHouse
    rows_of: Callable[[bytes], Awaitable[Rows]]
    after: AfterStore = field(default=_nothing)
    store_step: str = "clickhouse insert"

    async def decode(self, value: bytes) -> Rows:
        return await self.rows_of(value)

    async def store(self, batch: Sequence[tuple[Event, Rows]]) -> list[tuple[Event, str]]:
        return await insert_isolating(self._insert, batch)

    async def after_store(self, stored: Stored) -> None:
        await self.after(stored)

    async def _insert(self, rows: Rows) -> None:
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(
            None, self.clickhouse.insert, self.name, self.columns, rows
        )
        CLICKHOUSE_INSERT_LATENCY.labels(self.name).observe(time.perf_counter() - started)
        CLICKHOUSE_ROWS.labels(self.name).inc(len(rows))


@dataclass(frozen=True, slots=True)
class Lookups:
    """The control plane as the calls worker reads it, retried while it is down."""

    companies: CompanyDirectory
    drops: DroppedDirectory

    async def company(self, company_id: str) -> CompanyFacts:
        """An unknown company is unprocessable (a dead letter), not an outage."""
        try:
            return await until_success(
                "control-plane lookup", self._facts, company_id, permanent=(UnknownCompany,)
            )
        except UnknownCompany as exc:
            raise UnprocessableRecord(str(exc)) from exc

    async def _facts(self, company_id: str) -> CompanyFacts:
        return await asyncio.get_running_loop().run_in_executor(
            None, self.companies.facts, company_id
        )

    async def dropped(self, company_id: str) -> Dropped:
        return await until_success("control-plane lookup", self.drops.get, company_id)
