"""What ingest accepts, ClickHouse stores (both backends); what ClickHouse refuses is isolated to
its own records; inserts of different tables at once do not interfere (chDB)."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings

from core.accounts.directory import CompanyFacts
from core.clickhouse import ClickHouse
from core.number_crypto import new_wrapped_data_key, unwrap_company_keys
from schemas.events import CallNoted, CallsRecorded, ContactsReported, DeviceStatusReported
from schemas.payloads import (
    CallNote,
    CallRecord,
    CallsPayload,
    CallType,
    Contact,
    ContactsPayload,
    DeviceStatus,
    NotePayload,
)
from streams.calls.contact_rows import CONTACT_COLUMNS, NOTE_COLUMNS, contact_rows, note_row
from streams.calls.rows import CALL_COLUMNS, call_rows
from streams.devices.status_rows import STATUS_COLUMNS, status_row
from streams.isolation import insert_isolating
from tests.support.model_bounds import payloads_at_bounds

MASTER_KEY = os.urandom(32)
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def crypto(company_id: str) -> CompanyFacts:
    wrapped = new_wrapped_data_key(MASTER_KEY, company_id)
    return CompanyFacts(country="IN", keys=unwrap_company_keys(MASTER_KEY, company_id, wrapped))


def envelope(company_id: str) -> dict[str, Any]:
    return {"company_id": company_id, "device_id": "dev-1", "employee_id": "emp-1"}


def rows_of(company_id: str, payload: Any) -> tuple[str, tuple[str, ...], list[tuple[Any, ...]]]:
    """The worker's own transform of one accepted payload: table, columns, rows."""
    who = envelope(company_id)
    if isinstance(payload, DeviceStatus):
        event = DeviceStatusReported(occurred_at=NOW, received_at=NOW, **who, payload=payload)
        return "device_status", STATUS_COLUMNS, [status_row(event)]
    if isinstance(payload, CallRecord):
        calls = CallsRecorded(
            occurred_at=NOW, **who, payload=CallsPayload(synced_at=NOW, calls=[payload])
        )
        return "calls", CALL_COLUMNS, call_rows(calls, crypto(company_id))
    if isinstance(payload, Contact):
        contacts = ContactsReported(
            occurred_at=NOW, **who, payload=ContactsPayload(synced_at=NOW, contacts=[payload])
        )
        return "contacts", CONTACT_COLUMNS, contact_rows(contacts, crypto(company_id))
    assert isinstance(payload, CallNote)
    noted = NotePayload(synced_at=NOW, call_id="c-1", note=payload.note)
    return "call_notes", NOTE_COLUMNS, [note_row(CallNoted(occurred_at=NOW, **who, payload=noted))]


def stored(store: ClickHouse, table: str, company_id: str) -> int:
    rows = store.query(
        f"SELECT count() AS n FROM {table} WHERE company_id = %(c)s", {"c": company_id}
    )
    return int(rows[0]["n"])


# ORDER BY of each table after company_id (schemas/migrations/clickhouse)
REPLACING_KEYS = {
    "calls": ("device_id", "client_call_id"),
    "device_status": ("device_id", "reported_at"),
    "contacts": ("device_id", "contact_id", "client_key"),
    "call_notes": ("device_id", "client_call_id"),
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=payloads_at_bounds((DeviceStatus, CallRecord, Contact, CallNote)))
def test_whatever_ingest_accepts_inserts(clickhouse_store: ClickHouse, payload: Any) -> None:
    company_id = f"bounds-{uuid.uuid4().hex}"
    table, columns, rows = rows_of(company_id, payload)
    clickhouse_store.insert(table, columns, rows)
    # rows sharing a replacing table's key (a contact listing one number twice) may be merged
    key = [columns.index(name) for name in REPLACING_KEYS[table]]
    distinct_keys = len({tuple(row[i] for i in key) for row in rows})
    assert distinct_keys <= stored(clickhouse_store, table, company_id) <= len(rows)


def status(battery: int, **fields: Any) -> DeviceStatus:
    return DeviceStatus.model_construct(
        at=NOW + timedelta(seconds=battery), battery_pct=battery, charging=None, location=None, app_version=None,
        app_version_code=fields.get("app_version_code"), android_version=None, sdk_int=None,
        network=None, fcm_token=None, sims=None,
    )  # fmt: skip


def test_refused_records_are_isolated(clickhouse_store: ClickHouse) -> None:
    """A row no model would let through (planted with model_construct) is refused alone."""
    company_id = f"isolate-{uuid.uuid4().hex}"
    good = [status(n) for n in range(7)]
    poisoned = status(99, app_version_code=10**30)
    batch = [(f"r{n}", rows_of(company_id, s)[2]) for n, s in enumerate([*good[:3], poisoned])]
    batch += [(f"r{n + 4}", rows_of(company_id, s)[2]) for n, s in enumerate(good[3:])]

    async def insert(rows: list[tuple[Any, ...]]) -> None:
        clickhouse_store.insert("device_status", STATUS_COLUMNS, rows)

    refused = asyncio.run(insert_isolating(insert, batch))
    assert [record for record, _reason in refused] == ["r3"]
    assert "refused" in refused[0][1] and str(10**30) not in refused[0][1]
    assert stored(clickhouse_store, "device_status", company_id) == 7


def test_an_outage_is_no_refusal() -> None:
    async def down(_rows: list[tuple[Any, ...]]) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    try:
        asyncio.run(insert_isolating(down, [("r0", [(1,)]), ("r1", [(2,)])]))
    except ConnectionRefusedError:
        return
    raise AssertionError("an outage must reach the caller's retry, not become a dead letter")


SAMPLES: dict[str, Any] = {
    "calls": CallRecord(
        id="1", number="9123456789", type=CallType.INCOMING, started_at=NOW, duration_s=5
    ),
    "device_status": DeviceStatus(at=NOW, battery_pct=50, sims=[]),
    "contacts": Contact(id="1", name="A", numbers=["9123456789", "9123456780"]),
    "call_notes": CallNote(note="call back"),
}


def insert_side_by_side(store: ClickHouse, company_id: str, tables: tuple[str, ...]) -> list[Any]:
    """Each table written 30 times from its own thread, all starting at once; the errors."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(tables))

    def write(table: str) -> None:
        name, columns, rows = rows_of(company_id, SAMPLES[table])
        start.wait()
        try:
            for _ in range(30):
                store.insert(name, columns, rows)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(table,)) for table in tables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_inserts_of_every_table_pair(chdb_store: ClickHouse) -> None:
    for pair in itertools.combinations(SAMPLES, 2):
        company_id = f"pair-{uuid.uuid4().hex}"
        assert insert_side_by_side(chdb_store, company_id, pair) == [], pair
        for table in pair:  # replacing tables: the 30 copies may be one row
            assert stored(chdb_store, table, company_id) >= len(rows_of("x", SAMPLES[table])[2])


def test_times_at_the_bounds_are_storable() -> None:
    earliest = datetime(2000, 1, 1, tzinfo=UTC)
    for started in (earliest, NOW + timedelta(days=1)):
        CallRecord(id="1", type=CallType.MISSED, started_at=started, duration_s=0)
