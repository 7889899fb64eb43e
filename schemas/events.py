"""Kafka records: one versioned envelope for every topic, keyed by device."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, Field

from schemas.payloads import CallsPayload, ContactsPayload, DeviceStatus, NotePayload

CALL_ID_NAMESPACE = uuid.UUID("5b1f4a2e-8c0d-4f4e-9a53-0c7c2c1f6e11")


_NAMESPACE_BYTES = CALL_ID_NAMESPACE.bytes


def stable_call_id(company_id: str, device_id: str, client_call_id: str) -> str:
    """The call's id in our API: stable across re-uploads, unique per company. A UUIDv5 of
    company/device/phone id, computed without `uuid.UUID` objects (they cost twice the hash and
    the worker makes one per call); equal to `uuid.uuid5(CALL_ID_NAMESPACE, ...)`."""
    name = f"{company_id}/{device_id}/{client_call_id}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Calls travel in records of up to this many (100 * the largest valid call < 1 MB, Kafka's
# default message limit): one record per call made the worker's per-message cost the bound.
CALLS_PER_RECORD = 100
# Contacts likewise: 100 of the largest valid contacts are ~0.5 MB of plain text.
CONTACTS_PER_RECORD = 100


class DeviceEvent(BaseModel):
    """The envelope every device-originated record shares: which device of which company said
    it, when, under which event id; subclasses add `type` and `payload`."""

    version: Literal[1] = 1
    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime
    company_id: str
    device_id: str
    employee_id: str


class CallsRecorded(DeviceEvent):
    """Version 1 of the event on the raw calls topic: valid call-log entries of one upload."""

    type: Literal["calls.recorded"] = "calls.recorded"
    payload: CallsPayload


class DeviceStatusReported(DeviceEvent):
    """Version 1 of the event on the device status topic."""

    type: Literal["device.status"] = "device.status"
    received_at: datetime
    payload: DeviceStatus


class ContactsReported(DeviceEvent):
    """Version 1 of the event on the raw contacts topic (plaintext numbers: short retention)."""

    type: Literal["contacts.reported"] = "contacts.reported"
    payload: ContactsPayload


class CallNoted(DeviceEvent):
    """Version 1 of the event on the call notes topic: the latest note wins."""

    type: Literal["call.noted"] = "call.noted"
    payload: NotePayload


class DeadLetter(BaseModel):
    """A record the worker could not process, with why; the original bytes are kept as text."""

    type: Literal["dead_letter"] = "dead_letter"
    version: Literal[1] = 1
    topic: str
    partition: int
    offset: int
    reason: str
    record: str


HookEvent = Literal[
    "call.created",
    "call.missed",
    "lead.created",
    "lead.assigned",
    "device.stale",
    "followup.due",
    "followup.completed",
]
HOOK_EVENTS: tuple[HookEvent, ...] = get_args(HookEvent)
EVENT_ID_NAMESPACE = uuid.UUID("0d6f3c8e-2b7a-4f1e-8c55-3a9e7b4d2f10")


def integration_event_id(event: HookEvent, *about: str) -> str:
    """An event's id from what it is about (a call id, a lead and its assignment time): a
    replay or a re-upload yields the same id, so the delivery log drops it."""
    return "evt_" + uuid.uuid5(EVENT_ID_NAMESPACE, "/".join((event, *about))).hex


class IntegrationEvent(BaseModel):
    """One event for REST hooks. `data` is what API.md sends (numbers masked); `sealed` holds
    the ciphertext of each number field of `data` (by field name) for hooks with
    `numbers: e164`, decrypted only when a delivery is sent."""

    id: str
    type: HookEvent
    company_id: str
    occurred_at: datetime
    data: dict[str, Any]
    sealed: dict[str, str] = Field(default_factory=dict)
    # the blind indexes of its numbers: an erasure finds (and drops) the event by them
    numbers: list[str] = Field(default_factory=list)


class IntegrationEvents(BaseModel):
    """Version 1 of the record on the integration topic: events of one company, keyed by it."""

    type: Literal["integration.events"] = "integration.events"
    version: Literal[1] = 1
    company_id: str
    events: list[IntegrationEvent]
