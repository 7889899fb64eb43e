"""Devices of a company: who carries them, their health and whether they went quiet; revoking
one and asking one to sync. The logic behind api/devices/routes.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from api.employees.service import Scope, in_scope, revoke_devices
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import devices, employees
from core.devices.health import push_sync
from core.devices.push import PushOutcome, SyncPusher
from core.devices.views import DeviceView, device_rows, device_views
from core.errors import Conflict, NotFound, Unavailable, UpstreamRefused


class DeviceList(BaseModel):
    items: list[DeviceView]
    stale_after_s: int


class SyncSent(BaseModel):
    status: str = Field(description="`sent`: FCM took the message")


def list_devices(
    db: Connection,
    ch: CompanyClickHouse,
    company_id: str,
    stale_after_s: int,
    revoked: bool,
    now: datetime,
    only: Scope = None,
) -> list[dict[str, Any]]:
    query = in_scope(device_rows(company_id), only)
    if not revoked:
        query = query.where(devices.c.revoked_at.is_(None))
    return device_views(
        db.execute(query.order_by(employees.c.name, devices.c.id)), ch.query, now, stale_after_s
    )


def revoke_device(
    db: Connection, company_id: str, device_id: str, now: datetime, only: Scope = None
) -> None:
    """A lost or replaced phone: its token stops working (within ingest's cache TTL); the
    phone can enrol again with a new code."""
    ids = sa.select(devices.c.id).where(
        devices.c.id == device_id,
        devices.c.company_id == company_id,
        *(() if only is None else (devices.c.employee_id.in_(only),)),
    )
    if db.execute(ids).first() is None:
        raise NotFound("not_found", f"no device {device_id}")
    revoke_devices(db, ids, now)


def live_push_token(
    db: Connection, company_id: str, device_id: str, pusher: SyncPusher, only: Scope = None
) -> str:
    device = db.execute(
        sa.select(devices.c.fcm_token, devices.c.fcm_token_invalid_at).where(
            devices.c.id == device_id,
            devices.c.company_id == company_id,
            *(() if only is None else (devices.c.employee_id.in_(only),)),
        )
    ).first()
    if device is None:
        raise NotFound("not_found", f"no device {device_id}")
    if not pusher.enabled:
        raise Unavailable(
            "push_disabled",
            "FCM is not configured on this server (CLOSECALL_FCM_CREDENTIALS_FILE)",
        )
    if not device.fcm_token or device.fcm_token_invalid_at is not None:
        raise Conflict(
            "no_push_token", "the device has no live FCM token; open the app on the phone"
        )
    token: str = device.fcm_token
    return token


def sync_device(
    engine: Engine, pusher: SyncPusher, device_id: str, token: str, now: datetime
) -> None:
    outcome = push_sync(engine, pusher, device_id, token, now)
    if outcome is PushOutcome.UNREGISTERED:
        raise Conflict("no_push_token", "FCM says the device's token is no longer registered")
    if outcome is not PushOutcome.SENT:
        raise UpstreamRefused("push_failed", "FCM did not take the message; try again later")
