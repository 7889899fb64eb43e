"""The devices domain's table for the calls worker: status reports -> `device_status` rows
(without withdrawn devices' rows)."""

from __future__ import annotations

from core.clickhouse import ClickHouse
from streams.companies import kept
from streams.devices.status_rows import STATUS_COLUMNS, decode_status_event, status_row
from streams.isolation import Rows
from streams.tables import AfterStore, Lookups, TableProcessor


def statuses_table(lookups: Lookups, clickhouse: ClickHouse, after: AfterStore) -> TableProcessor:
    async def rows_of(value: bytes) -> Rows:
        reported = decode_status_event(value)
        return kept([status_row(reported)], await lookups.dropped(reported.company_id))

    return TableProcessor("device_status", STATUS_COLUMNS, clickhouse, rows_of, after)
