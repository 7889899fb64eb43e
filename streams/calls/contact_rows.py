"""Pure transforms of contacts and call notes into their ClickHouse rows. Contact numbers are
normalised and encrypted exactly like call numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.accounts.directory import CompanyFacts
from core.calls.phone_numbers import mask_number, normalise_number
from core.number_crypto import blind_index, encrypt_number
from schemas.events import CallNoted, ContactsReported

CONTACT_COLUMNS = (
    "company_id",
    "device_id",
    "employee_id",
    "contact_id",
    "name",
    "client_key",
    "number_enc",
    "number_masked",
    "photo_url",
    "synced_at",
    "version",
)
NOTE_COLUMNS = ("company_id", "device_id", "client_call_id", "note", "version")


def version_of(synced_at: datetime) -> int:
    return int(synced_at.timestamp() * 1_000_000)


def contact_rows(event: ContactsReported, company: CompanyFacts) -> list[tuple[Any, ...]]:
    synced_at = event.payload.synced_at.astimezone(UTC)
    rows = []
    for contact in event.payload.contacts:
        for raw in contact.numbers:
            number = normalise_number(raw, company.country)
            if number is None:
                continue
            rows.append(
                (
                    event.company_id,
                    event.device_id,
                    event.employee_id,
                    contact.id,
                    contact.name,
                    blind_index(company.keys, number),
                    encrypt_number(company.keys, number),
                    mask_number(number),
                    contact.photo_url or "",
                    synced_at,
                    version_of(synced_at),
                )
            )
    return rows


def note_row(event: CallNoted) -> tuple[Any, ...]:
    note = event.payload
    return (event.company_id, event.device_id, note.call_id, note.note, version_of(note.synced_at))
