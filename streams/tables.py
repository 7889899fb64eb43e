"""The calls worker's processors (streams/sink.py): each raw topic's records -> rows of one
ClickHouse table, without the rows of erased numbers and withdrawn devices; ClickHouse's
refusals isolated to the records that caused them (streams/isolation.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.clickhouse import ClickHouse
from core.company_directory import CompanyDirectory, CompanyFacts, UnknownCompany
from core.erasures import Dropped
from core.metrics import CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_ROWS
from schemas.events import CallNoted, ContactsReported
from streams.call_rows import CALL_COLUMNS, call_rows, decode_calls_event
from streams.companies import DroppedDirectory, kept
from streams.contact_rows import CONTACT_COLUMNS, NOTE_COLUMNS, contact_rows, note_row
from streams.decoding import UnprocessableRecord, decode_event
from streams.isolation import Rows, insert_isolating
from streams.retry import until_success
from streams.sink import Event
from streams.status_rows import STATUS_COLUMNS, decode_status_event, status_row

Stored = Sequence[tuple[Event, Rows]]  # records ClickHouse has, each with its rows
AfterStore = Callable[[Stored], Awaitable[None]]
CALL_KEY_AT = CALL_COLUMNS.index("client_key")
CONTACT_KEY_AT = CONTACT_COLUMNS.index("client_key")


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


def calls_table(lookups: Lookups, clickhouse: ClickHouse, after: AfterStore) -> TableProcessor:
    async def rows_of(value: bytes) -> Rows:
        calls = decode_calls_event(value)
        rows = call_rows(calls, await lookups.company(calls.company_id))
        return kept(rows, await lookups.dropped(calls.company_id), CALL_KEY_AT)

    return TableProcessor("calls", CALL_COLUMNS, clickhouse, rows_of, after)


def contacts_table(lookups: Lookups, clickhouse: ClickHouse) -> TableProcessor:
    async def rows_of(value: bytes) -> Rows:
        reported = decode_event(ContactsReported, value)
        rows = contact_rows(reported, await lookups.company(reported.company_id))
        return kept(rows, await lookups.dropped(reported.company_id), CONTACT_KEY_AT)

    return TableProcessor("contacts", CONTACT_COLUMNS, clickhouse, rows_of)


def notes_table(lookups: Lookups, clickhouse: ClickHouse) -> TableProcessor:
    async def rows_of(value: bytes) -> Rows:
        noted = decode_event(CallNoted, value)
        return kept([note_row(noted)], await lookups.dropped(noted.company_id))

    return TableProcessor("call_notes", NOTE_COLUMNS, clickhouse, rows_of)


def statuses_table(lookups: Lookups, clickhouse: ClickHouse, after: AfterStore) -> TableProcessor:
    async def rows_of(value: bytes) -> Rows:
        reported = decode_status_event(value)
        return kept([status_row(reported)], await lookups.dropped(reported.company_id))

    return TableProcessor("device_status", STATUS_COLUMNS, clickhouse, rows_of, after)
