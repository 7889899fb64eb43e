"""Control-plane facts from status reports: the latest FCM token and SIMs of each device.
Monotonic by report time, so a replayed older report never overwrites a newer one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.controlplane import devices
from schemas.events import DeviceStatusReported
from streams.devices.status_rows import decode_status_event, sims_json
from streams.tables import Stored


def update_device_facts(engine: Engine, reports: list[DeviceStatusReported]) -> None:
    latest: dict[str, DeviceStatusReported] = {}
    for report in reports:
        known = latest.get(report.device_id)
        if known is None or report.payload.at > known.payload.at:
            latest[report.device_id] = report
    with engine.begin() as conn:
        for device_id, report in latest.items():
            at = report.payload.at.astimezone(UTC)
            changes: dict[str, Any] = {"status_at": at}
            if report.payload.sims is not None:
                changes["sims"] = sims_json(report)
            if report.payload.fcm_token:
                changes["fcm_token"] = report.payload.fcm_token
                changes["fcm_token_invalid_at"] = None
            conn.execute(
                devices.update()
                .where(
                    devices.c.id == device_id,
                    sa.or_(devices.c.status_at.is_(None), devices.c.status_at < at),
                )
                .values(**changes)
            )


def device_facts_recorder(engine: Engine) -> Callable[[Stored], Awaitable[None]]:
    """The device-status table's after-store step: the facts of the statuses stored (each was
    decoded before, so it decodes again)."""

    async def record(stored: Stored) -> None:
        reports = [decode_status_event(event.value) for event, rows in stored if rows]
        await asyncio.get_running_loop().run_in_executor(None, update_device_facts, engine, reports)

    return record
