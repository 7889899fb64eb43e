"""Loading reference calls into a real ClickHouse through the product's own transform
(validation -> event -> row), one fresh company per data set."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

from core.accounts.directory import CompanyFacts
from core.calls import day_clients
from core.calls.aggregates import keep, touched
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.number_crypto import new_wrapped_data_key, unwrap_company_keys
from core.reports.filters import CallFilter
from core.reports.range import ReportRange
from ingest.call_batches import validate_calls
from ingest.identity import DeviceIdentity
from streams.calls.rows import CALL_COLUMNS, call_rows, decode_calls_event
from tests.support.metrics_reference import RefCall

MASTER_KEY = os.urandom(32)
SYNC_START = datetime(2030, 1, 1, tzinfo=UTC)


def load(
    store: ClickHouse,
    uploads: list[RefCall],
    country: str = "IN",
    aggregates: bool = True,
    zone: str = "UTC",
) -> CompanyClickHouse:
    """Insert each upload in order (later uploads of a call win) for a new company, and keep
    the aggregates as the worker does (`aggregates`; not before their migration): quarters,
    days in the company's `zone`, client states and, midway, the days' unique clients."""
    company_id = str(uuid.uuid4())
    crypto = CompanyFacts(
        country=country,
        keys=unwrap_company_keys(
            MASTER_KEY, company_id, new_wrapped_data_key(MASTER_KEY, company_id)
        ),
    )
    rows = []
    for index, call in enumerate(uploads):
        device_id, phone_call_id = call.key
        device = DeviceIdentity(
            device_id=device_id,
            company_id=company_id,
            employee_id=call.employee,
            tracking_enabled=True,
        )
        record = {
            "id": phone_call_id,
            "number": call.client or "",
            "type": call.type,
            "started_at": call.started_at.isoformat(),
            "duration_s": call.duration_s,
        }
        if call.name:
            record["name"] = call.name
        batch = validate_calls([record], device, SYNC_START + timedelta(seconds=index))
        assert not batch.rejected, batch.rejected
        event = decode_calls_event(batch.events[0].model_dump_json().encode())
        rows.extend(call_rows(event, crypto))
    # several inserts, as the worker would make, so FINAL has parts to merge; after each, the
    # aggregates of the buckets it touched, as the worker keeps them
    for start in range(0, len(rows), 7):
        chunk = rows[start : start + 7]
        store.insert("calls", CALL_COLUMNS, chunk)
        for changed in touched(chunk, CALL_COLUMNS) if aggregates else ():
            keep(store, changed, zone)
        if aggregates and start <= len(rows) // 2 < start + 7:
            # the worker's round counts the days' and hours' unique clients midway: later
            # calls make some of those figures stale
            for kind in day_clients.KINDS:
                day_clients.recompute_stale(store, company_id, zone, 1000, kind)
    if not aggregates:
        return CompanyClickHouse(store, company_id)
    return CompanyClickHouse(store, company_id, day_zone=zone, client_states_from=0)


def report_filter(
    rng: ReportRange, employees: tuple[str, ...] = (), types: tuple[str, ...] = ()
) -> CallFilter:
    return CallFilter(range=rng, employee_ids=tuple(sorted(employees)), types=types)
