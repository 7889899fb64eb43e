"""The pure transform of device status: a status event -> one ClickHouse `device_status` row,
and the control-plane facts it carries (FCM token, SIMs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from schemas.events import DeviceStatusReported
from streams.decoding import decode_event

STATUS_COLUMNS = (
    "company_id",
    "device_id",
    "employee_id",
    "reported_at",
    "received_at",
    "battery_pct",
    "charging",
    "has_location",
    "lat",
    "lon",
    "accuracy_m",
    "located_at",
    "app_version",
    "app_version_code",
    "android_version",
    "sdk_int",
    "network",
    "sims",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decode_status_event(raw: bytes) -> DeviceStatusReported:
    return decode_event(DeviceStatusReported, raw)


def sims_json(event: DeviceStatusReported) -> str:
    """SIMs without their phone numbers: the SIM's own number is not needed for attribution."""
    sims = event.payload.sims or []
    return json.dumps([{"slot": s.slot, "sim_id": s.sim_id, "carrier": s.carrier} for s in sims])


def status_row(event: DeviceStatusReported) -> tuple[Any, ...]:
    status, location = event.payload, event.payload.location
    return (
        event.company_id,
        event.device_id,
        event.employee_id,
        status.at.astimezone(UTC),
        event.received_at.astimezone(UTC),
        status.battery_pct,
        -1 if status.charging is None else int(status.charging),
        int(location is not None),
        location.lat if location else 0.0,
        location.lon if location else 0.0,
        (location.accuracy_m or 0.0) if location else 0.0,
        ((location.at or status.at) if location else EPOCH).astimezone(UTC),
        status.app_version or "",
        status.app_version_code or 0,
        status.android_version or "",
        status.sdk_int or 0,
        status.network or "",
        sims_json(event) if status.sims is not None else "",
    )
