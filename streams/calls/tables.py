"""The calls domain's tables for the calls worker: calls, contacts and notes, each raw topic's
records -> rows without the rows of erased numbers and withdrawn devices."""

from __future__ import annotations

import asyncio

from core.calls.changes import notes_before_calls, record_notes
from core.clickhouse import ClickHouse
from schemas.events import CallNoted, ContactsReported
from streams.calls.contact_rows import CONTACT_COLUMNS, NOTE_COLUMNS, contact_rows, note_row
from streams.calls.rows import CALL_COLUMNS, call_rows, decode_calls_event
from streams.companies import kept
from streams.decoding import decode_event
from streams.isolation import Rows
from streams.tables import AfterStore, Lookups, Stored, TableProcessor

CALL_KEY_AT = CALL_COLUMNS.index("client_key")
CALL_AT = tuple(CALL_COLUMNS.index(name) for name in ("company_id", "device_id", "client_call_id"))
CONTACT_KEY_AT = CONTACT_COLUMNS.index("client_key")


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

    async def changes(stored: Stored) -> None:
        notes = [row for _event, rows in stored for row in rows]
        await asyncio.get_running_loop().run_in_executor(None, record_notes, clickhouse, notes)

    return TableProcessor("call_notes", NOTE_COLUMNS, clickhouse, rows_of, changes)


def note_catcher(clickhouse: ClickHouse) -> AfterStore:
    """After calls are stored: the changes of notes stored before them (core/calls/changes.py)."""

    async def catch(stored: Stored) -> None:
        calls = [tuple(row[at] for at in CALL_AT) for _event, rows in stored for row in rows]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, notes_before_calls, clickhouse, calls)

    return catch
