"""The pure transform of the calls pipeline: a raw calls event -> ClickHouse `calls` rows.
The plaintext number stops here: only the ciphertext, the blind index and the mask go on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.accounts.directory import CompanyFacts
from core.calls.phone_numbers import mask_number, normalise_number
from core.number_crypto import blind_index, encrypt_number
from schemas.events import CallsRecorded, stable_call_id
from schemas.payloads import CallRecord
from streams.decoding import decode_event

CALL_COLUMNS = (
    "company_id",
    "device_id",
    "client_call_id",
    "call_id",
    "employee_id",
    "client_key",
    "number_enc",
    "number_masked",
    "name",
    "type",
    "started_at",
    "duration_s",
    "sim_slot",
    "note",
    "synced_at",
    "version",
)


def decode_calls_event(raw: bytes) -> CallsRecorded:
    return decode_event(CallsRecorded, raw)


def call_rows(event: CallsRecorded, company: CompanyFacts) -> list[tuple[Any, ...]]:
    synced_at = event.payload.synced_at.astimezone(UTC)
    return [call_row(event, call, synced_at, company) for call in event.payload.calls]


def call_row(
    event: CallsRecorded, call: CallRecord, synced_at: datetime, company: CompanyFacts
) -> tuple[Any, ...]:
    number = normalise_number(call.number, company.country)
    return (
        event.company_id,
        event.device_id,
        call.id,
        stable_call_id(event.company_id, event.device_id, call.id),
        event.employee_id,
        blind_index(company.keys, number) if number else "",
        encrypt_number(company.keys, number) if number else "",
        mask_number(number) if number else "",
        call.name or "",
        call.type.value,
        call.started_at.astimezone(UTC),
        call.duration_s,
        -1 if call.sim_slot is None else call.sim_slot,
        call.note or "",
        synced_at,
        # latest upload wins: microseconds of ingest's clock at acceptance
        int(synced_at.timestamp() * 1_000_000),
    )
